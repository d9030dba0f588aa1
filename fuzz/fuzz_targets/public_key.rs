//! Public-key import (`keys::parse_public_key`, PEM or JWK) and the opening of sealed keys
//! (`keys::open`), on arbitrary text and bytes.
//!
//! Invariants: an accepted key is an ES256, EdDSA or RS256 verifying key whose public JWK and
//! RFC 7638 thumbprint can be computed, and whose JWK, imported again, gives the same key (same
//! thumbprint, same algorithm, the kid kept); a PEM never yields a kid; a zero signature never
//! verifies. A refusal is `InvalidParameter` (22023) whose message carries no run of 33 or more
//! base64 characters: names it quotes are cut to 32 characters, so no key text is echoed.
//! Opening arbitrary bytes fails with the one fixed message, or (for nothing we sealed) succeeds
//! without panicking.
#![no_main]

use auth_core::keys::{self, JwsAlg};
use auth_core::AuthError;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fn longest_base64_run(text: &str) -> usize {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || "+/=_-".contains(c)))
        .map(str::len)
        .max()
        .unwrap_or(0)
}

fuzz_target!(|data: &[u8]| {
    if let Err(e) = keys::open(b"fuzz kek", b"kid/ES256", data) {
        assert_eq!(e.sqlstate(), "22023");
        assert!(e.message().starts_with("a signing key cannot be decrypted"));
    }

    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match keys::parse_public_key(text) {
        Ok((key, kid)) => {
            let alg = key.alg();
            assert!(matches!(alg, JwsAlg::ES256 | JwsAlg::EdDSA | JwsAlg::RS256));
            match alg {
                JwsAlg::RS256 => assert!((256..=1024).contains(&key.signature_len())),
                _ => assert_eq!(key.signature_len(), 64),
            }
            if text.trim_start().starts_with("-----") {
                assert_eq!(kid, None, "a PEM has no kid");
            }
            assert!(!key.verify(b"signing input", &vec![0u8; key.signature_len()]));
            let thumbprint = key.thumbprint();
            assert_eq!(thumbprint.len(), 43);
            let kid_text = kid.clone().unwrap_or_else(|| "fuzz".into());
            let jwk = key.public_jwk(&kid_text).expect("a public key has a JWK");
            assert_eq!(jwk["alg"], alg.name());
            let (again, again_kid) = keys::parse_public_key(&Value::Object(jwk).to_string())
                .unwrap_or_else(|e| panic!("our own JWK is refused: {e}"));
            assert_eq!(again.thumbprint(), thumbprint);
            assert_eq!(again.alg(), alg);
            assert_eq!(again_kid.as_deref(), Some(kid_text.as_str()));
        }
        Err(e) => {
            assert!(matches!(e, AuthError::InvalidParameter(_)), "{e:?}");
            let message = e.message();
            assert!(message.len() < 300, "{message}");
            assert!(longest_base64_run(&message) <= 32, "{message}");
        }
    }
});
