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

pub fn parse_hash(hash: &str) -> Option<ParsedHash> {
    let b = hash.as_bytes();
    if b.len() != 60
        || !(hash.starts_with("$2a$") || hash.starts_with("$2b$") || hash.starts_with("$2y$"))
    {
        return None;
    }
    if !b[4].is_ascii_digit() || !b[5].is_ascii_digit() || b[6] != b'$' {
        return None;
    }
    let cost = u32::from(b[4] - b'0') * 10 + u32::from(b[5] - b'0');
    let body_ok = b[7..]
        .iter()
        .all(|&c| c.is_ascii_alphanumeric() || c == b'.' || c == b'/');
    (body_ok && (MIN_COST..=31).contains(&cost)).then_some(ParsedHash { cost })
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
    let parsed = parse_hash(hash)
        .ok_or_else(|| AuthError::InvalidText("not a bcrypt hash ($2a$, $2b$ or $2y$)".into()))?;
    if parsed.cost > MAX_COST {
        return Err(AuthError::InvalidParameter(format!(
            "bcrypt cost {} is above {MAX_COST}",
            parsed.cost
        )));
    }
    bcrypt::verify(password, hash)
        .map_err(|_| AuthError::InvalidText("not a bcrypt hash ($2a$, $2b$ or $2y$)".into()))
}

/// A well-formed hash of the given cost that no password matches in practice: verifying against it
/// costs what verifying a real user's hash costs, so unknown users are not told apart by timing.
pub fn dummy_hash(cost: u32) -> String {
    format!("$2a${cost:02}$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW")
}

/// True when a successful login should replace the stored hash with one at `cost`: whenever the
/// stored cost differs, lower or higher.
pub fn needs_rehash(hash: &str, cost: u32) -> bool {
    parse_hash(hash).is_some_and(|p| p.cost != cost)
}

/// The highest cost `auth.import_user` accepts.
pub const MAX_IMPORT_COST: u32 = 14;

/// An existing hash offered for import: a well-formed bcrypt hash (22P02 otherwise) of cost
/// 4..=MAX_IMPORT_COST (22023 otherwise). Never echoes the hash.
pub fn check_importable_hash(hash: &str) -> Result<(), AuthError> {
    let parsed = parse_hash(hash).ok_or_else(|| {
        AuthError::InvalidText("password_hash is not a $2a$/$2b$/$2y$ bcrypt hash".into())
    })?;
    if parsed.cost > MAX_IMPORT_COST {
        return Err(AuthError::InvalidParameter(format!(
            "password_hash has bcrypt cost {}; imports accept at most {MAX_IMPORT_COST}",
            parsed.cost
        )));
    }
    Ok(())
}

/// Whether login verifies a stored hash of this cost: at most MAX_IMPORT_COST, or the configured
/// cost when that is higher. A higher cost could only have been planted, and would pin a backend.
pub fn verifiable_cost(cost: u32, configured: u32) -> bool {
    cost <= MAX_IMPORT_COST.max(configured)
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

    #[test]
    fn costs_and_rehash() {
        assert!(check_cost(3).is_err());
        assert!(check_cost(21).is_err());
        assert!(needs_rehash(
            "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
            10
        ));
        assert!(!needs_rehash(
            "$2a$10$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
            10
        ));
        assert_eq!(parse_hash(&dummy_hash(12)).unwrap().cost, 12);
        assert!(!verify("anything", &dummy_hash(4)).unwrap());
    }
}
