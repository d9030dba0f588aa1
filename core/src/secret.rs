//! The server key: decoding a configured secret and refusing keys too short for the algorithm.

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;

use crate::{Algorithm, AuthError};

/// Turns a configured secret into key bytes. With `is_base64` the secret is base64, standard or
/// URL-safe, padded or not (PostgREST's `jwt-secret-is-base64`); otherwise its UTF-8 bytes.
/// The key must be at least as long as the MAC (RFC 7518 §3.2: 32/48/64 bytes), as PostgREST
/// requires too: a shorter key would sign tokens PostgREST refuses.
pub fn server_key(
    secret: &str,
    is_base64: bool,
    alg: Algorithm,
    setting: &str,
) -> Result<Vec<u8>, AuthError> {
    let key = if is_base64 {
        let s = secret.trim();
        [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD]
            .iter()
            .find_map(|engine| engine.decode(s).ok())
            .ok_or_else(|| {
                AuthError::Config(format!(
                    "{setting} is not valid base64 (its _is_base64 setting is on)"
                ))
            })?
    } else {
        secret.as_bytes().to_vec()
    };
    if key.len() < alg.mac_len() {
        return Err(AuthError::Config(format!(
            "the JWT key from {setting} is {} bytes; {} needs at least {}",
            key.len(),
            alg.name(),
            alg.mac_len()
        )));
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_and_base64_keys() {
        let raw = "0123456789abcdef0123456789abcdef";
        assert_eq!(
            server_key(raw, false, Algorithm::HS256, "auth.jwt_secret").unwrap(),
            raw.as_bytes()
        );
        // 32 bytes of 0xfb: standard and URL-safe alphabets both accepted.
        let std = "+/v7+/v7+/v7+/v7+/v7+/v7+/v7+/v7+/v7+/v7+/s=";
        let url = "-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_s";
        assert_eq!(
            server_key(std, true, Algorithm::HS256, "s").unwrap().len(),
            32
        );
        assert_eq!(
            server_key(std, true, Algorithm::HS256, "s").unwrap(),
            server_key(url, true, Algorithm::HS256, "s").unwrap()
        );
    }

    #[test]
    fn short_or_undecodable_keys_are_refused() {
        let e = server_key("short", false, Algorithm::HS256, "auth.jwt_secret").unwrap_err();
        assert_eq!(e.sqlstate(), "22023");
        assert!(e.message().contains("5 bytes"), "{e}");
        assert!(
            !e.message().contains("short"),
            "the key itself is never in the message"
        );
        let k32 = "0123456789abcdef0123456789abcdef";
        assert!(server_key(k32, false, Algorithm::HS384, "s").is_err());
        assert!(server_key("not base64 at all!!", true, Algorithm::HS256, "s").is_err());
    }
}
