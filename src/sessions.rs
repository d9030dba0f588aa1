//! Helpers for the session flows of `sql/sessions.sql` (`auth.login`, `auth.refresh_token`,
//! `auth.logout`): refresh tokens, the two session cookies, reading cookies of the request.
//!
//! All are internal (`_`-prefixed, not executable by PUBLIC): the SECURITY DEFINER flows call them.

use std::ffi::CStr;

use auth_core::cookie::{self, Attributes};
use auth_core::{jwt, token};
use pgrx::datum::JsonB;
use pgrx::prelude::*;
use serde_json::{json, Value};

use crate::error::OrRaise;
use crate::gucs;

/// The cookie carrying the access token (a JWT), sent on every path.
pub const ACCESS_COOKIE: &str = "access_token";
/// The cookie carrying the opaque refresh token, sent only to `auth.refresh_cookie_path`.
pub const REFRESH_COOKIE: &str = "refresh_token";

/// A setting of the current request (`request.cookies`, `request.headers`); None when unset or
/// empty. Custom settings like these are readable by every role, so no privilege check applies.
fn request_setting(name: &CStr) -> Option<String> {
    // SAFETY: GetConfigOption with missing_ok returns NULL or a valid C string owned by the GUC
    // machinery, which we copy at once.
    let raw = unsafe { pg_sys::GetConfigOption(name.as_ptr(), true, false) };
    if raw.is_null() {
        return None;
    }
    let value = unsafe { CStr::from_ptr(raw) }
        .to_string_lossy()
        .into_owned();
    (!value.is_empty()).then_some(value)
}

/// A new refresh token: 256 bits from the OS CSPRNG, 43 base64url characters. Only its SHA-256
/// is stored (`pg_catalog.sha256(convert_to(token, 'UTF8'))`).
#[pg_extern(volatile, strict, parallel_safe)]
fn _new_refresh_token() -> String {
    token::new_refresh_token().or_raise()
}

/// The `response.headers` entries (a JSON array of `{"Set-Cookie": …}` objects) for the session
/// cookies: `access_token` with `Path=/` and `Max-Age=auth.access_token_ttl`, `refresh_token`
/// with `Path=auth.refresh_cookie_path` and `Max-Age=auth.refresh_token_ttl`; both `HttpOnly`,
/// `SameSite=auth.cookie_samesite` and, when `auth.cookie_secure` is on, `Secure`.
/// A NULL value leaves that cookie out, or, when `clear` is true, gives its clearing variant
/// (empty value, `Max-Age=0`, same name, path and attributes, so that browsers drop it).
/// A bad `auth.refresh_cookie_path`, or `SameSite=None` without `Secure`, is 22023.
#[pg_extern(stable, parallel_safe)]
fn _session_cookies(
    access_token: Option<&str>,
    refresh_token: Option<&str>,
    clear: Option<bool>,
) -> JsonB {
    let clear = clear.unwrap_or(false);
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
    let mut headers = Vec::with_capacity(2);
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
    JsonB(Value::Array(headers))
}

/// A cookie of the current request: from `request.cookies` (the JSON object PostgREST sets),
/// else from a `cookie` entry of `request.headers`. NULL when absent, empty, or when those
/// settings do not parse: a request we cannot read carries no cookie. A value holding a NUL
/// (a JSON `\u0000`; no cookie can carry one) is NULL too: PostgreSQL text cannot hold it, and
/// `convert_to` would raise 22021 instead of the flows' 401.
#[pg_extern(stable, strict, parallel_safe)]
fn _request_cookie(name: &str) -> Option<String> {
    let from_cookies = request_setting(c"request.cookies")
        .and_then(|text| serde_json::from_str::<Value>(&text).ok())
        .and_then(|v| v.get(name).and_then(Value::as_str).map(str::to_owned));
    let found = from_cookies.or_else(|| {
        let headers = request_setting(c"request.headers")?;
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
