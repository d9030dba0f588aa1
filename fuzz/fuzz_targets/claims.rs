//! Claim checks on arbitrary payloads and clocks: `claims::check` (strict, for `jwt_verify`),
//! `claims::check_no_nul`, `claims::pgjwt_time_valid` (pgjwt's `verify`) and
//! `claims::hook_claims` (the reserved-claim rule of `auth.access_token_hook`).
//!
//! Input: 8 bytes of `now` in Unix microseconds (i64 LE), 2 bytes of leeway in seconds (at most
//! 3600, as `auth.jwt_leeway` allows), then the payload JSON text.
//! Invariants: a payload holding a NUL in any string (by a scan of its serialized text) is refused
//! by `check_no_nul` and, first of all, by `check`; otherwise `check` accepts only when every
//! numeric time claim allows `now`; a non-numeric time claim is refused as malformed; audience and issuer are matched exactly; pgjwt's rule is
//! monotonic in time for a payload with only `exp` (valid now ⇒ valid earlier); `hook_claims`
//! accepts a payload as its own answer, and an answer built from the payload's member
//! `hook_answer` exactly when it keeps every reserved claim as it was.
#![no_main]

mod common;

use auth_core::claims::{self, Policy};
use auth_core::error::Rejection;
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};

fn num(payload: &Map<String, Value>, name: &str) -> Option<f64> {
    payload.get(name).and_then(Value::as_f64)
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 10 {
        return;
    }
    let now_micros = i64::from_le_bytes(data[..8].try_into().unwrap());
    let leeway = f64::from(u16::from_le_bytes([data[8], data[9]]) % 3601);
    let Ok(Value::Object(payload)) = serde_json::from_slice::<Value>(&data[10..]) else {
        return;
    };
    let now = now_micros as f64 / 1e6;
    let audience = payload.get("aud_under_test").and_then(Value::as_str);
    let issuer = payload.get("iss_under_test").and_then(Value::as_str);
    let policy = Policy {
        now,
        leeway,
        audience,
        issuer,
    };
    let bad_time_claim = ["exp", "nbf", "iat"].iter().any(|n| {
        payload
            .get(*n)
            .is_some_and(|v| !v.is_null() && !v.is_number())
    });
    let has_nul = common::json_text_has_nul_escape(&serde_json::to_string(&payload).unwrap());
    let nul_refusal = Rejection::Malformed("payload holds a NUL character");
    assert_eq!(
        claims::check_no_nul(&payload),
        if has_nul { Err(nul_refusal) } else { Ok(()) }
    );
    match claims::check(&payload, &policy) {
        result if has_nul => assert_eq!(result, Err(nul_refusal)),
        Ok(()) => {
            assert!(!bad_time_claim);
            if let Some(exp) = num(&payload, "exp") {
                assert!(now < exp + leeway);
            }
            if let Some(nbf) = num(&payload, "nbf") {
                assert!(now + leeway >= nbf);
            }
            if let Some(iat) = num(&payload, "iat") {
                assert!(iat <= now + leeway);
            }
            if let Some(want) = audience {
                let aud = payload.get("aud");
                assert!(
                    aud.and_then(Value::as_str) == Some(want)
                        || aud
                            .and_then(Value::as_array)
                            .is_some_and(|a| a.iter().any(|x| x.as_str() == Some(want)))
                );
            }
            if let Some(want) = issuer {
                assert_eq!(payload.get("iss").and_then(Value::as_str), Some(want));
            }
        }
        Err(Rejection::Expired) => assert!(now >= num(&payload, "exp").unwrap() + leeway),
        Err(Rejection::NotYetValid) => {
            let nbf_late = num(&payload, "nbf").is_some_and(|nbf| now + leeway < nbf);
            let iat_late = num(&payload, "iat").is_some_and(|iat| iat > now + leeway);
            assert!(nbf_late || iat_late);
        }
        Err(Rejection::Malformed(_)) => assert!(bad_time_claim),
        Err(Rejection::WrongAudience) => assert!(audience.is_some()),
        Err(Rejection::WrongIssuer) => assert!(issuer.is_some()),
        Err(other) => panic!("claims::check cannot say {other:?}"),
    }

    assert_eq!(
        claims::hook_claims(&payload, Some(Value::Object(payload.clone()))),
        Ok(payload.clone())
    );
    let answer = payload.get("hook_answer").cloned();
    match claims::hook_claims(&payload, answer.clone()) {
        Ok(signed) => {
            assert_eq!(Some(Value::Object(signed.clone())), answer);
            for name in claims::RESERVED_CLAIMS {
                assert_eq!(signed.get(name), payload.get(name), "{name}");
            }
        }
        Err(claims::HookRefusal::NotAnObject) => assert!(!answer.is_some_and(|a| a.is_object())),
        Err(claims::HookRefusal::Changed(name)) => {
            let answer = answer.unwrap();
            assert_ne!(answer.get(name), payload.get(name), "{name}");
        }
    }

    let valid = claims::pgjwt_time_valid(&payload, now_micros);
    if valid && !payload.contains_key("nbf") {
        if let Some(earlier) = now_micros.checked_sub(1_000_000) {
            assert!(claims::pgjwt_time_valid(&payload, earlier));
        }
    }
    if payload
        .get("exp")
        .and_then(Value::as_f64)
        .is_some_and(|e| e.abs() < 1e12)
        && !payload.contains_key("nbf")
        && now_micros.unsigned_abs() < 1 << 52
    {
        // A numeric exp: valid exactly while now < exp (microsecond rounding aside).
        let exp_micros = (num(&payload, "exp").unwrap() * 1e6).round() as i64;
        assert_eq!(valid, now_micros < exp_micros);
    }
});
