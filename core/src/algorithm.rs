//! The HMAC algorithms of JWS (RFC 7518 §3.2), with constant-time verification.

use hmac::{Hmac, Mac};
use sha2::{Sha256, Sha384, Sha512};

use crate::AuthError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    HS256,
    HS384,
    HS512,
}

impl Algorithm {
    /// Parses a JOSE `alg` name. Names are case-sensitive (RFC 7515 §4.1.1).
    pub fn from_name(name: &str) -> Option<Algorithm> {
        match name {
            "HS256" => Some(Algorithm::HS256),
            "HS384" => Some(Algorithm::HS384),
            "HS512" => Some(Algorithm::HS512),
            _ => None,
        }
    }

    /// Like [`Algorithm::from_name`], with the error every SQL function raises for a bad name.
    pub fn parse(name: &str) -> Result<Algorithm, AuthError> {
        Algorithm::from_name(name).ok_or_else(|| {
            AuthError::InvalidParameter(format!(
                "unsupported algorithm \"{}\": expected HS256, HS384 or HS512",
                name.escape_debug()
                    .to_string()
                    .chars()
                    .take(32)
                    .collect::<String>()
            ))
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Algorithm::HS256 => "HS256",
            Algorithm::HS384 => "HS384",
            Algorithm::HS512 => "HS512",
        }
    }

    /// Length of the MAC, which is also the key length RFC 7518 §3.2 asks for.
    pub fn mac_len(self) -> usize {
        match self {
            Algorithm::HS256 => 32,
            Algorithm::HS384 => 48,
            Algorithm::HS512 => 64,
        }
    }

    pub fn sign(self, key: &[u8], data: &[u8]) -> Vec<u8> {
        match self {
            Algorithm::HS256 => mac::<Hmac<Sha256>>(key, data),
            Algorithm::HS384 => mac::<Hmac<Sha384>>(key, data),
            Algorithm::HS512 => mac::<Hmac<Sha512>>(key, data),
        }
    }

    /// Checks `tag` against the MAC of `data` in constant time (for tags of the right length).
    pub fn verify(self, key: &[u8], data: &[u8], tag: &[u8]) -> bool {
        if tag.len() != self.mac_len() {
            return false;
        }
        match self {
            Algorithm::HS256 => verify::<Hmac<Sha256>>(key, data, tag),
            Algorithm::HS384 => verify::<Hmac<Sha384>>(key, data, tag),
            Algorithm::HS512 => verify::<Hmac<Sha512>>(key, data, tag),
        }
    }
}

fn mac<M: Mac + hmac::digest::KeyInit>(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut m =
        <M as hmac::digest::KeyInit>::new_from_slice(key).expect("HMAC takes keys of any length");
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

fn verify<M: Mac + hmac::digest::KeyInit>(key: &[u8], data: &[u8], tag: &[u8]) -> bool {
    let mut m =
        <M as hmac::digest::KeyInit>::new_from_slice(key).expect("HMAC takes keys of any length");
    m.update(data);
    // `verify_slice` compares in constant time.
    m.verify_slice(tag).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// RFC 4231 test cases 1, 2 and 6, from the public vector file (core/vectors).
    #[test]
    fn rfc4231_vectors_sign_and_verify() {
        let v: serde_json::Value =
            serde_json::from_str(include_str!("../vectors/jwt_hmac_vectors.json")).unwrap();
        let cases = v["rfc4231"].as_array().unwrap();
        assert_eq!(cases.len(), 3);
        for case in cases {
            let key = hex(case["key_hex"].as_str().unwrap());
            let data = hex(case["data_hex"].as_str().unwrap());
            for (alg, field) in [
                (Algorithm::HS256, "hmac_sha256"),
                (Algorithm::HS384, "hmac_sha384"),
                (Algorithm::HS512, "hmac_sha512"),
            ] {
                let want = hex(case[field].as_str().unwrap());
                assert_eq!(alg.sign(&key, &data), want, "case {} {alg:?}", case["case"]);
                assert!(alg.verify(&key, &data, &want));
                let mut bad = want.clone();
                bad[0] ^= 1;
                assert!(!alg.verify(&key, &data, &bad));
                assert!(
                    !alg.verify(&key, &data, &want[..want.len() - 1]),
                    "short tag must fail"
                );
            }
        }
    }

    #[test]
    fn names_are_case_sensitive_and_closed() {
        assert_eq!(Algorithm::from_name("HS384"), Some(Algorithm::HS384));
        for bad in ["hs256", "none", "None", "RS256", "", "HS256 "] {
            assert!(Algorithm::from_name(bad).is_none(), "{bad}");
            assert_eq!(Algorithm::parse(bad).unwrap_err().sqlstate(), "22023");
        }
    }
}
