//! base64url (RFC 4648 §5): no padding on output; strict on input.

use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;

pub fn encode(data: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(data)
}

/// Decodes unpadded base64url, rejecting padding, other alphabets and non-canonical trailing bits
/// (so that one signature has exactly one encoding).
pub fn decode_strict(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}

/// Decodes base64url with or without `=` padding, as pgjwt's `url_decode` does.
pub fn decode_lenient(text: &str) -> Option<Vec<u8>> {
    if text.contains('=') {
        URL_SAFE.decode(text).ok()
    } else {
        URL_SAFE_NO_PAD.decode(text).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4648_vectors_without_padding() {
        for (plain, enc) in [
            ("", ""),
            ("f", "Zg"),
            ("fo", "Zm8"),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg"),
            ("fooba", "Zm9vYmE"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(encode(plain.as_bytes()), enc);
            assert_eq!(decode_strict(enc).unwrap(), plain.as_bytes());
            assert_eq!(decode_lenient(enc).unwrap(), plain.as_bytes());
        }
        assert_eq!(encode(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn strict_rejects_padding_alphabet_and_trailing_bits() {
        for bad in ["Zg==", "Zm9v+A", "Zm9v/A", "Z", "Zm9v Yg", "Zh"] {
            assert!(decode_strict(bad).is_none(), "{bad}");
        }
        assert_eq!(decode_lenient("Zg==").unwrap(), b"f");
        assert!(decode_lenient("Z===").is_none());
        assert!(decode_lenient("a+b/").is_none());
    }
}
