//! The floor of the asymmetric rows of `scripts/bench.sh`: the same signing and verification the
//! SQL functions do (`auth.jwt_sign`, `auth.jwt_verify` with a stored key), called directly in
//! Rust, so that the benchmark can show what the SQL layer adds on top of the crypto.
//!
//!   cargo run --release -p auth-core --example jws_floor -- CALLS REPS
//!
//! Prints one line per operation: `<alg> <sign|verify> <µs per call>` (best of REPS runs after a
//! warm-up run, CALLS calls each).

use std::time::Instant;

use auth_core::claims::{self, Policy};
use auth_core::jwt;
use auth_core::keys::{self, JwsAlg};
use serde_json::{Map, Value};

fn best_of(reps: usize, calls: usize, mut run: impl FnMut()) -> f64 {
    let mut best = f64::INFINITY;
    for rep in 0..=reps {
        let t0 = Instant::now();
        run();
        if rep > 0 {
            best = best.min(t0.elapsed().as_secs_f64() * 1e6 / calls as f64);
        }
    }
    best
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("CALLS and REPS are numbers"))
        .collect();
    let (calls, reps) = (
        args.first().copied().unwrap_or(2000),
        args.get(1).copied().unwrap_or(3),
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    // The claims auth.jwt_sign signs for the benchmark's payloads: theirs plus iat.
    let payloads: Vec<Map<String, Value>> = (1..=calls)
        .map(|i| {
            let mut m = Map::new();
            m.insert("sub".into(), format!("user-{i}").into());
            m.insert("role".into(), "bench_user".into());
            m.insert("exp".into(), 4_102_444_800_i64.into());
            m.insert("iat".into(), now.into());
            m
        })
        .collect();
    for alg in [JwsAlg::ES256, JwsAlg::EdDSA] {
        let key = keys::generate(alg).expect("a key");
        let verifying = key.verifying_key();
        let kid = verifying.thumbprint();
        let mut tokens = Vec::with_capacity(calls);
        let sign = best_of(reps, calls, || {
            tokens = payloads
                .iter()
                .map(|p| jwt::encode_claims_with(p, &key, Some(&kid)))
                .collect();
        });
        let policy = Policy {
            now: now as f64,
            leeway: 30.0,
            audience: None,
            issuer: None,
        };
        let verify = best_of(reps, calls, || {
            let ok = tokens
                .iter()
                .filter(|t| {
                    let d = jwt::decode(t).expect("our own token decodes");
                    d.kid().ok().flatten() == Some(kid.as_str())
                        && d.verify_with(t, &verifying).is_ok()
                        && claims::check(&d.payload, &policy).is_ok()
                })
                .count();
            assert_eq!(ok, calls, "every token verifies");
        });
        println!("{} sign {sign:.3}", alg.name());
        println!("{} verify {verify:.3}", alg.name());
    }
}
