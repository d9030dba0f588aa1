//! Helpers of `auth.check_request` (PostgREST's `db-pre-request`, in `sql/check_request.sql`):
//! the request's credential markers and the constant-time proxy-secret check.

use auth_core::credentials;
use pgrx::datum::Uuid;
use pgrx::prelude::*;

use crate::gucs;

/// The credential markers (`tid`, `sid`, `key_id`) of a request's claims, or why the claims are
/// refused (a marker that is not a UUID, claims that are not a JSON object).
#[pg_extern(immutable, strict, parallel_safe, schema = "auth_private")]
#[allow(clippy::type_complexity)] // pgrx needs the name!() columns spelled out here
fn _claim_markers(
    claims: &str,
) -> TableIterator<
    'static,
    (
        name!(tid, Option<Uuid>),
        name!(sid, Option<Uuid>),
        name!(key_id, Option<Uuid>),
        name!(refused, Option<String>),
    ),
> {
    let row = match credentials::markers(claims) {
        Ok(m) => (
            m.token_id.map(Uuid::from_bytes),
            m.session_id.map(Uuid::from_bytes),
            m.key_id.map(Uuid::from_bytes),
            None,
        ),
        Err(why) => (None, None, None, Some(why.to_string())),
    };
    TableIterator::once(row)
}

/// The fast path of `auth.check_request`: false when the claims' JSON text cannot name a
/// credential (`tid`, `sid`, `key_id`), so the request needs no lookup. Executable by PUBLIC: a
/// substring test over the caller's own claims.
#[pg_extern(immutable, strict, parallel_safe, schema = "auth_private")]
fn _may_carry_markers(claims: &str) -> bool {
    credentials::may_carry_markers(claims)
}

/// A uuid from text, NULL when the text is not one (claims are data, not trusted shapes). The
/// same parser as the credential markers'.
#[pg_extern(immutable, strict, parallel_safe, schema = "auth_private")]
fn _to_uuid(value: &str) -> Option<Uuid> {
    credentials::parse_uuid(value).map(Uuid::from_bytes)
}

/// `auth_private._valid_credential_name(name)`: the name rule of API tokens and keys, for their
/// tables' CHECK constraints and for the functions that create them.
#[pg_extern(immutable, strict, parallel_safe, schema = "auth_private")]
fn _valid_credential_name(name: &str) -> bool {
    credentials::valid_name(name)
}

/// `auth_private._valid_plan(plan)`: the plan rule of API keys, for the table's CHECK constraint
/// and for `create_api_key`.
#[pg_extern(immutable, strict, parallel_safe, schema = "auth_private")]
fn _valid_plan(plan: &str) -> bool {
    credentials::valid_plan(plan)
}

/// True when `auth.proxy_secret` is set and `presented` equals it (constant time). False for
/// NULL, and when no proxy secret is configured (nothing can match).
#[pg_extern(stable, parallel_safe, schema = "auth_private")]
fn _proxy_secret_matches(presented: Option<&str>) -> bool {
    match (gucs::proxy_secret(), presented) {
        (Some(expected), Some(presented)) => {
            credentials::secrets_equal(presented.as_bytes(), expected.as_bytes())
        }
        _ => false,
    }
}
