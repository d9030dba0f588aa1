//! Token decoding and verification on arbitrary text: `jwt::decode`, `Decoded::verify_signature`,
//! `claims::check` and `claims::pgjwt_time_valid`.
//!
//! Invariants, beyond "no panic":
//! - decode refuses exactly the tokens over `MAX_TOKEN_BYTES` with `TooLarge`;
//! - an accepted token has three segments, each the canonical base64url of what was decoded (one
//!   token has one spelling), and its header/payload maps are the JSON of the kept texts;
//! - `verify_signature` agrees with an independent, non-constant-time oracle: Ok exactly when
//!   `alg` is the pinned name and the signature is the HMAC of `header.payload` under the key;
//! - a token that verifies under one algorithm is `WrongAlgorithm` under the others;
//! - no accepted header or payload names a member twice (top level or deeper, by an independent
//!   reading that keeps every member), and no accepted header has `crit`; a refusal for either
//!   reason is backed by that reading;
//! - claim checks are consistent with the numbers they read, and a payload holding a NUL in any
//!   string is refused by `claims::check` before anything else.
#![no_main]

mod common;

use auth_core::claims::{self, Policy};
use auth_core::error::Rejection;
use auth_core::{base64url, jwt, Algorithm};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// RFC 7515 A.1's key (core/vectors) and the key the seeds in fuzz/seeds/jwt_decode are signed with.
const A1_KEY_B64: &str =
    "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";
const FUZZ_KEY: &[u8] = b"fuzz-key-0123456789abcdef-0123456789abcdef-0123456789abcdef-0123";
const ALGS: [Algorithm; 3] = [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512];

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    let a1_key = base64url::decode_strict(A1_KEY_B64).expect("vector key");
    let decoded = match jwt::decode(token) {
        Ok(d) => d,
        Err(Rejection::TooLarge) => {
            assert!(token.len() > jwt::MAX_TOKEN_BYTES);
            return;
        }
        Err(r) => {
            assert!(token.len() <= jwt::MAX_TOKEN_BYTES, "{r:?}");
            // A refusal names one of a closed set of reasons: nothing of the token is in it.
            let Rejection::Malformed(why) = r else {
                panic!("decode cannot say {r:?}");
            };
            assert!(
                [
                    "expected 3 segments separated by '.'",
                    "header is not base64url",
                    "payload is not base64url",
                    "header is not UTF-8",
                    "payload is not UTF-8",
                    "header is not a JSON object",
                    "payload is not a JSON object",
                    "signature is not base64url",
                    "header has a duplicate member name",
                    "payload has a duplicate member name",
                    "header has \"crit\"",
                ]
                .contains(&why),
                "{why}"
            );
            // A refusal for a repeated name or for crit is backed by the text itself.
            let segment_text = |i: usize| {
                let seg = token.split('.').nth(i)?;
                String::from_utf8(base64url::decode_strict(seg)?).ok()
            };
            match why {
                "header has a duplicate member name" | "payload has a duplicate member name" => {
                    let i = usize::from(why.starts_with("payload"));
                    let text = segment_text(i).expect("a JSON segment was read");
                    let (_, anywhere) = common::repeated_names(&text).expect("it is JSON");
                    assert!(anywhere, "no repeated name in {text:?}");
                }
                "header has \"crit\"" => {
                    let text = segment_text(0).expect("the header was read");
                    let header: Value = serde_json::from_str(&text).unwrap();
                    assert!(header.get("crit").is_some());
                }
                _ => {}
            }
            return;
        }
    };

    // Structure: exactly three canonical segments.
    assert!(token.len() <= jwt::MAX_TOKEN_BYTES);
    let segments: Vec<&str> = token.split('.').collect();
    assert_eq!(segments.len(), 3);
    let (h, p, s) = (segments[0], segments[1], segments[2]);
    assert_eq!(base64url::encode(decoded.header_json.as_bytes()), h);
    assert_eq!(base64url::encode(decoded.payload_json.as_bytes()), p);
    let signature = base64url::decode_strict(s).expect("decode accepted the signature");
    assert_eq!(base64url::encode(&signature), s);
    assert_eq!(
        serde_json::from_str::<Value>(&decoded.header_json).unwrap(),
        Value::Object(decoded.header.clone())
    );
    assert_eq!(
        serde_json::from_str::<Value>(&decoded.payload_json).unwrap(),
        Value::Object(decoded.payload.clone())
    );
    // Strictness: every member name is unique, at the top level and deeper, and no crit.
    for text in [&decoded.header_json, &decoded.payload_json] {
        assert_eq!(
            common::repeated_names(text),
            Some((false, false)),
            "{text:?}"
        );
    }
    assert!(!decoded.header.contains_key("crit"));

    // Signature: the constant-time verifier agrees with a plain oracle, for every algorithm/key.
    let signing_input = &token[..h.len() + 1 + p.len()];
    for key in [&a1_key[..], FUZZ_KEY] {
        let mut verified_under = None;
        for alg in ALGS {
            let got = decoded.verify_signature(token, alg, key);
            let alg_ok = decoded.header.get("alg") == Some(&Value::String(alg.name().into()));
            let mac_ok = alg.sign(key, signing_input.as_bytes()) == signature;
            assert_eq!(got.is_ok(), alg_ok && mac_ok, "{alg:?}: {got:?}");
            match got {
                Ok(()) => verified_under = Some(alg),
                Err(Rejection::WrongAlgorithm) => assert!(!alg_ok),
                Err(Rejection::BadSignature) => {
                    assert!(alg_ok && signature.len() == alg.mac_len() && !mac_ok)
                }
                Err(Rejection::Malformed(_)) => {
                    assert!(!decoded.header.contains_key("alg") || signature.len() != alg.mac_len())
                }
                Err(other) => panic!("verify_signature cannot say {other:?}"),
            }
        }
        if let Some(alg) = verified_under {
            // It verified: every other pinned algorithm refuses it as the wrong algorithm.
            for other in ALGS.into_iter().filter(|a| *a != alg) {
                assert_eq!(
                    decoded.verify_signature(token, other, key),
                    Err(Rejection::WrongAlgorithm)
                );
            }
        }
    }

    // Claims: never panic, and agree with the numbers they read.
    let payload = &decoded.payload;
    let has_nul = common::json_text_has_nul_escape(&serde_json::to_string(payload).unwrap());
    let nul_refusal = Rejection::Malformed("payload holds a NUL character");
    assert_eq!(claims::check_no_nul(payload).is_err(), has_nul);
    for (now, leeway) in [
        (0.0, 0.0),
        (1_700_000_000.0, 30.0),
        (1e300, 3600.0),
        (-1e18, 0.0),
    ] {
        let policy = Policy {
            now,
            leeway,
            audience: None,
            issuer: None,
        };
        let result = claims::check(payload, &policy);
        let num = |name: &str| payload.get(name).and_then(Value::as_f64);
        if has_nul {
            assert_eq!(result, Err(nul_refusal));
            continue;
        }
        match result {
            Ok(()) => {
                if let Some(exp) = num("exp") {
                    assert!(now < exp + leeway);
                }
                if let Some(nbf) = num("nbf") {
                    assert!(now + leeway >= nbf);
                }
            }
            Err(Rejection::Expired) => assert!(now >= num("exp").unwrap() + leeway),
            Err(Rejection::NotYetValid) => {}
            Err(Rejection::Malformed(_)) => {
                assert!(["exp", "nbf", "iat"].iter().any(|n| payload
                    .get(*n)
                    .is_some_and(|v| !v.is_null() && !v.is_number())))
            }
            Err(other) => panic!("no audience/issuer configured, yet {other:?}"),
        }
        // With an audience and issuer configured, a token lacking them is refused.
        let strict = Policy {
            audience: Some("api"),
            issuer: Some("auth"),
            ..policy
        };
        if claims::check(payload, &strict).is_ok() {
            assert_eq!(payload.get("iss").and_then(Value::as_str), Some("auth"));
        }
    }
    for now in [i64::MIN, -1, 0, 1_700_000_000_000_000, i64::MAX] {
        let _ = claims::pgjwt_time_valid(payload, now);
    }
});
