//! Password hashing and checking: bcrypt through `auth_core::password`.
//!
//! `hash_password` and `verify_password` are the public API (granted by the documented snippets, not
//! to PUBLIC); the `_`-prefixed helpers serve the `auth.users` trigger and the login flow in
//! `sql/users.sql` and `sql/sessions.sql`.
//!
//! Errors: an empty password or one over 72 bytes is 22023 (never truncated); a stored hash that is
//! not `$2a$`/`$2b$`/`$2y$` bcrypt is 22P02; a bcrypt cost over 20 is 22023.

use std::cell::RefCell;

use auth_core::password;
use auth_core::AuthError;
use pgrx::prelude::*;
use pgrx::{PgLogLevel, PgSqlErrorCode};

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
#[pg_extern(immutable, parallel_safe, schema = "auth_private")]
fn _check_password(password: Option<&str>) {
    password::check_password(required(password, "password")).or_raise()
}

thread_local! {
    /// The one hash `auth.import_user` is inserting in this transaction (cleared at its end).
    static PENDING_IMPORT: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Forgets a pending import when its transaction ends, committed or not.
#[pg_guard]
unsafe extern "C-unwind" fn clear_pending_import(
    event: pg_sys::XactEvent::Type,
    _arg: *mut std::ffi::c_void,
) {
    if matches!(
        event,
        pg_sys::XactEvent::XACT_EVENT_COMMIT
            | pg_sys::XactEvent::XACT_EVENT_ABORT
            | pg_sys::XactEvent::XACT_EVENT_PARALLEL_COMMIT
            | pg_sys::XactEvent::XACT_EVENT_PARALLEL_ABORT
            | pg_sys::XactEvent::XACT_EVENT_PREPARE
    ) {
        PENDING_IMPORT.set(None);
    }
}

/// Registers the transaction callback that keeps a pending import from outliving its transaction.
pub fn init() {
    // SAFETY: registering a static callback once per backend, from _PG_init.
    unsafe { pg_sys::RegisterXactCallback(Some(clear_pending_import), std::ptr::null_mut()) };
}

/// `auth_private._expect_imported_hash(hash)`: checks an existing bcrypt hash for import (well
/// formed, cost 4 to 14: 22P02 / 22023 otherwise) and lets the `auth.users` trigger store exactly
/// this value once, in this transaction, instead of hashing it as a password. Superuser only
/// (42501): it is the path by which a stored hash is chosen by the caller.
#[pg_extern(volatile, parallel_unsafe, schema = "auth_private")]
fn _expect_imported_hash(hash: Option<&str>) {
    // SAFETY: reads the current user's superuser flag.
    if !unsafe { pg_sys::superuser() } {
        pgrx::pg_sys::panic::ErrorReport::new(
            PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
            "only a superuser (the extension owner) can import password hashes",
            "",
        )
        .report(PgLogLevel::ERROR);
    }
    let hash = required(hash, "password_hash");
    password::check_importable_hash(hash).or_raise();
    PENDING_IMPORT.set(Some(hash.to_owned()));
}

/// `auth_private._keep_superuser_hash(value)`: the `auth.users` trigger calls it when a superuser
/// writes a password (pg_restore reloading a dump, the extension owner by hand). A well-formed
/// bcrypt hash of a cost login verifies (at most 14, or `auth.bcrypt_cost` when higher) is then
/// stored as written instead of being hashed as a password, so a restored database keeps its
/// users' passwords. Does nothing for anyone else, or for any other value.
#[pg_extern(volatile, strict, parallel_unsafe, schema = "auth_private")]
fn _keep_superuser_hash(value: &str) {
    // SAFETY: reads the current user's superuser flag.
    if !unsafe { pg_sys::superuser() } {
        return;
    }
    if let Some(parsed) = password::parse_hash(value) {
        if password::verifiable_cost(parsed.cost, gucs::bcrypt_cost()) {
            PENDING_IMPORT.set(Some(value.to_owned()));
        }
    }
}

/// What the `auth.users` trigger stores for a `password` value: a new `$2a$` hash at
/// `auth.bcrypt_cost` of whatever was written, taken as a password — also when it looks like a
/// bcrypt hash (a stored hash chosen by the writer could carry any cost and pin a backend at each
/// login). The one exception is the hash `auth.import_user` is inserting in this transaction.
#[pg_extern(volatile, strict, parallel_safe, schema = "auth_private")]
fn _password_to_store(password: &str) -> String {
    let imported = PENDING_IMPORT.with_borrow_mut(|pending| {
        if pending.as_deref() == Some(password) {
            pending.take()
        } else {
            None
        }
    });
    imported.unwrap_or_else(|| password::hash(password, gucs::bcrypt_cost()).or_raise())
}

/// The login check. With no stored hash (unknown user) it verifies against a dummy hash of cost
/// `auth.bcrypt_cost` and answers false, so that unknown users cost what known ones do. A stored
/// value that cannot be verified (not bcrypt, or a cost above what login verifies: 14 or
/// `auth.bcrypt_cost` if higher) also answers false after the same work: login fails closed
/// instead of raising or pinning the backend. The password itself must pass [`_check_password`].
#[pg_extern(stable, parallel_safe, schema = "auth_private")]
fn _login_password_matches(password: Option<&str>, hash: Option<&str>) -> bool {
    let password = required(password, "password");
    password::check_password(password).or_raise();
    let configured = gucs::bcrypt_cost();
    let dummy = || {
        let _ = password::verify(password, &password::dummy_hash(configured));
        false
    };
    match hash.and_then(|h| password::parse_hash(h).map(|p| (h, p))) {
        Some((hash, parsed)) if password::verifiable_cost(parsed.cost, configured) => {
            password::verify(password, hash).unwrap_or_else(|_| dummy())
        }
        _ => dummy(),
    }
}

/// True when a stored hash's cost differs from `auth.bcrypt_cost`, so a successful login
/// re-hashes it at the configured cost.
#[pg_extern(stable, strict, parallel_safe, schema = "auth_private")]
fn _password_needs_rehash(hash: &str) -> bool {
    password::needs_rehash(hash, gucs::bcrypt_cost())
}
