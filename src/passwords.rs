//! Passwords: bcrypt and argon2id through `auth_core::password`, and the policy for new passwords.
//!
//! `hash_password` and `verify_password` are the public API (granted by the documented snippets, not
//! to PUBLIC); the `_`-prefixed helpers serve the `auth.users` trigger and the login flow in
//! `sql/users.sql` and `sql/sessions.sql`.
//!
//! New hashes use `auth.password_algorithm` (bcrypt at `auth.bcrypt_cost`, or argon2id with
//! `auth.argon2_*`); stored hashes of either algorithm verify whatever is configured, and a
//! successful login re-hashes one that differs from the configuration.
//!
//! Errors: an empty password or one over 72 bytes is 22023 (never truncated), whatever the
//! algorithm; a new password under `auth.password_min_length` characters or refused by the function
//! of `auth.password_check` is 22023 with the reason (never the password). `verify_password` answers
//! 22P02 for a text that is no hash, 22023 for a bcrypt cost over 20 or an argon2 string that is
//! malformed or over the caps; `import_user` refuses anything but an importable hash with 22023.

use std::cell::RefCell;

use auth_core::password;
use auth_core::AuthError;
use pgrx::prelude::*;
use pgrx::{IntoDatum, PgLogLevel, PgSqlErrorCode};

use crate::error::{raise, OrRaise};
use crate::gucs;
use crate::owner_call;

fn config() -> password::PasswordConfig {
    gucs::password_config().or_raise()
}

/// A new hash of `password` with the configured algorithm and parameters.
fn new_hash(password: &str) -> String {
    password::hash_with(password, &config()).or_raise()
}

fn required<'a>(value: Option<&'a str>, what: &str) -> &'a str {
    value.unwrap_or_else(|| {
        raise(AuthError::InvalidParameter(format!(
            "{what} must not be NULL"
        )))
    })
}

/// A new hash with `auth.password_algorithm`: `$2a$` bcrypt at `auth.bcrypt_cost`, or an argon2id
/// PHC string with `auth.argon2_*`; a fresh salt each call, hence VOLATILE. The policy for new
/// passwords is not applied: this is the hashing primitive.
#[pg_extern(volatile, strict, parallel_safe)]
fn hash_password(password: &str) -> String {
    new_hash(password)
}

/// Whether `password` matches a `$2a$`, `$2b$` or `$2y$` bcrypt hash (pgcrypto's `crypt()` ones
/// included, any cost up to 20), or an argon2id or argon2i PHC string within the caps. Raises
/// 22023 for an empty or over-72-byte password, 22P02 for a text that is no such hash, 22023 for
/// a malformed or over-cap argon2 string. It does not depend on any setting, hence IMMUTABLE.
#[pg_extern(immutable, strict, parallel_safe)]
fn verify_password(password: &str, hash: &str) -> bool {
    password::verify_bcrypt_or_argon2(password, hash).or_raise()
}

/// Raises 22023 for a password bcrypt cannot take whole (empty, over 72 bytes); NULL is 22023 too.
#[pg_extern(immutable, parallel_safe, schema = "auth_private")]
fn _check_password(password: Option<&str>) {
    password::check_password(required(password, "password")).or_raise()
}

thread_local! {
    /// The one hash the `auth.users` trigger stores as it is in this transaction (cleared at its
    /// end): the one `auth.import_user` is inserting, a superuser's, or one [`_hash_to_store`]
    /// made for login's re-hash or `change_password`.
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

/// `auth_private._expect_imported_hash(hash)`: checks an existing hash for import (a bcrypt hash
/// of cost 4 to 14, or an argon2id or argon2i PHC string within the caps; 22023 otherwise, naming
/// the reason and never the hash) and lets the `auth.users` trigger store exactly
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
    password::check_importable(hash).or_raise();
    PENDING_IMPORT.set(Some(hash.to_owned()));
}

/// `auth_private._keep_superuser_hash(value)`: the `auth.users` trigger calls it when a superuser
/// writes a password (pg_restore reloading a dump, the extension owner by hand). A hash login
/// verifies — bcrypt of a cost at most 14 (or `auth.bcrypt_cost` when higher), or argon2id or
/// argon2i within the caps — is then stored as written instead of being hashed as a password, so
/// a restored database keeps its users' passwords. Does nothing for anyone else, or for any other
/// value.
#[pg_extern(volatile, strict, parallel_unsafe, schema = "auth_private")]
fn _keep_superuser_hash(value: &str) {
    // SAFETY: reads the current user's superuser flag.
    if !unsafe { pg_sys::superuser() } {
        return;
    }
    if let Ok(parsed) = password::parse_stored_hash(value) {
        if password::verifiable(&parsed, &config()) {
            PENDING_IMPORT.set(Some(value.to_owned()));
        }
    }
}

/// Takes the pending hash when it is `value`: the one `auth.import_user`, a superuser's write or
/// [`_hash_to_store`] marked for this transaction.
fn take_pending(value: &str) -> Option<String> {
    PENDING_IMPORT.with_borrow_mut(|pending| {
        if pending.as_deref() == Some(value) {
            pending.take()
        } else {
            None
        }
    })
}

/// The 0.1.0 trigger's helper (`_password_to_store(text)`), kept for databases that run 0.1.0's
/// SQL until `ALTER EXTENSION auth UPDATE`: a new hash of the configured algorithm, without the
/// policy (0.1.0's trigger does not pass the username).
#[pg_extern(volatile, strict, parallel_safe, schema = "auth_private", sql = false)]
fn _password_to_store(password: &str) -> String {
    take_pending(password).unwrap_or_else(|| new_hash(password))
}

/// `auth_private._password_to_store(username, password)`: what the `auth.users` trigger stores for
/// a `password` value: a new hash (`auth.password_algorithm`) of whatever was written, taken as a
/// password after the policy for new passwords ([`_check_new_password`]) — also when it looks like
/// a hash (a stored hash chosen by the writer could carry any cost and pin a backend at each
/// login, or dodge the policy). The one exception is the hash marked for this transaction:
/// `auth.import_user`'s, a superuser's ([`_keep_superuser_hash`]), or one [`_hash_to_store`] made.
#[pg_extern(
    volatile,
    parallel_unsafe,
    schema = "auth_private",
    name = "_password_to_store"
)]
fn _password_to_store_for(username: Option<&str>, password: Option<&str>) -> Option<String> {
    let password = password?;
    Some(take_pending(password).unwrap_or_else(|| {
        check_new_password(username, password);
        new_hash(password)
    }))
}

/// `auth_private._hash_to_store(password)`: a new hash of `password` (`auth.password_algorithm`),
/// marked so that the `auth.users` trigger stores it as it is. For the flows that write a password
/// the caller has already proven or checked: the re-hash of a successful login (the policy is for
/// new passwords, never for one already stored) and `change_password` (checked before it is
/// written). Nothing of the caller's choosing is stored: the value is always a hash made here.
#[pg_extern(volatile, strict, parallel_unsafe, schema = "auth_private")]
fn _hash_to_store(password: &str) -> String {
    let hash = new_hash(password);
    PENDING_IMPORT.set(Some(hash.clone()));
    hash
}

/// `auth_private._check_new_password(username, password)`: the policy for new passwords, raising
/// 22023: NULL; empty or over 72 bytes; fewer than `auth.password_min_length` characters; refused
/// by the function `auth.password_check` names (its reason in the message, never the password).
#[pg_extern(volatile, parallel_unsafe, schema = "auth_private")]
fn _check_new_password(username: Option<&str>, password: Option<&str>) {
    check_new_password(username, required(password, "password"));
}

fn check_new_password(username: Option<&str>, password: &str) {
    password::check_new_password_length(password, gucs::password_min_length()).or_raise();
    if let Some(setting) = gucs::password_check() {
        if let Some(reason) = call_password_check(&setting, username, password) {
            raise(password::policy_refusal(&reason, password));
        }
    }
}

/// What `auth.password_check` names: `schema.name(username text, password text)` returning text.
const PASSWORD_CHECK: owner_call::Signature = owner_call::Signature {
    setting: "auth.password_check",
    arg_types: &[pg_sys::TEXTOID, pg_sys::TEXTOID],
    args: "username text, password text",
    returns: pg_sys::TEXTOID,
    returns_name: "text",
};

/// Calls the function `auth.password_check` names with (username, password), as its owner
/// ([`owner_call`]). Returns its answer (NULL: accepted). A setting that names no such function
/// is 22023.
fn call_password_check(setting: &str, username: Option<&str>, password: &str) -> Option<String> {
    let found = owner_call::find(&PASSWORD_CHECK, setting);
    owner_call::call(
        &PASSWORD_CHECK,
        found,
        &[username.into_datum(), password.into_datum()],
    )
}

/// The login check, whatever `auth.password_algorithm` says: a stored bcrypt hash of a cost login
/// verifies (at most 14, or `auth.bcrypt_cost` when higher) or argon2 hash within the caps is
/// verified. With no stored hash (unknown user), or one login does not verify, it answers false
/// after verifying against a dummy hash of the configured algorithm and parameters: unknown users
/// cost what known ones do, and a planted hash fails closed instead of raising or pinning the
/// backend. The password itself must pass [`_check_password`].
#[pg_extern(stable, parallel_safe, schema = "auth_private")]
fn _login_password_matches(password: Option<&str>, hash: Option<&str>) -> bool {
    let password = required(password, "password");
    password::login_matches(password, hash, &config()).or_raise()
}

/// True when a stored hash differs from what is configured (another algorithm, bcrypt cost or
/// argon2 parameters), so a successful login re-hashes it.
#[pg_extern(stable, strict, parallel_safe, schema = "auth_private")]
fn _password_needs_rehash(hash: &str) -> bool {
    password::needs_rehash_for(hash, &config())
}
