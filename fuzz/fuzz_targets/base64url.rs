//! base64url codecs (`base64url::encode`, `decode_strict`, `decode_lenient`) and the server-key
//! decoder (`secret::server_key`), on arbitrary bytes and text.
//!
//! Invariants: encode output is unpadded URL-safe base64 of the right length, and both decoders
//! invert it; a string either decoder accepts is the canonical encoding of what it decoded (so one
//! byte string has one spelling: no padding in strict mode, no stray trailing bits, no other
//! alphabet); a server key is refused when shorter than the MAC, with a fixed message that
//! cannot echo it.
#![no_main]

use auth_core::{base64url, secret, Algorithm};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Bytes -> text -> bytes.
    let enc = base64url::encode(data);
    assert_eq!(enc.len(), (data.len() * 4).div_ceil(3));
    assert!(enc
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    assert_eq!(base64url::decode_strict(&enc).as_deref(), Some(data));
    assert_eq!(base64url::decode_lenient(&enc).as_deref(), Some(data));
    let padding = (4 - enc.len() % 4) % 4;
    let padded = format!("{enc}{}", "=".repeat(padding));
    assert_eq!(base64url::decode_lenient(&padded).as_deref(), Some(data));
    if padding > 0 {
        assert_eq!(
            base64url::decode_strict(&padded),
            None,
            "strict takes no padding"
        );
    }

    // Text -> bytes: only canonical spellings are accepted.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(bytes) = base64url::decode_strict(text) {
        assert_eq!(base64url::encode(&bytes), text);
    }
    if let Some(bytes) = base64url::decode_lenient(text) {
        assert_eq!(base64url::encode(&bytes), text.trim_end_matches('='));
        assert!(!text.trim_end_matches('=').contains('='));
    }

    // Server keys from configured text, raw or base64.
    for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
        for is_base64 in [false, true] {
            match secret::server_key(text, is_base64, alg, "auth.jwt_secret") {
                Ok(key) => {
                    assert!(key.len() >= alg.mac_len());
                    if !is_base64 {
                        assert_eq!(key, text.as_bytes());
                    }
                }
                Err(e) => {
                    // The message is one of two fixed templates: nothing of the secret but its
                    // length can be in it.
                    assert_eq!(e.sqlstate(), "22023");
                    let templates = [
                        "auth.jwt_secret is not valid base64 (its _is_base64 setting is on)"
                            .to_string(),
                        format!(
                            "the JWT key from auth.jwt_secret is {} bytes; {} needs at least {}",
                            if is_base64 {
                                e.message()
                                    .split(' ')
                                    .nth(6)
                                    .and_then(|n| n.parse::<usize>().ok())
                                    .filter(|n| *n < alg.mac_len())
                                    .unwrap_or(usize::MAX)
                            } else {
                                text.len()
                            },
                            alg.name(),
                            alg.mac_len()
                        ),
                    ];
                    assert!(templates.contains(&e.message()), "{e}");
                }
            }
        }
    }
});
