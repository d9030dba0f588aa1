//! bcrypt hash parsing (`password::parse_hash`, `needs_rehash`, `check_importable_hash`), the
//! login cost cap (`verifiable_cost`) and the cheap password checks (`check_password`,
//! `check_cost`), on arbitrary text. No bcrypt hashing: one cost-4 hash costs
//! about a millisecond, which would starve the fuzzer; `verify` is only driven on inputs it must
//! refuse before hashing.
//!
//! Invariants: an accepted hash is 60 characters of `$2a$`/`$2b$`/`$2y$`, two cost digits that
//! give its cost, and bcrypt base64; bcrypt's own parser (`HashParts::from_str`, used by
//! `bcrypt::verify`) accepts it with the same cost; a refused hash makes `verify` fail with
//! 22P02 (and a cost above 20 with 22023) without hashing; a stored hash is re-hashed exactly
//! when its cost differs from the configured one; an importable hash is exactly a parsed one of
//! cost at most 14, and a refused one gets 22023 naming its cost digits when hash-shaped, else
//! 22P02; `verifiable_cost` caps at max(14, configured) and is monotonic; messages are fixed
//! templates that cannot hold the password or the hash.
#![no_main]

use std::str::FromStr;

use auth_core::password::{self, MAX_COST, MAX_IMPORT_COST, MAX_PASSWORD_BYTES, MIN_COST};
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
            for cost in [MIN_COST, 10, MAX_COST, parsed.cost] {
                assert_eq!(password::needs_rehash(hash, cost), parsed.cost != cost);
            }
            assert_eq!(
                password::check_importable_hash(hash).is_ok(),
                parsed.cost <= MAX_IMPORT_COST
            );
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

    match password::check_importable_hash(hash) {
        Ok(()) => assert!(password::parse_hash(hash).is_some_and(|p| p.cost <= MAX_IMPORT_COST)),
        Err(e) if e.sqlstate() == "22023" => {
            // Hash-shaped (60 characters, a known prefix, two digits) with a cost out of range.
            assert_eq!(hash.len(), 60);
            assert!(["$2a$", "$2b$", "$2y$"].contains(&&hash[..4]));
            let cost: u32 = hash[4..6].parse().unwrap();
            assert!(!(MIN_COST..=MAX_IMPORT_COST).contains(&cost));
            assert_eq!(
                e.message(),
                format!(
                    "bcrypt hash has cost {cost}; an imported hash must have a cost from {MIN_COST} to {MAX_IMPORT_COST}"
                )
            );
        }
        Err(e) => {
            assert_eq!(e.sqlstate(), "22P02");
            assert_eq!(e.message(), "not a bcrypt hash ($2a$, $2b$ or $2y$)");
            assert!(password::parse_hash(hash).is_none());
        }
    }

    // The login cap: max(MAX_IMPORT_COST, configured), monotonic in both arguments.
    let cost = u32::from(data.first().copied().unwrap_or(0));
    let configured = u32::from(data.get(1).copied().unwrap_or(0));
    let ok = password::verifiable_cost(cost, configured);
    assert_eq!(ok, cost <= MAX_IMPORT_COST || cost <= configured);
    if ok {
        assert!(cost == 0 || password::verifiable_cost(cost - 1, configured));
        assert!(password::verifiable_cost(cost, configured + 1));
    }
    assert!(password::verifiable_cost(configured, configured));

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
    assert_eq!(
        password::check_cost(cost).is_ok(),
        (MIN_COST..=MAX_COST).contains(&cost)
    );
    assert_eq!(
        password::parse_hash(&password::dummy_hash(10)).map(|p| p.cost),
        Some(10)
    );
});
