//! Helpers of the account flows of `sql/accounts.sql` (`auth.signup`, password reset, email
//! verification): email addresses and one-time tokens. Internal (`_`-prefixed, not executable by
//! PUBLIC): the SECURITY DEFINER flows and the `auth.users` trigger call them.

use auth_core::{email, token};
use pgrx::prelude::*;

use crate::error::OrRaise;

/// `auth_private._normalize_email(email)`: the stored form of an address (lower-cased), or 22023
/// naming what is wrong with it (core `email::normalize`). The `auth.users` trigger applies it to
/// every address written.
#[pg_extern(immutable, strict, parallel_safe, schema = "auth_private")]
fn _normalize_email(email: &str) -> String {
    email::normalize(email).or_raise()
}

/// `auth_private._email_key(input)`: the stored form of `input` when it is a valid address, NULL
/// otherwise (never raises): how `auth.request_password_reset` looks an address up.
#[pg_extern(immutable, strict, parallel_safe, schema = "auth_private")]
fn _email_key(input: &str) -> Option<String> {
    email::lookup_key(input)
}

/// `auth_private._new_one_time_token()`: a password-reset or email-verification token, made as
/// refresh tokens are (256 bits from the OS CSPRNG, 43 base64url characters). Only its SHA-256
/// ([`_one_time_token_hash`]) is kept in `auth.one_time_tokens`.
#[pg_extern(volatile, parallel_safe, schema = "auth_private")]
fn _new_one_time_token() -> String {
    token::new_refresh_token().or_raise()
}

/// `auth_private._one_time_token_hash(token)`: SHA-256 of the token's UTF-8 bytes.
#[pg_extern(immutable, strict, parallel_safe, schema = "auth_private")]
fn _one_time_token_hash(token: &str) -> Vec<u8> {
    token::sha256(token.as_bytes())
}
