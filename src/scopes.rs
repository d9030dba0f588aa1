//! Scopes of API tokens and keys: the rule of `auth_core::credentials::check_scopes`, for the
//! tables' CHECK constraints and for the functions that create credentials. The `scope` claim is
//! written by `_sign_api_token` and `_sign_api_key_token`, and read by `auth.has_scope` (in
//! `claims.rs`).

use auth_core::credentials;
use pgrx::prelude::*;

use crate::error::OrRaise;

/// `auth_private._valid_scopes(scopes)`: the scopes rule, for the tables' CHECK constraints.
#[pg_extern(immutable, strict, parallel_safe, schema = "auth_private")]
fn _valid_scopes(scopes: Array<'_, &str>) -> bool {
    let scopes: Vec<Option<&str>> = scopes.iter().collect();
    credentials::check_scopes(&scopes).is_ok()
}

/// `auth_private._check_scopes(scopes)`: the scopes a function was given, as stored: NULL for
/// NULL or none (no `scope` claim), else the list, one-dimensional, after the rule (22023 naming
/// the position of the first bad one).
#[pg_extern(immutable, parallel_safe, schema = "auth_private")]
fn _check_scopes(scopes: Option<Array<'_, &str>>) -> Option<Vec<String>> {
    let scopes = scopes?;
    let scopes: Vec<Option<&str>> = scopes.iter().collect();
    credentials::check_scopes(&scopes).or_raise();
    (!scopes.is_empty()).then(|| scopes.into_iter().flatten().map(str::to_owned).collect())
}

/// The `scope` claim of stored scopes (checked when they were written).
pub fn scope_claim(scopes: Option<Array<'_, &str>>) -> Option<String> {
    let scopes = scopes?;
    let scopes: Vec<&str> = scopes.iter().flatten().collect();
    credentials::scope_claim(&scopes)
}
