//! JWS compact serialization (RFC 7515 §7.1).
//!
//! `decode` checks structure only; `verify_signature` checks `alg` against the HMAC algorithm the
//! caller pinned and the MAC; `verify_with` does the same for any key of [`crate::keys`] (HMAC,
//! ES256, EdDSA, RS256). Claims (time, audience, issuer) are checked in [`crate::claims`].

use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::error::Rejection;
use crate::keys::{SigningKey, VerifyingKey};
use crate::{base64url, Algorithm};

/// Tokens longer than this are refused before any decoding. 16 KiB is twice the header size
/// nginx and most proxies accept by default, far above any token this extension issues.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// A structurally valid token, not yet authenticated.
#[derive(Debug)]
pub struct Decoded {
    pub header: Map<String, Value>,
    pub payload: Map<String, Value>,
    /// The payload's JSON text exactly as signed, for callers that want it untouched.
    pub header_json: String,
    pub payload_json: String,
    signing_input_len: usize,
    signature: Vec<u8>,
}

/// The error [`UniqueNames`] stops with; it names no member (a token's text is never echoed).
pub(crate) const DUPLICATE_NAME: &str = "duplicate member name";

/// Reads one JSON value as `serde_json::Value` does — the same numbers, strings and member order —
/// in a single pass that notes whether any object, at any depth, names a member twice (names
/// compared after unescaping, as `Map` keys are: `"a"` and `"\u0061"` are the same name). The
/// whole text is read either way, so a text that is not JSON is never reported as a duplicate.
#[derive(Clone, Copy)]
struct StrictValue<'a> {
    duplicate: &'a std::cell::Cell<bool>,
}

impl<'de> DeserializeSeed<'de> for StrictValue<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StrictValue<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element_seed(self)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut members = Map::new();
        while let Some(name) = map.next_key::<String>()? {
            let value = map.next_value_seed(self)?;
            if members.insert(name, value).is_some() {
                self.duplicate.set(true);
            }
        }
        Ok(Value::Object(members))
    }
}

/// Parses `json` as one JSON value, refusing duplicate member names (the error says which) once
/// the whole text has parsed.
pub(crate) fn parse_strict(json: &str) -> Result<Value, serde_json::Error> {
    let duplicate = std::cell::Cell::new(false);
    let mut de = serde_json::Deserializer::from_str(json);
    let value = StrictValue {
        duplicate: &duplicate,
    }
    .deserialize(&mut de)?;
    de.end()?;
    if duplicate.get() {
        return Err(de::Error::custom(DUPLICATE_NAME));
    }
    Ok(value)
}

fn segment_json(
    segment: &str,
    what: &'static str,
) -> Result<(String, Map<String, Value>), Rejection> {
    let header = what == "header";
    let bytes = base64url::decode_strict(segment).ok_or(Rejection::Malformed(if header {
        "header is not base64url"
    } else {
        "payload is not base64url"
    }))?;
    let text = String::from_utf8(bytes).map_err(|_| {
        Rejection::Malformed(if header {
            "header is not UTF-8"
        } else {
            "payload is not UTF-8"
        })
    })?;
    // `Map` keeps the last of two same-named members, other parsers the first or both: refused
    // rather than read one way here and another downstream (RFC 7515 §4, §5.2; RFC 7519 §4).
    match parse_strict(&text) {
        Ok(Value::Object(map)) => Ok((text, map)),
        Err(e) if e.to_string().starts_with(DUPLICATE_NAME) => {
            Err(Rejection::Malformed(if header {
                "header has a duplicate member name"
            } else {
                "payload has a duplicate member name"
            }))
        }
        _ => Err(Rejection::Malformed(if header {
            "header is not a JSON object"
        } else {
            "payload is not a JSON object"
        })),
    }
}

/// Splits and decodes a compact JWS, refusing anything that is not exactly
/// `base64url(JSON object) . base64url(JSON object) . base64url(bytes)`, with these strictness
/// rules for every caller (strict `jwt_verify` and the pgjwt API alike):
///
/// - an object that names a member twice is refused, in the header or the payload and at any
///   depth (`Malformed("header has a duplicate member name")`, `"payload has …"`): the JSON
///   parsers that read claims downstream disagree on which one counts (jsonb keeps the last,
///   `json` keeps both), so such a token has no single meaning (RFC 7515 §4, RFC 7519 §4);
/// - a header carrying `crit` is refused (`Malformed("header has \"crit\"")`): it lists
///   extensions the recipient must understand, and we implement none (RFC 7515 §4.1.11);
/// - an empty text is refused like any other text without three segments.
///
/// Accepted tokens decode exactly as before: `header_json`/`payload_json` are the signed texts
/// byte for byte and the maps are `serde_json`'s reading of them.
pub fn decode(token: &str) -> Result<Decoded, Rejection> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(Rejection::TooLarge);
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Rejection::Malformed("expected 3 segments separated by '.'"));
    };
    let (header_json, header) = segment_json(h, "header")?;
    if header.contains_key("crit") {
        return Err(Rejection::Malformed("header has \"crit\""));
    }
    let (payload_json, payload) = segment_json(p, "payload")?;
    let signature =
        base64url::decode_strict(s).ok_or(Rejection::Malformed("signature is not base64url"))?;
    Ok(Decoded {
        header,
        payload,
        header_json,
        payload_json,
        signing_input_len: h.len() + 1 + p.len(),
        signature,
    })
}

impl Decoded {
    /// Authenticates the token: its `alg` must be exactly `pinned` (never `none`, never another
    /// HMAC), the signature must have that algorithm's length and match, compared in constant time.
    pub fn verify_signature(
        &self,
        token: &str,
        pinned: Algorithm,
        key: &[u8],
    ) -> Result<(), Rejection> {
        match self.header.get("alg") {
            None => return Err(Rejection::Malformed("header has no \"alg\"")),
            Some(Value::String(alg)) if alg == pinned.name() => {}
            Some(_) => return Err(Rejection::WrongAlgorithm),
        }
        if self.signature.len() != pinned.mac_len() {
            return Err(Rejection::Malformed("signature has the wrong length"));
        }
        // `token` must be the text this was decoded from; anything shorter simply fails.
        let Some(signing_input) = token.as_bytes().get(..self.signing_input_len) else {
            return Err(Rejection::BadSignature);
        };
        if pinned.verify(key, signing_input, &self.signature) {
            Ok(())
        } else {
            Err(Rejection::BadSignature)
        }
    }

    /// The header's `kid`: `Ok(None)` when absent; refused when present but not a string.
    pub fn kid(&self) -> Result<Option<&str>, Rejection> {
        match self.header.get("kid") {
            None => Ok(None),
            Some(Value::String(kid)) => Ok(Some(kid)),
            Some(_) => Err(Rejection::Malformed("header \"kid\" is not a string")),
        }
    }

    /// Authenticates the token with `key` (RFC 8725 §3.1): the header's `alg` must be exactly the
    /// key's algorithm — the key decides, never the token, so an HS256 token cannot be checked
    /// against a public key used as an HMAC secret, and `none` never passes — then the signature
    /// must have the key's length and verify.
    pub fn verify_with(&self, token: &str, key: &VerifyingKey) -> Result<(), Rejection> {
        match self.header.get("alg") {
            None => return Err(Rejection::Malformed("header has no \"alg\"")),
            Some(Value::String(alg)) if alg == key.alg().name() => {}
            Some(_) => return Err(Rejection::WrongAlgorithm),
        }
        if self.signature.len() != key.signature_len() {
            return Err(Rejection::Malformed("signature has the wrong length"));
        }
        // `token` must be the text this was decoded from; anything shorter simply fails.
        let Some(signing_input) = token.as_bytes().get(..self.signing_input_len) else {
            return Err(Rejection::BadSignature);
        };
        if key.verify(signing_input, &self.signature) {
            Ok(())
        } else {
            Err(Rejection::BadSignature)
        }
    }

    /// True when every number in the payload, at any depth, is an integer that fits 64 bits: then
    /// the signed `payload_json` and the re-serialized `payload` are the same JSON value to a
    /// parser that keeps numbers exact (jsonb), so the SQL layer may hand the signed text to it
    /// directly. A float, or an integer beyond 64 bits, is read here as an `f64` and written back
    /// rounded (`1e2` becomes `100.0`): such a payload must go through `payload`, as before.
    pub fn payload_numbers_are_exact(&self) -> bool {
        let mut pending: Vec<&Value> = self.payload.values().collect();
        while let Some(value) = pending.pop() {
            match value {
                Value::Number(n) if n.is_f64() => return false,
                Value::Array(items) => pending.extend(items),
                Value::Object(inner) => pending.extend(inner.values()),
                _ => {}
            }
        }
        true
    }
}

/// The header every token of ours carries; also pgjwt 0.2.0's, byte for byte.
pub fn header_json(alg: Algorithm) -> String {
    format!(r#"{{"alg":"{}","typ":"JWT"}}"#, alg.name())
}

/// Signs `payload_json` exactly as given (pgjwt's `sign`: no re-serialization).
pub fn encode(payload_json: &str, alg: Algorithm, key: &[u8]) -> String {
    let mut token = base64url::encode(header_json(alg).as_bytes());
    token.push('.');
    token.push_str(&base64url::encode(payload_json.as_bytes()));
    let mac = alg.sign(key, token.as_bytes());
    token.push('.');
    token.push_str(&base64url::encode(&mac));
    token
}

/// Signs a claims object in compact JSON.
pub fn encode_claims(claims: &Map<String, Value>, alg: Algorithm, key: &[u8]) -> String {
    let json = serde_json::to_string(claims).expect("a JSON map always serializes");
    encode(&json, alg, key)
}

/// The header of [`encode_claims_with`]: `{"alg":…,"typ":"JWT"}`, then `"kid":…` when given.
/// Without a kid it is [`header_json`]'s text, byte for byte.
pub fn header_json_with(key: &SigningKey, kid: Option<&str>) -> String {
    match kid {
        None => format!(r#"{{"alg":"{}","typ":"JWT"}}"#, key.alg().name()),
        Some(kid) => format!(
            r#"{{"alg":"{}","typ":"JWT","kid":{}}}"#,
            key.alg().name(),
            Value::String(kid.to_owned())
        ),
    }
}

/// Signs a claims object in compact JSON with any signing key, naming `kid` in the header.
pub fn encode_claims_with(
    claims: &Map<String, Value>,
    key: &SigningKey,
    kid: Option<&str>,
) -> String {
    let json = serde_json::to_string(claims).expect("a JSON map always serializes");
    let mut token = base64url::encode(header_json_with(key, kid).as_bytes());
    token.push('.');
    token.push_str(&base64url::encode(json.as_bytes()));
    let signature = key.sign(token.as_bytes());
    token.push('.');
    token.push_str(&base64url::encode(&signature));
    token
}

#[cfg(test)]
mod tests {
    #[test]
    fn strict_parse_reads_what_serde_json_reads() {
        for json in [
            r#"{"a":1,"b":-2,"c":1.5,"d":1e300,"e":18446744073709551615,"f":-9223372036854775808}"#,
            r#"{"s":"\u00e9\u0061\n","n":null,"t":true,"arr":[1,{"x":[]},"y"],"o":{"p":{"q":{}}}}"#,
            r#"{"z":1,"a":2,"m":3}"#,
            "[1, 2, 3]",
            r#""text""#,
        ] {
            let ours = parse_strict(json).unwrap();
            let theirs: Value = serde_json::from_str(json).unwrap();
            assert_eq!(ours, theirs, "{json}");
            assert_eq!(ours.to_string(), theirs.to_string(), "{json}");
        }
        for dup in [
            r#"{"a":1,"a":1}"#,
            r#"{"x":{"b":1,"\u0062":2}}"#,
            r#"[{"k":1,"k":2}]"#,
        ] {
            assert!(parse_strict(dup)
                .unwrap_err()
                .to_string()
                .starts_with(DUPLICATE_NAME));
        }
        assert!(parse_strict(r#"{"a":1} x"#).is_err());
        // A duplicate in a text that is not JSON is not reported as a duplicate.
        let not_json = parse_strict(r#"{"a":1,"a":2"#).unwrap_err().to_string();
        assert!(!not_json.starts_with(DUPLICATE_NAME), "{not_json}");
    }

    use super::*;

    // RFC 7515 Appendix A.1, from core/vectors/jwt_hmac_vectors.json.
    fn a1() -> Value {
        let v: Value =
            serde_json::from_str(include_str!("../vectors/jwt_hmac_vectors.json")).unwrap();
        v["rfc7515_a1"].clone()
    }

    fn a1_token() -> String {
        a1()["token"].as_str().unwrap().to_string()
    }

    fn a1_key() -> Vec<u8> {
        base64url::decode_strict(a1()["key_base64url"].as_str().unwrap()).unwrap()
    }

    #[test]
    fn rfc7515_a1_verifies_with_its_binary_key() {
        let token = a1_token();
        let d = decode(&token).unwrap();
        assert_eq!(d.payload["iss"], "joe");
        assert_eq!(d.payload["exp"], 1300819380);
        assert_eq!(d.payload["http://example.com/is_root"], true);
        // The payload text is kept byte for byte, CRLFs included.
        assert!(d.payload_json.contains("\r\n"));
        d.verify_signature(&token, Algorithm::HS256, &a1_key())
            .unwrap();
        assert_eq!(
            d.verify_signature(
                &token,
                Algorithm::HS256,
                b"another key of at least 32 bytes!!"
            ),
            Err(Rejection::BadSignature)
        );
        assert_eq!(
            d.verify_signature(&token, Algorithm::HS512, &a1_key()),
            Err(Rejection::WrongAlgorithm)
        );
    }

    #[test]
    fn rfc7515_a1_signing_input_reproduces_its_signature() {
        let token = a1_token();
        let (h, rest) = token.split_once('.').unwrap();
        let (p, s) = rest.split_once('.').unwrap();
        let mac = Algorithm::HS256.sign(&a1_key(), format!("{h}.{p}").as_bytes());
        assert_eq!(base64url::encode(&mac), s);
    }

    #[test]
    fn pgjwt_documented_token_is_reproduced() {
        // pgjwt README: sign('{"sub":"1234567890","name":"John Doe","admin":true}', 'secret')
        let t = encode(
            r#"{"sub":"1234567890","name":"John Doe","admin":true}"#,
            Algorithm::HS256,
            b"secret",
        );
        assert_eq!(
            t,
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiYWRtaW4iOnRydWV9.TJVA95OrM7E2cBab30RMHrHDcEfxjoYZgeFONFh7HgQ"
        );
    }

    #[test]
    fn round_trips_every_algorithm() {
        let key = [7u8; 64];
        for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
            let mut claims = Map::new();
            claims.insert("sub".into(), "alice".into());
            let t = encode_claims(&claims, alg, &key);
            let d = decode(&t).unwrap();
            assert_eq!(d.header["alg"], alg.name());
            d.verify_signature(&t, alg, &key).unwrap();
            assert_eq!(d.payload, claims);
        }
    }

    fn b64(s: &str) -> String {
        base64url::encode(s.as_bytes())
    }

    #[test]
    fn payload_numbers_exact_only_for_64_bit_integers() {
        let header = b64(r#"{"alg":"HS256"}"#);
        let exact = |payload: &str| {
            decode(&format!("{header}.{}.", b64(payload)))
                .unwrap()
                .payload_numbers_are_exact()
        };
        assert!(exact(r#"{}"#));
        assert!(exact(
            r#"{"sub":"a","iat":1700000000,"n":-9223372036854775808}"#
        ));
        assert!(exact(
            r#"{"u":18446744073709551615,"a":[1,{"b":[2]}],"s":"1.5","t":true}"#
        ));
        for payload in [
            r#"{"exp":1.5}"#,
            r#"{"exp":1e2}"#,
            r#"{"n":1.0}"#,
            r#"{"big":18446744073709551616}"#,
            r#"{"a":[1,[2,{"c":0.1}]]}"#,
            r#"{"o":{"p":{"q":-0.0}}}"#,
        ] {
            assert!(!exact(payload), "{payload}");
        }
    }

    #[test]
    fn structural_rejections() {
        let good_sig = base64url::encode(&[0u8; 32]);
        let cases: Vec<(String, Rejection)> = vec![
            (
                "".into(),
                Rejection::Malformed("expected 3 segments separated by '.'"),
            ),
            (
                "a.b".into(),
                Rejection::Malformed("expected 3 segments separated by '.'"),
            ),
            (
                "a.b.c.d".into(),
                Rejection::Malformed("expected 3 segments separated by '.'"),
            ),
            (
                format!("!!.{}.{good_sig}", b64("{}")),
                Rejection::Malformed("header is not base64url"),
            ),
            (
                format!("{}.{}.{good_sig}", b64("[]"), b64("{}")),
                Rejection::Malformed("header is not a JSON object"),
            ),
            (
                format!("{}.{}.{good_sig}", b64(r#"{"alg":"HS256"}"#), b64("1")),
                Rejection::Malformed("payload is not a JSON object"),
            ),
            (
                format!(
                    "{}.{}.{good_sig}",
                    b64("{}"),
                    base64url::encode(&[0xff, 0xfe])
                ),
                Rejection::Malformed("payload is not UTF-8"),
            ),
            (
                format!("{}.{}.a=", b64("{}"), b64("{}")),
                Rejection::Malformed("signature is not base64url"),
            ),
            ("a".repeat(MAX_TOKEN_BYTES + 1), Rejection::TooLarge),
        ];
        for (token, want) in cases {
            assert_eq!(decode(&token).unwrap_err(), want, "{token:.60}");
        }
    }

    #[test]
    fn algorithm_rejections() {
        let key = [1u8; 32];
        let sig = base64url::encode(&[0u8; 32]);
        for header in [
            r#"{"alg":"none"}"#,
            r#"{"alg":"None"}"#,
            r#"{"alg":"NONE"}"#,
            r#"{"alg":"HS512"}"#,
            r#"{"alg":"hs256"}"#,
            r#"{"alg":1}"#,
        ] {
            let t = format!("{}.{}.{sig}", b64(header), b64("{}"));
            assert_eq!(
                decode(&t)
                    .unwrap()
                    .verify_signature(&t, Algorithm::HS256, &key),
                Err(Rejection::WrongAlgorithm),
                "{header}"
            );
        }
        let t = format!("{}.{}.{sig}", b64(r#"{"typ":"JWT"}"#), b64("{}"));
        assert_eq!(
            decode(&t)
                .unwrap()
                .verify_signature(&t, Algorithm::HS256, &key),
            Err(Rejection::Malformed("header has no \"alg\""))
        );
        // alg none with an empty signature: still refused for the algorithm, before any MAC.
        let t = format!(
            "{}.{}.",
            b64(r#"{"alg":"none"}"#),
            b64(r#"{"role":"admin"}"#)
        );
        assert_eq!(
            decode(&t)
                .unwrap()
                .verify_signature(&t, Algorithm::HS256, &key),
            Err(Rejection::WrongAlgorithm)
        );
    }

    #[test]
    fn verifying_against_another_shorter_text_fails_without_panicking() {
        let key = [3u8; 32];
        let t = encode(r#"{"role":"user"}"#, Algorithm::HS256, &key);
        let d = decode(&t).unwrap();
        assert_eq!(
            d.verify_signature("a.b", Algorithm::HS256, &key),
            Err(Rejection::BadSignature)
        );
    }

    #[test]
    fn signature_length_and_tampering() {
        let key = [9u8; 32];
        let t = encode(r#"{"role":"user"}"#, Algorithm::HS256, &key);
        let (signing_input, sig) = t.rsplit_once('.').unwrap();
        let stripped = format!("{signing_input}.");
        assert_eq!(
            decode(&stripped)
                .unwrap()
                .verify_signature(&stripped, Algorithm::HS256, &key),
            Err(Rejection::Malformed("signature has the wrong length"))
        );
        let truncated = format!("{signing_input}.{}", &sig[..20]);
        assert!(decode(&truncated)
            .and_then(|d| d.verify_signature(&truncated, Algorithm::HS256, &key))
            .is_err());
        let tampered = format!(
            "{}.{}.{sig}",
            b64(r#"{"alg":"HS256","typ":"JWT"}"#),
            b64(r#"{"role":"admin"}"#)
        );
        assert_eq!(
            decode(&tampered)
                .unwrap()
                .verify_signature(&tampered, Algorithm::HS256, &key),
            Err(Rejection::BadSignature)
        );
        // An HS256 token presented to an HS512 verifier.
        assert_eq!(
            decode(&t)
                .unwrap()
                .verify_signature(&t, Algorithm::HS512, &[9u8; 64]),
            Err(Rejection::WrongAlgorithm)
        );
    }

    /// A token over `header`/`payload` texts, signed correctly with `key` under HS256.
    fn signed(header: &str, payload: &str, key: &[u8]) -> String {
        let input = format!("{}.{}", b64(header), b64(payload));
        let mac = Algorithm::HS256.sign(key, input.as_bytes());
        format!("{input}.{}", base64url::encode(&mac))
    }

    #[test]
    fn duplicate_member_names_are_refused_even_when_signed() {
        let key = [5u8; 32];
        let dup_header = Rejection::Malformed("header has a duplicate member name");
        let dup_payload = Rejection::Malformed("payload has a duplicate member name");
        let cases = [
            (r#"{"alg":"none","alg":"HS256"}"#, "{}", dup_header),
            (r#"{"alg":"HS256","alg":"none"}"#, "{}", dup_header),
            (r#"{"alg":"HS256","alg":"HS256"}"#, "{}", dup_header),
            // Names are compared after unescaping, as the map's keys are.
            (r#"{"alg":"HS256","\u0061lg":"HS256"}"#, "{}", dup_header),
            (
                r#"{"alg":"HS256","typ":"JWT","typ":"JOSE"}"#,
                "{}",
                dup_header,
            ),
            (
                r#"{"alg":"HS256"}"#,
                r#"{"exp":1,"role":"anon","exp":99999999999}"#,
                dup_payload,
            ),
            (
                r#"{"alg":"HS256"}"#,
                r#"{"role":"anon","role":"admin"}"#,
                dup_payload,
            ),
            (r#"{"alg":"HS256"}"#, r#"{"a":1,"a":1}"#, dup_payload),
            // Nested objects too, inside objects and arrays.
            (
                r#"{"alg":"HS256"}"#,
                r#"{"app":{"role":"a","role":"b"}}"#,
                dup_payload,
            ),
            (
                r#"{"alg":"HS256"}"#,
                r#"{"l":[1,{"x":{},"x":[]}]}"#,
                dup_payload,
            ),
            (
                r#"{"alg":"HS256","jwk":{"k":"a","k":"b"}}"#,
                "{}",
                dup_header,
            ),
        ];
        for (header, payload, want) in cases {
            let t = signed(header, payload, &key);
            assert_eq!(decode(&t).unwrap_err(), want, "{header} {payload}");
        }
        // The header is read first: a token bad in both says so of its header.
        let t = signed(r#"{"alg":"HS256","alg":"HS256"}"#, r#"{"a":1,"a":2}"#, &key);
        assert_eq!(decode(&t).unwrap_err(), dup_header);
        // The message names the reason, never the member.
        assert_eq!(
            dup_payload.message(),
            "malformed token: payload has a duplicate member name"
        );
    }

    #[test]
    fn distinct_names_are_not_duplicates() {
        let key = [5u8; 32];
        for payload in [
            r#"{"a":1,"A":1}"#,
            r#"{"a":{"a":1},"b":{"a":2}}"#,
            r#"{"a":[{"x":1},{"x":2}]}"#,
            r#"{"a":"a","b":"a"}"#,
            r#"{"":1,"\u0000":2," ":3}"#,
            r#"{"é":1,"e\u0301":2}"#,
        ] {
            let t = signed(r#"{"alg":"HS256","typ":"JWT"}"#, payload, &key);
            let d = decode(&t).unwrap_or_else(|r| panic!("{payload}: {r:?}"));
            assert_eq!(d.payload_json, payload);
            d.verify_signature(&t, Algorithm::HS256, &key).unwrap();
        }
    }

    #[test]
    fn crit_headers_are_refused() {
        let key = [6u8; 32];
        let want = Rejection::Malformed("header has \"crit\"");
        for header in [
            r#"{"alg":"HS256","crit":["exp"],"exp":1363284000}"#,
            r#"{"alg":"HS256","crit":[]}"#,
            r#"{"crit":null,"alg":"HS256"}"#,
            r#"{"alg":"none","crit":["b64"],"b64":false}"#,
        ] {
            let t = signed(header, r#"{"role":"admin"}"#, &key);
            assert_eq!(decode(&t).unwrap_err(), want, "{header}");
        }
        assert_eq!(want.message(), "malformed token: header has \"crit\"");
        // A "crit" claim in the payload is only a claim; a near name in the header is not crit.
        for (header, payload) in [
            (r#"{"alg":"HS256"}"#, r#"{"crit":["exp"]}"#),
            (r#"{"alg":"HS256","Crit":[]}"#, "{}"),
        ] {
            let t = signed(header, payload, &key);
            decode(&t)
                .unwrap()
                .verify_signature(&t, Algorithm::HS256, &key)
                .unwrap();
        }
    }
}
