//! Email addresses of users (`auth.users.email`): the one rule for what is accepted and how it is
//! stored, so that lookups (`auth.request_password_reset` by address) and uniqueness agree.
//!
//! Deliberately permissive about the parts (mail systems differ): 3 to 254 characters, exactly one
//! `@` with a non-empty part on each side, no whitespace and no control characters. Stored
//! lower-cased (Unicode lower case), so `Ann@Example.com` and `ann@example.com` are one address.

use crate::error::AuthError;

/// Longest address accepted, in characters (RFC 5321's path limit less the angle brackets).
pub const MAX_LEN: usize = 254;

/// The stored form of `email`, or 22023 naming what is wrong (never echoing the address).
pub fn normalize(email: &str) -> Result<String, AuthError> {
    let refuse = |why: &str| {
        Err(AuthError::InvalidParameter(format!(
            "email is not a valid address: {why}"
        )))
    };
    // Checked once lower-cased: lower case can lengthen a text (U+0130 becomes two characters),
    // and what is stored must pass again.
    if email.len() > 4 * MAX_LEN {
        return refuse("it must be 3 to 254 characters");
    }
    let lower = email.to_lowercase();
    let len = lower.chars().count();
    if !(3..=MAX_LEN).contains(&len) {
        return refuse("it must be 3 to 254 characters");
    }
    if lower.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return refuse("it contains whitespace or control characters");
    }
    let mut parts = lower.split('@');
    let (local, domain) = (parts.next(), parts.next());
    match (local, domain, parts.next()) {
        (Some(l), Some(d), None) if !l.is_empty() && !d.is_empty() => {}
        _ => return refuse("it must have one @ with a name on each side"),
    }
    Ok(lower)
}

/// The stored form of `input` when it is a valid address, else None: for looking an address up
/// without raising.
pub fn lookup_key(input: &str) -> Option<String> {
    normalize(input).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lower_cases_valid_addresses() {
        assert_eq!(normalize("Ann@Example.COM").unwrap(), "ann@example.com");
        assert_eq!(normalize("a@b").unwrap(), "a@b");
        assert_eq!(normalize("ÉLODIE@exemple.fr").unwrap(), "élodie@exemple.fr");
        // Stored values pass again, unchanged.
        for stored in ["ann@example.com", "i\u{307}@x.y"] {
            assert_eq!(normalize(stored).unwrap(), stored);
        }
        // Lower case that lengthens past the limit is refused.
        let dotted = format!("{}@x.y", "\u{130}".repeat(126));
        assert_eq!(dotted.chars().count(), 130);
        assert!(normalize(&dotted).is_err());
    }

    #[test]
    fn refuses_malformed_addresses() {
        for bad in [
            "",
            "ab",
            "plain",
            "@example.com",
            "ann@",
            "a@b@c",
            "ann @example.com",
            "ann@example.com\n",
            "ann\u{0}@x.y",
            "\t@x.y",
        ] {
            let err = normalize(bad).unwrap_err();
            assert_eq!(err.sqlstate(), "22023", "{bad:?}");
            assert!(!bad.is_empty() && !err.message().contains(bad) || bad.is_empty());
        }
        let long = format!("{}@example.com", "a".repeat(243));
        assert!(normalize(&long).is_err());
        let max = format!("{}@example.com", "a".repeat(242));
        assert_eq!(max.chars().count(), 254);
        assert!(normalize(&max).is_ok());
    }

    #[test]
    fn lookup_key_never_raises() {
        assert_eq!(lookup_key("X@Y.z").as_deref(), Some("x@y.z"));
        assert_eq!(lookup_key("not an address"), None);
    }
}
