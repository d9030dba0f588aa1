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
/// them). `exp` is Unix seconds.
#[pg_extern(stable, parallel_safe, schema = "auth_private")]
fn _sign_api_token(
    tid: Uuid,
    role: &str,
    exp: Option<i64>,
    claims: JsonB,
    scopes: Option<Array<'_, &str>>,
) -> String {
    let mut map = credentials::check_extra_claims(&claims.0)
        .or_raise()
        .clone();
    map.insert(credentials::TOKEN_ID.into(), tid.to_string().into());
    map.insert("role".into(), role.into());
    if let Some(scope) = crate::scopes::scope_claim(scopes) {
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
