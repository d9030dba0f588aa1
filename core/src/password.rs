//! bcrypt password hashing, compatible with pgcrypto's `crypt(p, gen_salt('bf'))`.
//!
//! We write `$2a$` hashes (the only prefix pgcrypto's `crypt()` accepts) and verify `$2a$`, `$2b$`
//! and `$2y$`. bcrypt reads at most 72 bytes: longer passwords are refused, never truncated.

use crate::AuthError;

pub const MAX_PASSWORD_BYTES: usize = 72;
pub const MIN_COST: u32 = 4;
/// Above this one hash takes minutes, and a bcrypt call cannot be interrupted: refused both for
/// hashing and in stored hashes (which could otherwise pin a backend).
pub const MAX_COST: u32 = 20;

/// A bcrypt hash we accept: `$2a$`/`$2b$`/`$2y$`, two-digit cost, 53 characters of bcrypt base64.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParsedHash {
    pub cost: u32,
}

/// The cost digits of a text shaped like a bcrypt hash (any two digits, 00 to 99), else `None`.
fn shaped_cost(hash: &str) -> Option<u32> {
    let b = hash.as_bytes();
    if b.len() != 60
        || !(hash.starts_with("$2a$") || hash.starts_with("$2b$") || hash.starts_with("$2y$"))
    {
        return None;
    }
    if !b[4].is_ascii_digit() || !b[5].is_ascii_digit() || b[6] != b'$' {
        return None;
    }
    let body_ok = b[7..]
        .iter()
        .all(|&c| c.is_ascii_alphanumeric() || c == b'.' || c == b'/');
    body_ok.then(|| u32::from(b[4] - b'0') * 10 + u32::from(b[5] - b'0'))
}

/// A bcrypt hash of a cost bcrypt defines (4 to 31), else `None`.
pub fn parse_hash(hash: &str) -> Option<ParsedHash> {
    shaped_cost(hash)
        .filter(|cost| (MIN_COST..=31).contains(cost))
        .map(|cost| ParsedHash { cost })
}

fn not_bcrypt() -> AuthError {
    AuthError::InvalidText("not a bcrypt hash ($2a$, $2b$ or $2y$)".into())
}

/// The highest cost of a hash stored as it is given (imported from pgcrypto, say). A hash of
/// cost 15 already takes a few seconds to verify, and one bcrypt call cannot be interrupted.
pub const MAX_IMPORT_COST: u32 = 14;

/// Whether a ready-made bcrypt hash may be stored as a password hash: a `$2a$`, `$2b$` or `$2y$`
/// hash of the documented shape whose cost is from [`MIN_COST`] to [`MAX_IMPORT_COST`].
///
/// Errors: a hash-shaped value whose cost is outside that range is 22023 (`InvalidParameter`),
/// naming its cost and the range; anything else, the empty text included, is 22P02
/// (`InvalidText`, "not a bcrypt hash ($2a$, $2b$ or $2y$)"). The hash itself is never in a
/// message.
pub fn check_importable_hash(hash: &str) -> Result<(), AuthError> {
    let cost = shaped_cost(hash).ok_or_else(not_bcrypt)?;
    if (MIN_COST..=MAX_IMPORT_COST).contains(&cost) {
        Ok(())
    } else {
        Err(AuthError::InvalidParameter(format!(
            "bcrypt hash has cost {cost}; an imported hash must have a cost from {MIN_COST} to {MAX_IMPORT_COST}"
        )))
    }
}

/// Whether a stored hash of cost `cost` is verified at login when `auth.bcrypt_cost` is
/// `configured`: only when `cost <= max(MAX_IMPORT_COST, configured)`. A stored hash of higher
/// cost (planted, or left from a higher setting since lowered) would pin a backend for up to
/// minutes; the login then fails as for a wrong password, after the usual dummy work. Costs
/// below [`MIN_COST`] are not bcrypt and never reach this: [`parse_hash`] refuses them.
pub fn verifiable_cost(cost: u32, configured: u32) -> bool {
    cost <= MAX_IMPORT_COST.max(configured)
}

pub fn check_password(password: &str) -> Result<(), AuthError> {
    if password.is_empty() {
        return Err(AuthError::InvalidParameter(
            "password must not be empty".into(),
        ));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(AuthError::InvalidParameter(format!(
            "password is {} bytes; bcrypt uses at most {MAX_PASSWORD_BYTES}, and it is never truncated",
            password.len()
        )));
    }
    Ok(())
}

pub fn check_cost(cost: u32) -> Result<(), AuthError> {
    if (MIN_COST..=MAX_COST).contains(&cost) {
        Ok(())
    } else {
        Err(AuthError::InvalidParameter(format!(
            "bcrypt cost {cost} is outside {MIN_COST}..{MAX_COST}"
        )))
    }
}

pub fn hash(password: &str, cost: u32) -> Result<String, AuthError> {
    check_password(password)?;
    check_cost(cost)?;
    bcrypt::hash_with_result(password, cost)
        .map(|parts| parts.format_for_version(bcrypt::Version::TwoA))
        .map_err(|e| AuthError::Internal(format!("bcrypt failed: {e}")))
}

/// Checks a password against a stored hash. A hash that is not bcrypt as described above is an
/// error (22P02), as is one whose cost is over [`MAX_COST`] (22023).
pub fn verify(password: &str, hash: &str) -> Result<bool, AuthError> {
    check_password(password)?;
    let parsed = parse_hash(hash).ok_or_else(not_bcrypt)?;
    if parsed.cost > MAX_COST {
        return Err(AuthError::InvalidParameter(format!(
            "bcrypt cost {} is above {MAX_COST}",
            parsed.cost
        )));
    }
    bcrypt::verify(password, hash).map_err(|_| not_bcrypt())
}

/// A well-formed hash of the given cost that no password matches in practice: verifying against it
/// costs what verifying a real user's hash costs, so unknown users are not told apart by timing.
pub fn dummy_hash(cost: u32) -> String {
    format!("$2a${cost:02}$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW")
}

/// True when a successful login should replace the stored hash with one at `cost` (the configured
/// `auth.bcrypt_cost`): whenever the stored hash's cost differs, lower or higher. Every user's
/// hash then converges on the cost the dummy hash of unknown users has, so a login's duration
/// does not tell users apart. False for a value that is not a bcrypt hash (it cannot have
/// matched a password).
pub fn needs_rehash(hash: &str, cost: u32) -> bool {
    parse_hash(hash).is_some_and(|p| p.cost != cost)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_2a_and_verify() {
        let h = hash("correct horse", 4).unwrap();
        assert!(h.starts_with("$2a$04$"), "{h}");
        assert_eq!(parse_hash(&h), Some(ParsedHash { cost: 4 }));
        assert!(verify("correct horse", &h).unwrap());
        assert!(!verify("wrong horse", &h).unwrap());
    }

    #[test]
    fn known_hashes_of_each_prefix() {
        // OpenBSD/John the Ripper vectors: "U*U" under $2a$ and the same hash relabelled $2b$/$2y$.
        let h = "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW";
        assert!(verify("U*U", h).unwrap());
        assert!(verify("U*U", &h.replace("$2a$", "$2b$")).unwrap());
        assert!(verify("U*U", &h.replace("$2a$", "$2y$")).unwrap());
        assert!(!verify("U*V", h).unwrap());
    }

    #[test]
    fn refuses_empty_and_long_passwords() {
        let h = hash("x", 4).unwrap();
        assert_eq!(hash("", 4).unwrap_err().sqlstate(), "22023");
        assert_eq!(verify("", &h).unwrap_err().sqlstate(), "22023");
        assert!(hash(&"a".repeat(72), 4).is_ok());
        assert_eq!(hash(&"a".repeat(73), 4).unwrap_err().sqlstate(), "22023");
        // 72 bytes, not characters: 24 three-byte characters fit, 25 do not.
        assert!(check_password(&"€".repeat(24)).is_ok());
        assert!(check_password(&"€".repeat(25)).is_err());
    }

    #[test]
    fn malformed_hashes_are_22p02() {
        for bad in [
            "",
            "plain",
            "$2x$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
            "$2a$5$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeWx",
            "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOe",
            "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOe!",
            "$1$abc$def",
            "$2a$03$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
        ] {
            assert_eq!(verify("pw", bad).unwrap_err().sqlstate(), "22P02", "{bad}");
        }
        assert_eq!(
            verify(
                "pw",
                "$2a$31$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"
            )
            .unwrap_err()
            .sqlstate(),
            "22023"
        );
    }

    /// The OpenBSD "U*U" vector's salt and checksum under another prefix and cost.
    fn vector(prefix: &str, cost: &str) -> String {
        format!("${prefix}${cost}$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW")
    }

    #[test]
    fn costs_and_rehash() {
        assert!(check_cost(3).is_err());
        assert!(check_cost(21).is_err());
        for prefix in ["2a", "2b", "2y"] {
            // Lower and higher than configured both re-hash; equal does not.
            assert!(needs_rehash(&vector(prefix, "05"), 10));
            assert!(needs_rehash(&vector(prefix, "12"), 10));
            assert!(needs_rehash(&vector(prefix, "31"), 10));
            assert!(!needs_rehash(&vector(prefix, "10"), 10));
            assert!(!needs_rehash(&vector(prefix, "04"), 4));
        }
        for not_a_hash in ["", "plain", &vector("2x", "05"), &vector("2a", "03")] {
            assert!(!needs_rehash(not_a_hash, 10), "{not_a_hash}");
        }
        assert_eq!(parse_hash(&dummy_hash(12)).unwrap().cost, 12);
        assert!(!verify("anything", &dummy_hash(4)).unwrap());
        // A real hash of cost 4 re-hashes under a configured 5, not under 4.
        let h = hash("pw", 4).unwrap();
        assert!(needs_rehash(&h, 5));
        assert!(!needs_rehash(&h, 4));
    }

    #[test]
    fn importable_hashes() {
        for prefix in ["2a", "2b", "2y"] {
            for cost in ["04", "05", "10", "14"] {
                assert_eq!(check_importable_hash(&vector(prefix, cost)), Ok(()));
            }
        }
        // The imported vector still verifies: it is what it claims to be.
        assert!(verify("U*U", &vector("2y", "05")).unwrap());
        assert_eq!(check_importable_hash(&hash("pw", 4).unwrap()), Ok(()));
        assert_eq!(check_importable_hash(&dummy_hash(MAX_IMPORT_COST)), Ok(()));

        for (cost, n) in [
            ("15", 15),
            ("20", 20),
            ("31", 31),
            ("99", 99),
            ("03", 3),
            ("00", 0),
        ] {
            let h = vector("2b", cost);
            let e = check_importable_hash(&h).unwrap_err();
            assert_eq!(e.sqlstate(), "22023", "{h}");
            assert_eq!(
                e.message(),
                format!("bcrypt hash has cost {n}; an imported hash must have a cost from 4 to 14")
            );
            assert!(!e.message().contains("CCCC"));
        }
        let body = "CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW";
        for bad in [
            String::new(),
            "plain password".into(),
            vector("2x", "05"),
            vector("2", "05"),
            format!("$2a$5$${body}"),
            format!("$2a$05${body}x"),
            format!("$2a$05${}", &body[1..]),
            format!("$2a$05${}!", &body[1..]),
            format!("$2a$0a${body}"),
            format!("$2a$05-{body}"),
            format!("$2a$05${}é", &body[2..]),
            "$1$abc$def".into(),
            format!("$argon2id$v=19$m=65536,t=3,p=4${body}"),
        ] {
            let e = check_importable_hash(&bad).unwrap_err();
            assert_eq!(e.sqlstate(), "22P02", "{bad}");
            assert_eq!(e.message(), "not a bcrypt hash ($2a$, $2b$ or $2y$)");
        }
    }

    #[test]
    fn verifiable_costs() {
        // Up to the import cap whatever is configured; up to the configured cost above it.
        assert!(verifiable_cost(4, 4));
        assert!(verifiable_cost(MAX_IMPORT_COST, 4));
        assert!(!verifiable_cost(MAX_IMPORT_COST + 1, 4));
        assert!(!verifiable_cost(MAX_IMPORT_COST + 1, MAX_IMPORT_COST));
        assert!(verifiable_cost(15, 15));
        assert!(!verifiable_cost(16, 15));
        assert!(verifiable_cost(MAX_COST, MAX_COST));
        assert!(!verifiable_cost(MAX_COST + 1, MAX_COST));
        assert!(!verifiable_cost(31, 12));
        assert!(!verifiable_cost(u32::MAX, MAX_COST));
        // A hash at the configured cost is always verifiable: every hash we write is.
        for configured in MIN_COST..=MAX_COST {
            assert!(verifiable_cost(configured, configured));
        }
    }
}
