//! Signing and verifying: `jwt::encode` / `encode_claims` against `jwt::decode` +
//! `verify_signature`.
//!
//! Input: byte 0 picks the algorithm, byte 1 the key length, then the key, then the payload text.
//! Invariants:
//! - a token we sign decodes iff its payload is a JSON object naming no member twice (at any
//!   depth) and it fits `MAX_TOKEN_BYTES`, and then keeps the payload text byte for byte, carries
//!   our header, and verifies;
//! - it fails under another algorithm (`WrongAlgorithm`) and under another key (`BadSignature`);
//! - every one-byte mutation of it fails to decode or to verify;
//! - `encode_claims` of a map decodes back to that map's JSON.
#![no_main]

mod common;

use auth_core::error::Rejection;
use auth_core::{jwt, Algorithm};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

const ALGS: [Algorithm; 3] = [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512];
/// Bytes a mutation writes: the base64url alphabet's edges, the separator, padding, non-ASCII.
const SUBSTITUTES: &[u8] = b"AaZz09-_.=+/ \0\xc3";

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let alg = ALGS[usize::from(data[0]) % 3];
    let key_len = usize::from(data[1]).min(data.len() - 2);
    let key = &data[2..2 + key_len];
    let Ok(payload) = std::str::from_utf8(&data[2 + key_len..]) else {
        return;
    };

    let token = jwt::encode(payload, alg, key);
    let is_object = matches!(serde_json::from_str::<Value>(payload), Ok(Value::Object(_)));
    let repeats = common::repeated_names(payload).is_some_and(|(_, anywhere)| anywhere);
    let decoded = match jwt::decode(&token) {
        Ok(d) => d,
        Err(Rejection::TooLarge) => {
            assert!(token.len() > jwt::MAX_TOKEN_BYTES);
            return;
        }
        Err(r) => {
            if is_object {
                assert!(repeats, "our own token refused: {r:?}");
                assert_eq!(
                    r,
                    Rejection::Malformed("payload has a duplicate member name")
                );
            } else {
                assert_eq!(r, Rejection::Malformed("payload is not a JSON object"));
            }
            return;
        }
    };
    assert!(is_object && !repeats);
    assert_eq!(decoded.payload_json, payload);
    assert_eq!(decoded.header_json, jwt::header_json(alg));
    assert_eq!(decoded.verify_signature(&token, alg, key), Ok(()));
    for other in ALGS.into_iter().filter(|a| *a != alg) {
        assert_eq!(
            decoded.verify_signature(&token, other, key),
            Err(Rejection::WrongAlgorithm)
        );
    }
    // Another key. (Not the key plus a zero byte: HMAC pads short keys with zeros, so those are
    // the same key.)
    let mut other_key = key.to_vec();
    match other_key.first_mut() {
        Some(b) => *b ^= 0x01,
        None => other_key.push(1),
    }
    assert_eq!(
        decoded.verify_signature(&token, alg, &other_key),
        Err(Rejection::BadSignature)
    );

    // One-byte mutations at a few positions picked by the input, plus both ends.
    let bytes = token.as_bytes();
    let seed = data.iter().fold(0usize, |acc, b| {
        acc.wrapping_mul(31).wrapping_add(usize::from(*b))
    });
    let mut positions = vec![0, bytes.len() - 1];
    positions.extend((0..8).map(|i| seed.wrapping_add(i * 7919) % bytes.len()));
    for pos in positions {
        for &sub in SUBSTITUTES {
            if bytes[pos] == sub {
                continue;
            }
            let mut mutated = bytes.to_vec();
            mutated[pos] = sub;
            let Ok(mutated) = String::from_utf8(mutated) else {
                continue;
            };
            let verdict =
                jwt::decode(&mutated).and_then(|d| d.verify_signature(&mutated, alg, key));
            assert!(
                verdict.is_err(),
                "mutation at {pos} to {sub:#x} still verifies"
            );
        }
    }
    // Truncations: dropping the last character, or the whole signature, never verifies.
    for cut in [token.len() - 1, token.rfind('.').unwrap() + 1] {
        let t = &token[..cut];
        assert!(jwt::decode(t)
            .and_then(|d| d.verify_signature(t, alg, key))
            .is_err());
    }

    // encode_claims: compact JSON of the map, decoded back as signed.
    let Ok(Value::Object(map)) = serde_json::from_str::<Value>(payload) else {
        unreachable!("checked above");
    };
    let token = jwt::encode_claims(&map, alg, key);
    if token.len() <= jwt::MAX_TOKEN_BYTES {
        let decoded = jwt::decode(&token).expect("encode_claims output decodes");
        assert_eq!(decoded.payload_json, serde_json::to_string(&map).unwrap());
        assert_eq!(decoded.verify_signature(&token, alg, key), Ok(()));
    }
});
