//! API tokens: long-lived JWTs carrying a `tid` that names their row in `auth.api_tokens`, so
//! that `auth.check_request` can revoke them. The table and the SQL API are in
//! `sql/api_tokens.sql`; this module signs the token and names the calling role.

use auth_core::credentials;
use pgrx::datum::{JsonB, Uuid};
use pgrx::prelude::*;

use crate::error::OrRaise;
use crate::jwt;

/// The token for row `tid`: the extra claims (checked: an object without reserved claims), then
/// `tid`, `role`, `scope` when the token has scopes (checked ones, space-separated), `exp` when
/// the token expires, and `iat` (plus the configured `aud`/`iss` unless the extra claims set
/// them). `exp` is Unix seconds. SQL name `_sign_api_token`; the C symbol has its own name, as
/// 0.1.0's SQL binds the old one to four arguments.
#[pg_extern(
    stable,
    parallel_safe,
    schema = "auth_private",
    name = "_sign_api_token"
)]
fn _sign_api_token_scoped(
    tid: Uuid,
    role: &str,
    exp: Option<i64>,
    claims: JsonB,
    scopes: Option<Array<'_, &str>>,
) -> String {
    sign_api_token(tid, role, exp, claims, crate::scopes::scope_claim(scopes))
}

/// The signer as 0.1.0's SQL declares it (four arguments, no scopes): only the C symbol remains,
/// for databases not yet updated; 0.2.0's SQL does not declare it.
#[pg_extern(sql = false)]
fn _sign_api_token(tid: Uuid, role: &str, exp: Option<i64>, claims: JsonB) -> String {
    sign_api_token(tid, role, exp, claims, None)
}

fn sign_api_token(
    tid: Uuid,
    role: &str,
    exp: Option<i64>,
    claims: JsonB,
    scope: Option<String>,
) -> String {
    let mut map = credentials::check_extra_claims(&claims.0)
        .or_raise()
        .clone();
    map.insert(credentials::TOKEN_ID.into(), tid.to_string().into());
    map.insert("role".into(), role.into());
    if let Some(scope) = scope {
        map.insert(credentials::SCOPE.into(), scope.into());
    }
    if let Some(exp) = exp {
        map.insert("exp".into(), exp.into());
    }
    jwt::sign_with_server_key(map, None)
}

/// The role the caller acts as (after `SET ROLE`, as PostgREST does), even inside a SECURITY
/// DEFINER function, where `current_user` is the owner: recorded as `created_by`.
#[pg_extern(stable, parallel_safe, schema = "auth_private")]
fn _invoking_role() -> String {
    // SAFETY: GetOuterUserId reads a backend global; GetUserNameFromId with noerr = true returns
    // NULL for a dropped role instead of raising, and otherwise a palloc'd C string.
    unsafe {
        let name = pg_sys::GetUserNameFromId(pg_sys::GetOuterUserId(), true);
        if name.is_null() {
            return String::new();
        }
        std::ffi::CStr::from_ptr(name)
            .to_string_lossy()
            .into_owned()
    }
}
