//! bcrypt hash parsing (`password::parse_hash`, `needs_rehash`) and the cheap password checks
//! (`check_password`, `check_cost`), on arbitrary text. No bcrypt hashing: one cost-4 hash costs
//! about a millisecond, which would starve the fuzzer; `verify` is only driven on inputs it must
//! refuse before hashing.
//!
//! Invariants: an accepted hash is 60 characters of `$2a$`/`$2b$`/`$2y$`, two cost digits that
//! give its cost, and bcrypt base64; bcrypt's own parser (`HashParts::from_str`, used by
//! `bcrypt::verify`) accepts it with the same cost; a refused hash makes `verify` fail with
//! 22P02 (and a cost above 20 with 22023) without hashing; messages are fixed templates that
//! cannot hold the password.
#![no_main]

use std::str::FromStr;

use auth_core::password::{self, MAX_COST, MAX_PASSWORD_BYTES, MIN_COST};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // The input is a hash candidate, or `password\nhash`.
    let (pw, hash) = text.split_once('\n').unwrap_or(("correct horse", text));

    match password::parse_hash(hash) {
        Some(parsed) => {
            let b = hash.as_bytes();
            assert_eq!(b.len(), 60);
            assert!(["$2a$", "$2b$", "$2y$"].contains(&&hash[..4]));
            assert_eq!(hash[4..6].parse::<u32>().unwrap(), parsed.cost);
            assert!((MIN_COST..=31).contains(&parsed.cost));
            assert!(b[7..]
                .iter()
                .all(|c| c.is_ascii_alphanumeric() || *c == b'.' || *c == b'/'));
            let theirs = bcrypt::HashParts::from_str(hash).expect("bcrypt parses what we accept");
            assert_eq!(theirs.get_cost(), parsed.cost);
            for cost in [MIN_COST, 10, MAX_COST] {
                assert_eq!(password::needs_rehash(hash, cost), parsed.cost < cost);
            }
            if parsed.cost > MAX_COST && password::check_password(pw).is_ok() {
                let e = password::verify(pw, hash).unwrap_err();
                assert_eq!(e.sqlstate(), "22023");
            }
        }
        None => {
            for cost in [MIN_COST, 10, MAX_COST] {
                assert!(!password::needs_rehash(hash, cost));
            }
            if password::check_password(pw).is_ok() {
                let e = password::verify(pw, hash).unwrap_err();
                assert_eq!(e.sqlstate(), "22P02");
                assert_eq!(e.message(), "not a bcrypt hash ($2a$, $2b$ or $2y$)");
            }
        }
    }

    match password::check_password(pw) {
        Ok(()) => assert!(!pw.is_empty() && pw.len() <= MAX_PASSWORD_BYTES),
        Err(e) => {
            assert!(pw.is_empty() || pw.len() > MAX_PASSWORD_BYTES);
            assert_eq!(e.sqlstate(), "22023");
            // Fixed templates: the password's length, never its text.
            let want = if pw.is_empty() {
                "password must not be empty".to_string()
            } else {
                format!(
                    "password is {} bytes; bcrypt uses at most {MAX_PASSWORD_BYTES}, and it is never truncated",
                    pw.len()
                )
            };
            assert_eq!(e.message(), want);
        }
    }
    let cost = u32::from(data.first().copied().unwrap_or(0));
    assert_eq!(
        password::check_cost(cost).is_ok(),
        (MIN_COST..=MAX_COST).contains(&cost)
    );
    assert_eq!(
        password::parse_hash(&password::dummy_hash(10)).map(|p| p.cost),
        Some(10)
    );
});
