//! Opaque credentials: refresh tokens and API keys. Both are 256 random bits from the OS CSPRNG,
//! shown once, stored only as their SHA-256.

use sha2::{Digest, Sha256};

use crate::{base64url, AuthError};

/// Every API key starts with this, so that people and secret scanners recognise one.
pub const API_KEY_PREFIX: &str = "pgauth_";
/// How much of a key is kept in clear to tell keys apart in listings.
pub const API_KEY_DISPLAY_LEN: usize = API_KEY_PREFIX.len() + 6;
const RANDOM_BYTES: usize = 32;
const ENCODED_LEN: usize = 43; // base64url of 32 bytes, unpadded

fn random_text() -> Result<String, AuthError> {
    let mut bytes = [0u8; RANDOM_BYTES];
    getrandom::fill(&mut bytes)
        .map_err(|e| AuthError::Internal(format!("the OS random generator failed: {e}")))?;
    Ok(base64url::encode(&bytes))
}

/// A new refresh token: 43 base64url characters carrying 256 bits.
pub fn new_refresh_token() -> Result<String, AuthError> {
    random_text()
}

/// A kid for a new HMAC key: 128 random bits (a thumbprint, the kid of the other keys, would
/// be a digest of the secret).
pub fn new_key_id() -> Result<String, AuthError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)
        .map_err(|e| AuthError::Internal(format!("the OS random generator failed: {e}")))?;
    Ok(base64url::encode(&bytes))
}

/// A new API key: `pgauth_` followed by 43 base64url characters carrying 256 bits.
pub fn new_api_key() -> Result<String, AuthError> {
    Ok(format!("{API_KEY_PREFIX}{}", random_text()?))
}

/// The clear part of a key kept for display.
pub fn api_key_display_prefix(key: &str) -> &str {
    let end = key
        .char_indices()
        .nth(API_KEY_DISPLAY_LEN)
        .map_or(key.len(), |(i, _)| i);
    &key[..end]
}

fn is_b64url_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// Cheap shape checks, so that garbage never costs a lookup.
pub fn looks_like_refresh_token(t: &str) -> bool {
    t.len() == ENCODED_LEN && t.bytes().all(is_b64url_char)
}

/// The shape of a key `auth` made itself: `pgauth_` and 43 base64url characters.
pub fn is_own_api_key(k: &str) -> bool {
    k.strip_prefix(API_KEY_PREFIX)
        .is_some_and(looks_like_refresh_token)
}

/// The lengths of an API key `auth` accepts: its own keys (50 characters) and imported keys of
/// other formats, such as 32 to 128 hex digits. The floor keeps out keys too short to resist
/// guessing whatever their alphabet; what an imported key's characters are worth, `auth` cannot
/// know.
pub const API_KEY_MIN_LEN: usize = 20;
pub const API_KEY_MAX_LEN: usize = 256;

/// The one rule for what can be an API key, imported or presented: 20 to 256 printable ASCII
/// characters without space (`%x21-7E`). Every key `auth` makes has this shape; text of any other
/// shape is refused without a lookup.
pub fn looks_like_api_key(k: &str) -> bool {
    (API_KEY_MIN_LEN..=API_KEY_MAX_LEN).contains(&k.len())
        && k.bytes().all(|b| (0x21..=0x7E).contains(&b))
}

/// Refuses an imported key of another shape than [`looks_like_api_key`] (22023; the message
/// never contains the key).
pub fn check_imported_api_key(k: &str) -> Result<(), AuthError> {
    if looks_like_api_key(k) {
        Ok(())
    } else {
        Err(AuthError::InvalidParameter(format!(
            "key must be {API_KEY_MIN_LEN} to {API_KEY_MAX_LEN} printable ASCII characters without spaces"
        )))
    }
}

/// How much of an imported key is kept in clear: 4 characters (a short key must not lose much of
/// its secret to listings); a key of `auth`'s own shape keeps its usual prefix.
pub const IMPORTED_KEY_DISPLAY_LEN: usize = 4;

/// The clear part of an imported key kept for display.
pub fn imported_key_display_prefix(key: &str) -> &str {
    if is_own_api_key(key) {
        return api_key_display_prefix(key);
    }
    let end = key
        .char_indices()
        .nth(IMPORTED_KEY_DISPLAY_LEN)
        .map_or(key.len(), |(i, _)| i);
    &key[..end]
}

/// What is stored instead of the credential.
pub fn sha256(data: &[u8]) -> Vec<u8> {
    Sha256::digest(data).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_tokens_are_256_bit_and_distinct() {
        let a = new_refresh_token().unwrap();
        let b = new_refresh_token().unwrap();
        assert_ne!(a, b);
        assert!(looks_like_refresh_token(&a));
        assert_eq!(base64url::decode_strict(&a).unwrap().len(), 32);
    }

    #[test]
    fn api_keys_have_prefix_and_shape() {
        let k = new_api_key().unwrap();
        assert!(k.starts_with("pgauth_"));
        assert!(is_own_api_key(&k) && looks_like_api_key(&k));
        assert_eq!(api_key_display_prefix(&k).len(), 13);
        for bad in [
            "",
            "pgauth_",
            "pgauth_short",
            "xxauth_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            &format!("{k}x"),
            &k.replace('_', "+"),
        ] {
            assert!(!is_own_api_key(bad), "{bad}");
        }
        assert_eq!(api_key_display_prefix("pg"), "pg");
        assert_eq!(api_key_display_prefix("pgauth_€€€€€€€€"), "pgauth_€€€€€€");
    }

    #[test]
    fn imported_keys() {
        let hex48 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822c";
        for good in [
            hex48,
            &"a".repeat(20),
            &"f".repeat(128),
            &"~".repeat(256),
            "sk_live_!#$%&'()*+,-./:;<=>?@[]^`{|}",
            &new_api_key().unwrap(),
        ] {
            assert!(looks_like_api_key(good), "{good}");
            assert!(check_imported_api_key(good).is_ok());
        }
        for bad in [
            "",
            &"a".repeat(19),
            &"a".repeat(257),
            "aaaaaaaaaa aaaaaaaaaa",
            "aaaaaaaaaaaaaaaaaaaa\n",
            "aaaaaaaaaaaaaaaaaaaé",
            "aaaaaaaaaaaaaaaaaaa\u{7f}",
            "\taaaaaaaaaaaaaaaaaaaa",
        ] {
            assert!(!looks_like_api_key(bad), "{bad:?}");
            let e = check_imported_api_key(bad).unwrap_err();
            assert_eq!(e.sqlstate(), "22023");
            assert_eq!(
                e.message(),
                "key must be 20 to 256 printable ASCII characters without spaces"
            );
        }
        assert_eq!(imported_key_display_prefix(hex48), "9f86");
        let k = new_api_key().unwrap();
        assert_eq!(imported_key_display_prefix(&k), api_key_display_prefix(&k));
    }

    #[test]
    fn sha256_known_vector() {
        // FIPS 180-2 "abc"
        let h = sha256(b"abc");
        assert_eq!(h[..4], [0xba, 0x78, 0x16, 0xbf]);
        assert_eq!(h[28..], [0xf2, 0x00, 0x15, 0xad]);
    }
}
