//! Helpers for the session flows of `sql/sessions.sql` (`auth.login`, `auth.refresh_token`,
//! `auth.logout`): refresh tokens, the two session cookies, the session response (access token,
//! cookies, result), `response.headers`, reading cookies of the request.
//!
//! All are internal (`_`-prefixed, not executable by PUBLIC): the SECURITY DEFINER flows call them.
//! The session response is one Rust call, not plpgsql over helpers: it is on the path of every
//! login and refresh, and each nested plpgsql call, `auth._setting` read and jsonb round trip
//! costs there.

use std::ffi::{CStr, CString};

use auth_core::cookie::{self, Attributes};
use auth_core::{jwt, token, AuthError};
use pgrx::datum::JsonB;
use pgrx::prelude::*;
use serde_json::{json, Map, Value};

use crate::error::{raise, OrRaise};
use crate::gucs;

/// The cookie carrying the access token (a JWT), sent on every path.
pub const ACCESS_COOKIE: &str = "access_token";
/// The cookie carrying the opaque refresh token, sent only to `auth.refresh_cookie_path`.
pub const REFRESH_COOKIE: &str = "refresh_token";

/// A new refresh token: 256 bits from the OS CSPRNG, 43 base64url characters. Only its SHA-256
/// is stored (`pg_catalog.sha256(convert_to(token, 'UTF8'))`).
#[pg_extern(volatile, strict, parallel_safe)]
fn _new_refresh_token() -> String {
    token::new_refresh_token().or_raise()
}

/// Sets a custom setting for the rest of the transaction, as `set_config(name, value, true)`.
fn set_local(name: &CStr, value: &str) {
    let value = CString::new(value)
        .map_err(|_| AuthError::Internal("a setting value cannot hold a NUL byte".into()))
        .or_raise();
    // SAFETY: two valid C strings; errors are raised as PostgreSQL errors through pgrx's guard.
    // The context is what set_config() passes.
    unsafe {
        let context = if pg_sys::superuser() {
            pg_sys::GucContext::PGC_SUSET
        } else {
            pg_sys::GucContext::PGC_USERSET
        };
        pg_sys::set_config_option(
            name.as_ptr(),
            value.as_ptr(),
            context,
            pg_sys::GucSource::PGC_S_SESSION,
            pg_sys::GucAction::GUC_ACTION_LOCAL,
            true,
            0,
            false,
        );
    }
}

/// Appends entries to `response.headers` (a JSON array, as PostgREST reads it), keeping what an
/// earlier step of the request (a db-pre-request function, say) put there. A value that is not
/// JSON is 22P02 (as its `::jsonb` cast would be), JSON other than an array 22023.
fn add_response_headers(entries: Vec<Value>) {
    let mut headers = match gucs::setting_value(c"response.headers") {
        None => Vec::with_capacity(entries.len()),
        Some(text) => match serde_json::from_str::<Value>(&text) {
            Ok(Value::Array(current)) => current,
            Ok(_) => raise(AuthError::InvalidParameter(
                "response.headers is set but is not a JSON array".into(),
            )),
            Err(_) => raise(AuthError::InvalidText(
                "response.headers is set but is not valid JSON".into(),
            )),
        },
    };
    headers.extend(entries);
    let text = serde_json::to_string(&headers).expect("JSON values always serialize");
    set_local(c"response.headers", &text);
}

/// `auth._add_response_headers(headers jsonb)`: [`add_response_headers`] for the plpgsql flows.
/// `headers` must be a JSON array (22023 otherwise); NULL adds nothing.
#[pg_extern(volatile, parallel_unsafe)]
fn _add_response_headers(headers: Option<JsonB>) {
    match headers {
        None => {}
        Some(JsonB(Value::Array(entries))) => add_response_headers(entries),
        Some(_) => raise(AuthError::InvalidParameter(
            "headers must be a JSON array".into(),
        )),
    }
}

/// The `{"Set-Cookie": …}` entries of the session cookies: `access_token` with `Path=/` and
/// `Max-Age=auth.access_token_ttl`, `refresh_token` with `Path=auth.refresh_cookie_path` and
/// `Max-Age=auth.refresh_token_ttl`; both `HttpOnly`, `SameSite=auth.cookie_samesite` and, when
/// `auth.cookie_secure` is on, `Secure`. A `None` value leaves that cookie out, or, when `clear`
/// is true, gives its clearing variant (empty value, `Max-Age=0`, same name, path and
/// attributes, so that browsers drop it). A bad `auth.refresh_cookie_path`, or `SameSite=None`
/// without `Secure`, is 22023.
fn session_cookies(
    access_token: Option<&str>,
    refresh_token: Option<&str>,
    clear: bool,
) -> Vec<Value> {
    let same_site = gucs::cookie_samesite();
    let secure = gucs::cookie_secure();
    let refresh_path = gucs::refresh_cookie_path();
    let cookies = [
        (ACCESS_COOKIE, access_token, gucs::access_token_ttl(), "/"),
        (
            REFRESH_COOKIE,
            refresh_token,
            gucs::refresh_token_ttl(),
            refresh_path.as_str(),
        ),
    ];
    let mut headers = Vec::with_capacity(3);
    for (name, value, ttl, path) in cookies {
        let (value, max_age) = match value {
            Some(v) => (v, i64::from(ttl)),
            None if clear => ("", 0),
            None => continue,
        };
        let attrs = Attributes {
            path,
            same_site,
            secure,
        };
        let set_cookie = cookie::set_cookie(name, value, max_age, &attrs).or_raise();
        headers.push(json!({ "Set-Cookie": set_cookie }));
    }
    headers
}

/// Appends the clearing variants of both session cookies to `response.headers` (logout, and
/// every refused refresh). Errors as for [`session_cookies`].
#[pg_extern(volatile, parallel_unsafe)]
fn _clear_session_cookies() {
    add_response_headers(session_cookies(None, None, true));
}

/// The answer of a successful login or refresh, for session `session_id` of `username` (whose
/// database role is `role`): signs an access token (claims `role`, `sub` and `username` = the
/// username, `sid`, `iat`, `exp` = now + `auth.access_token_ttl`, plus the configured `aud`/`iss`),
/// appends to `response.headers` its `access_token` cookie, the `refresh_token` cookie when a new
/// `refresh_token` is given, and `Cache-Control: no-store`, and returns
/// `{"username", "role", "expires_at" (the access token's exp), "expires_in"}`, plus
/// `"token_type": "bearer"`, `"access_token"` and `"refresh_token"` when `auth.tokens_in_body` is
/// on. Errors: no usable JWT key or a bad cookie setting (22023), `response.headers` holding
/// something other than a JSON array (22023).
#[pg_extern(sql = "
CREATE FUNCTION auth._session_response(session_id uuid, username text, role name, refresh_token text)
RETURNS jsonb VOLATILE PARALLEL UNSAFE
LANGUAGE c AS 'MODULE_PATHNAME', '_session_response_wrapper';
")]
fn _session_response(
    session_id: Option<pgrx::Uuid>,
    username: Option<&str>,
    role: Option<&CStr>,
    refresh_token: Option<&str>,
) -> JsonB {
    let ttl = i64::from(gucs::access_token_ttl());
    let exp = crate::jwt::now_unix().floor() as i64 + ttl;
    let username = username.map_or(Value::Null, Value::from);
    let role = role.map_or(Value::Null, |r| Value::from(r.to_string_lossy()));
    // The order jsonb_build_object gave these claims (jsonb sorts keys by length, then bytes).
    let mut claims = Map::with_capacity(8);
    claims.insert("exp".into(), exp.into());
    claims.insert(
        "sid".into(),
        session_id.map_or(Value::Null, |s| s.to_string().into()),
    );
    claims.insert("sub".into(), username.clone());
    claims.insert("role".into(), role.clone());
    claims.insert("username".into(), username.clone());
    // `exp` is set above, so no default lifetime is needed.
    let access = crate::jwt::sign_with_server_key(claims, None);

    let mut headers = session_cookies(Some(&access), refresh_token, false);
    headers.push(json!({ "Cache-Control": "no-store" }));
    add_response_headers(headers);

    let mut body = json!({
        "username": username,
        "role": role,
        "expires_at": exp,
        "expires_in": ttl,
    });
    if gucs::tokens_in_body() {
        body["token_type"] = "bearer".into();
        body["access_token"] = access.into();
        body["refresh_token"] = refresh_token.into();
    }
    JsonB(body)
}

/// A cookie of the current request: from `request.cookies` (the JSON object PostgREST sets),
/// else from a `cookie` entry of `request.headers`. NULL when absent, empty, or when those
/// settings do not parse: a request we cannot read carries no cookie. A value holding a NUL
/// (a JSON `\u0000`; no cookie can carry one) is NULL too: PostgreSQL text cannot hold it, and
/// `convert_to` would raise 22021 instead of the flows' 401.
#[pg_extern(stable, strict, parallel_safe)]
fn _request_cookie(name: &str) -> Option<String> {
    let from_cookies = gucs::setting_value(c"request.cookies")
        .and_then(|text| serde_json::from_str::<Value>(&text).ok())
        .and_then(|v| v.get(name).and_then(Value::as_str).map(str::to_owned));
    let found = from_cookies.or_else(|| {
        let headers = gucs::setting_value(c"request.headers")?;
        let headers = serde_json::from_str::<Value>(&headers).ok()?;
        let header = headers.get("cookie")?.as_str()?;
        cookie::find_cookie(header, name).map(str::to_owned)
    });
    found.filter(|v| !v.is_empty() && !v.contains('\0'))
}

/// The claims of a token signed with the server key, checking the algorithm and the signature but
/// not the time claims: logout accepts an expired access token to find the session to end.
/// NULL for anything else (malformed, wrong algorithm, bad signature, no usable key).
#[pg_extern(stable, strict, parallel_safe)]
fn _signed_claims_ignoring_time(token: &str) -> Option<JsonB> {
    let (alg, key) = crate::jwt::server_key().ok()?;
    let decoded = jwt::decode(token).ok()?;
    decoded.verify_signature(token, alg, &key).ok()?;
    Some(JsonB(Value::Object(decoded.payload)))
}
