//! Email addresses (`auth.users.email`): `email::normalize` and `email::lookup_key` on arbitrary
//! text.
//!
//! Invariants: a refusal is `InvalidParameter` (22023) with one of the fixed reasons (never the
//! address); an accepted address is 3 to 254 characters, lower case, with exactly one `@` and a
//! non-empty part on each side, no whitespace or control character, and normalizing it again
//! gives it back (what the trigger stores passes the trigger); `lookup_key` agrees with
//! `normalize`.
#![no_main]

use auth_core::email::{self, MAX_LEN};
use auth_core::error::AuthError;
use libfuzzer_sys::fuzz_target;

const REASONS: [&str; 3] = [
    "email is not a valid address: it must be 3 to 254 characters",
    "email is not a valid address: it contains whitespace or control characters",
    "email is not a valid address: it must have one @ with a name on each side",
];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let result = email::normalize(text);
    assert_eq!(email::lookup_key(text), result.as_ref().ok().cloned());
    match result {
        Ok(stored) => {
            let n = stored.chars().count();
            assert!((3..=MAX_LEN).contains(&n), "{n}");
            assert!(!stored.chars().any(|c| c.is_whitespace() || c.is_control()));
            let (local, domain) = stored.split_once('@').expect("an @");
            assert!(!local.is_empty() && !domain.is_empty() && !domain.contains('@'));
            assert_eq!(email::normalize(&stored).as_deref(), Ok(stored.as_str()));
            assert_eq!(stored, text.to_lowercase());
        }
        Err(AuthError::InvalidParameter(m)) => assert!(REASONS.contains(&m.as_str()), "{m}"),
        Err(other) => panic!("normalize cannot fail with {other:?}"),
    }
});
