//! Password hashing and checking: bcrypt through `auth_core::password`.
//!
//! `hash_password` and `verify_password` are the public API (granted by the documented snippets, not
//! to PUBLIC); the `_`-prefixed helpers serve the `auth.users` trigger and the login flow in
//! `sql/users.sql` and `sql/sessions.sql`.
//!
//! Errors: an empty password or one over 72 bytes is 22023 (never truncated); a stored hash that is
//! not `$2a$`/`$2b$`/`$2y$` bcrypt is 22P02; a bcrypt cost over 20 is 22023.

use auth_core::password;
use auth_core::AuthError;
use pgrx::prelude::*;

use crate::error::{raise, OrRaise};
use crate::gucs;

fn required<'a>(value: Option<&'a str>, what: &str) -> &'a str {
    value.unwrap_or_else(|| {
        raise(AuthError::InvalidParameter(format!(
            "{what} must not be NULL"
        )))
    })
}

/// A new `$2a$` bcrypt hash at cost `auth.bcrypt_cost`; a fresh salt each call, hence VOLATILE.
#[pg_extern(volatile, strict, parallel_safe)]
fn hash_password(password: &str) -> String {
    password::hash(password, gucs::bcrypt_cost()).or_raise()
}

/// Whether `password` matches a `$2a$`, `$2b$` or `$2y$` bcrypt hash (pgcrypto's `crypt()` ones
/// included). Raises 22023 for an empty or over-72-byte password, 22P02 for a malformed hash.
#[pg_extern(immutable, strict, parallel_safe)]
fn verify_password(password: &str, hash: &str) -> bool {
    password::verify(password, hash).or_raise()
}

/// Raises 22023 for a password bcrypt cannot take whole (empty, over 72 bytes); NULL is 22023 too.
#[pg_extern(immutable, parallel_safe)]
fn _check_password(password: Option<&str>) {
    password::check_password(required(password, "password")).or_raise()
}

/// What the `auth.users` trigger stores for a `password` value: a bcrypt hash is kept as it is
/// (imported from pgcrypto, say), anything else is taken as a plaintext password and hashed.
/// A bcrypt-shaped value whose cost is above 20 is refused (22023): it could never be verified.
#[pg_extern(volatile, strict, parallel_safe)]
fn _password_to_store(password: &str) -> String {
    match password::parse_hash(password) {
        Some(parsed) if parsed.cost > password::MAX_COST => {
            raise(AuthError::InvalidParameter(format!(
                "bcrypt hash has cost {}, above the maximum {}",
                parsed.cost,
                password::MAX_COST
            )))
        }
        Some(_) => password.to_owned(),
        None => password::hash(password, gucs::bcrypt_cost()).or_raise(),
    }
}

/// The login check. With no stored hash (unknown user) it verifies against a dummy hash of cost
/// `auth.bcrypt_cost` and answers false, so that unknown users cost what known ones do. A stored
/// value that cannot be verified (not bcrypt, cost over 20) also answers false after the same work:
/// login fails closed instead of raising. The password itself must pass [`_check_password`].
#[pg_extern(stable, parallel_safe)]
fn _login_password_matches(password: Option<&str>, hash: Option<&str>) -> bool {
    let password = required(password, "password");
    password::check_password(password).or_raise();
    let dummy = || {
        let _ = password::verify(password, &password::dummy_hash(gucs::bcrypt_cost()));
        false
    };
    match hash {
        Some(hash) => password::verify(password, hash).unwrap_or_else(|_| dummy()),
        None => dummy(),
    }
}

/// True when a stored hash's cost is below `auth.bcrypt_cost`, so a successful login re-hashes it.
#[pg_extern(stable, strict, parallel_safe)]
fn _password_needs_rehash(hash: &str) -> bool {
    password::needs_rehash(hash, gucs::bcrypt_cost())
}
