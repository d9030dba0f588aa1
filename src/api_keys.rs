//! Opaque API keys (`pgauth_` + 256 random bits, or imported keys of other formats) exchanged for
//! short-lived JWTs. The table and the SQL API are in `sql/api_keys.sql`; this module makes keys,
//! checks imported ones, hashes presented ones and signs the exchanged token.

use auth_core::{credentials, token};
use pgrx::datum::Uuid;
use pgrx::prelude::*;
use serde_json::Map;

use crate::error::OrRaise;
use crate::{gucs, jwt};

/// A new key, returned once, with what is stored instead of it: its display prefix and SHA-256.
#[pg_extern(volatile, parallel_safe, schema = "auth_private")]
fn _new_api_key() -> TableIterator<
    'static,
    (
        name!(key, String),
        name!(display_prefix, String),
        name!(key_hash, Vec<u8>),
    ),
> {
    let key = token::new_api_key().or_raise();
    let prefix = token::api_key_display_prefix(&key).to_string();
    let hash = token::sha256(key.as_bytes());
    TableIterator::once((key, prefix, hash))
}

/// What is stored for an imported key (a key of another format than `auth`'s, checked against
/// the one rule of `token::looks_like_api_key`, 22023 otherwise): its display prefix and SHA-256.
#[pg_extern(immutable, strict, parallel_safe, schema = "auth_private")]
fn _imported_api_key(
    key: &str,
) -> TableIterator<'static, (name!(display_prefix, String), name!(key_hash, Vec<u8>))> {
    token::check_imported_api_key(key).or_raise();
    TableIterator::once((
        token::imported_key_display_prefix(key).to_string(),
        token::sha256(key.as_bytes()),
    ))
}

/// The SHA-256 a presented key is looked up by, the same for `auth`'s own keys and imported
/// ones; NULL when the text cannot be a key at all, so that garbage never costs a lookup.
#[pg_extern(immutable, strict, parallel_safe, schema = "auth_private")]
fn _api_key_hash(key: &str) -> Option<Vec<u8>> {
    token::looks_like_api_key(key).then(|| token::sha256(key.as_bytes()))
}

/// The JWT an API key is exchanged for: `role`, `plan` (when the key has one), `scope` (when it
/// has scopes, space-separated), `key_id`, `iat` and `exp` = now + `auth.api_key_token_ttl`,
/// never past the key's own expiry `not_after` (Unix seconds). Returns the token and its
/// lifetime in seconds. SQL name `_sign_api_key_token`; the C symbol has its own name, as
/// 0.1.0's SQL binds the old one to four arguments.
#[pg_extern(
    stable,
    parallel_safe,
    schema = "auth_private",
    name = "_sign_api_key_token"
)]
fn _sign_api_key_token_scoped(
    key_id: Uuid,
    role: &str,
    plan: Option<&str>,
    not_after: Option<i64>,
    scopes: Option<Array<'_, &str>>,
) -> TableIterator<'static, (name!(token, String), name!(expires_in, i64))> {
    let scope = crate::scopes::scope_claim(scopes);
    TableIterator::once(sign_api_key_token(key_id, role, plan, not_after, scope))
}

/// The signer as 0.1.0's SQL declares it (four arguments, no scopes): only the C symbol remains,
/// for databases not yet updated; 0.2.0's SQL does not declare it.
#[pg_extern(sql = false)]
fn _sign_api_key_token(
    key_id: Uuid,
    role: &str,
    plan: Option<&str>,
    not_after: Option<i64>,
) -> TableIterator<'static, (name!(token, String), name!(expires_in, i64))> {
    TableIterator::once(sign_api_key_token(key_id, role, plan, not_after, None))
}

fn sign_api_key_token(
    key_id: Uuid,
    role: &str,
    plan: Option<&str>,
    not_after: Option<i64>,
    scope: Option<String>,
) -> (String, i64) {
    let now = jwt::now_unix().floor() as i64;
    let mut exp = now + i64::from(gucs::api_key_token_ttl());
    if let Some(limit) = not_after {
        exp = exp.min(limit);
    }
    let mut claims = Map::new();
    claims.insert("role".into(), role.into());
    if let Some(plan) = plan {
        claims.insert("plan".into(), plan.into());
    }
    if let Some(scope) = scope {
        claims.insert(credentials::SCOPE.into(), scope.into());
    }
    claims.insert(credentials::KEY_ID.into(), key_id.to_string().into());
    claims.insert("exp".into(), exp.into());
    let token = jwt::sign_with_server_key(claims, None);
    (token, exp - now)
}
