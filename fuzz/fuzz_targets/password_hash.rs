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
//!
//! argon2 and stored hashes of either algorithm (`parse_argon2_hash`, `parse_stored_hash`,
//! `check_importable`, `needs_rehash_for`, `verifiable`, `Argon2Params::check`/`check_stored`,
//! `dummy_argon2_hash`), again without hashing: `verify_stored` is only driven on inputs it must
//! refuse before hashing (not a hash we verify, or over the caps). Invariants: an accepted argon2
//! string is `$argon2id$` or `$argon2i$`, `v=19`, exactly `m=…,t=…,p=…` in canonical decimal, a
//! salt of 8 to 64 and a hash of 16 to 64 bytes in canonical unpadded base64, and the argon2
//! crate's PHC parser reads the same variant, version, parameters and lengths; a stored hash is
//! bcrypt exactly when `parse_hash` says so and argon2 exactly when it starts `$argon2` and parses;
//! every refusal is 22023 with a fixed template (digits aside); importable is bcrypt of cost 4 to
//! 14 or argon2 within the caps; verifiable argon2 is argon2 within the caps; a re-hash is wanted
//! exactly when algorithm, variant, parameters or lengths differ from the configured ones; the
//! caps of written parameters imply those of stored ones.
#![no_main]

use std::str::FromStr;

use auth_core::password::{
    self, Argon2Params, Argon2Variant, ParsedArgon2, PasswordAlgorithm, PasswordConfig, StoredHash,
    ARGON2_HASH_BYTES, ARGON2_MAX_M_KIB, ARGON2_MAX_P, ARGON2_MAX_WORK_KIB, ARGON2_MIN_M_KIB,
    ARGON2_SALT_BYTES, MAX_COST, MAX_IMPORT_COST, MAX_PASSWORD_BYTES, MIN_COST,
};
use auth_core::AuthError;
use libfuzzer_sys::fuzz_target;

/// A message with every run of digits replaced by `N`.
fn template(message: &str) -> String {
    let mut out = String::new();
    for c in message.chars() {
        if c.is_ascii_digit() {
            if !out.ends_with('N') {
                out.push('N');
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Every message a refused stored hash may get (compared with digit runs replaced by `N`).
const TEMPLATES: &[&str] = &[
    "not a supported password hash: accepted are bcrypt ($2a$, $2b$, $2y$) and argon2id or argon2i PHC strings ($argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<hash>)",
    "malformed argon2 hash: expected $argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<hash> (or $argon2i$)",
    "malformed argon2 hash: argon2d is not accepted for passwords (argon2id or argon2i only)",
    "malformed argon2 hash: argon2 version 16 is not accepted (only v=19)",
    "malformed argon2 hash: the parameters must be m, t and p, in that order, in decimal",
    "malformed argon2 hash: the salt is not unpadded base64",
    "malformed argon2 hash: the hash is not unpadded base64",
    "malformed argon2 hash: the salt is N bytes, not N to N",
    "malformed argon2 hash: the hash is N bytes, not N to N",
    "argon2 hash has t or p below N, or less than N KiB of memory a lane",
    "argon2 hash uses N KiB of memory; a stored hash may use at most N",
    "argon2 hash has N lanes; a stored hash may have at most N",
    "argon2 work m*t is N KiB; at most N (m=N KiB, t=N)",
    "bcrypt hash has cost N; an imported hash must have a cost from N to N",
    "bcrypt cost N is above N",
];

fn fixed_template(e: &AuthError) {
    assert_eq!(e.sqlstate(), "22023", "{e:?}");
    let t = template(&e.message());
    assert!(TEMPLATES.iter().any(|k| template(k) == t), "{t}");
}

/// The length of canonical unpadded base64 for `n` bytes.
fn b64_len(n: usize) -> usize {
    (n * 4).div_ceil(3)
}

fn check_argon2(hash: &str, a: &ParsedArgon2) {
    let v = match a.variant {
        Argon2Variant::Argon2id => "argon2id",
        Argon2Variant::Argon2i => "argon2i",
    };
    let Argon2Params { m_kib, t, p } = a.params;
    let prefix = format!("${v}$v=19$m={m_kib},t={t},p={p}$");
    assert!(hash.starts_with(&prefix), "{hash}");
    let fields: Vec<&str> = hash[prefix.len()..].split('$').collect();
    assert_eq!(fields.len(), 2);
    assert!((8..=64).contains(&a.salt_len) && (16..=64).contains(&a.hash_len));
    assert_eq!(fields[0].len(), b64_len(a.salt_len));
    assert_eq!(fields[1].len(), b64_len(a.hash_len));

    // The crate's PHC parser reads the same (its salt type holds at most 64 characters).
    if fields[0].len() <= 64 {
        let theirs = argon2::PasswordHash::new(hash).expect("the crate parses what we accept");
        assert_eq!(theirs.algorithm.as_str(), v);
        assert_eq!(theirs.version, Some(19));
        let names: Vec<&str> = theirs.params.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["m", "t", "p"]);
        let value = |n: &str| theirs.params.get_decimal(n).unwrap();
        assert_eq!((value("m"), value("t"), value("p")), (m_kib, t, p));
        let mut salt = [0u8; 64];
        let salt = theirs.salt.unwrap().decode_b64(&mut salt).unwrap();
        assert_eq!(salt.len(), a.salt_len);
        assert_eq!(theirs.hash.unwrap().len(), a.hash_len);
    }

    // Caps: verifiable (and importable) exactly within them, whatever is configured.
    let within = m_kib <= ARGON2_MAX_M_KIB
        && (1..=ARGON2_MAX_P).contains(&p)
        && t >= 1
        && u64::from(m_kib) >= 8 * u64::from(p)
        && u64::from(m_kib) * u64::from(t) <= ARGON2_MAX_WORK_KIB;
    assert_eq!(a.params.check_stored().is_ok(), within);
    assert_eq!(password::check_importable(hash).is_ok(), within);
    let stored = StoredHash::Argon2(*a);
    for config in configs(&a.params) {
        assert_eq!(password::verifiable(&stored, &config), within);
        let same = config.algorithm == PasswordAlgorithm::Argon2id
            && a.variant == Argon2Variant::Argon2id
            && config.argon2 == a.params
            && a.salt_len == ARGON2_SALT_BYTES
            && a.hash_len == ARGON2_HASH_BYTES;
        assert_eq!(password::needs_rehash_for(hash, &config), !same);
    }
    if let Err(e) = a.params.check_stored() {
        fixed_template(&e);
        assert_eq!(password::check_importable(hash), Err(e.clone()));
        assert_eq!(password::verify_stored("correct horse", hash), Err(e));
    }
}

/// Configurations to compare a stored hash with: both algorithms, OWASP's and its own parameters.
fn configs(own: &Argon2Params) -> Vec<PasswordConfig> {
    let mut out = Vec::new();
    for algorithm in [PasswordAlgorithm::Bcrypt, PasswordAlgorithm::Argon2id] {
        for argon2 in [Argon2Params::OWASP, *own] {
            for bcrypt_cost in [MIN_COST, 10] {
                out.push(PasswordConfig {
                    algorithm,
                    bcrypt_cost,
                    argon2,
                });
            }
        }
    }
    out
}

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

    // Stored hashes of either algorithm.
    match password::parse_stored_hash(hash) {
        Ok(StoredHash::Bcrypt(parsed)) => {
            assert_eq!(password::parse_hash(hash), Some(parsed));
            for config in configs(&Argon2Params::OWASP) {
                let want = config.algorithm != PasswordAlgorithm::Bcrypt
                    || parsed.cost != config.bcrypt_cost;
                assert_eq!(password::needs_rehash_for(hash, &config), want);
                assert_eq!(
                    password::verifiable(&StoredHash::Bcrypt(parsed), &config),
                    parsed.cost <= MAX_COST
                        && password::verifiable_cost(parsed.cost, config.bcrypt_cost)
                );
            }
            match password::check_importable(hash) {
                Ok(()) => assert!(parsed.cost <= MAX_IMPORT_COST),
                Err(e) => {
                    assert!(parsed.cost > MAX_IMPORT_COST);
                    fixed_template(&e);
                }
            }
        }
        Ok(StoredHash::Argon2(a)) => {
            assert!(password::parse_hash(hash).is_none());
            assert_eq!(password::parse_argon2_hash(hash), Ok(a));
            check_argon2(hash, &a);
        }
        Err(e) => {
            fixed_template(&e);
            assert!(password::parse_hash(hash).is_none());
            if hash.starts_with("$argon2") {
                assert_eq!(password::parse_argon2_hash(hash), Err(e.clone()));
                assert!(e.message().starts_with("malformed argon2 hash: "));
            } else {
                assert!(e.message().starts_with("not a supported password hash: "));
            }
            for config in configs(&Argon2Params::OWASP) {
                assert!(!password::needs_rehash_for(hash, &config));
            }
            match password::check_importable(hash) {
                Ok(()) => unreachable!("imported a value that is not a hash: {hash:?}"),
                Err(i) => fixed_template(&i),
            }
            if password::check_password(pw).is_ok() {
                assert_eq!(password::verify_stored(pw, hash), Err(e));
            }
        }
    }
    if let Ok(a) = password::parse_argon2_hash(hash) {
        assert!(hash.starts_with("$argon2"));
        assert_eq!(password::parse_stored_hash(hash), Ok(StoredHash::Argon2(a)));
    }

    // Parameters from the input's bytes: the bounds of written ones imply those of stored ones,
    // and the dummy hash of any parameters parses back to them.
    let word = |i: usize| {
        let mut b = [0u8; 4];
        for (k, slot) in b.iter_mut().enumerate() {
            *slot = data.get(i * 4 + k).copied().unwrap_or(0);
        }
        u32::from_le_bytes(b)
    };
    let params = Argon2Params {
        m_kib: word(0),
        t: word(1),
        p: word(2),
    };
    let written = params.check();
    assert_eq!(
        written.is_ok(),
        (ARGON2_MIN_M_KIB..=ARGON2_MAX_M_KIB).contains(&params.m_kib)
            && params.t >= 1
            && (1..=ARGON2_MAX_P).contains(&params.p)
            && params.work_kib() <= ARGON2_MAX_WORK_KIB
    );
    if written.is_ok() {
        assert_eq!(params.check_stored(), Ok(()));
    }
    let dummy = password::dummy_argon2_hash(&params);
    let parsed = password::parse_argon2_hash(&dummy).expect("a dummy hash parses");
    assert_eq!(
        parsed,
        ParsedArgon2 {
            variant: Argon2Variant::Argon2id,
            params,
            salt_len: ARGON2_SALT_BYTES,
            hash_len: ARGON2_HASH_BYTES,
        }
    );
    check_argon2(&dummy, &parsed);

    assert_eq!(
        PasswordAlgorithm::from_name(hash).map(PasswordAlgorithm::name),
        ["bcrypt", "argon2id"].into_iter().find(|n| *n == hash)
    );
});
