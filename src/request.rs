//! The request and response plumbing of the flows, in one module: what PostgREST put in the
//! `request.*` settings (headers, cookies), what the flows put in `response.headers`, the
//! credential cookie rule, the caller's own token, and the refusal of transactions that will not
//! commit. The rules themselves are pure functions of `auth_core::request` and
//! `auth_core::cookie`, which the fuzzer drives; this module only reads and writes settings.

use std::cell::RefCell;
use std::ffi::{CStr, CString};

use auth_core::cookie::{self, SessionCookieNames};
use auth_core::request::{self as rules, CookieLookup};
use auth_core::AuthError;
use pgrx::datum::JsonB;
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use pgrx::{PgLogLevel, PgSqlErrorCode};
use serde_json::{Map, Value};

use crate::error::{raise, OrRaise};
use crate::gucs;

/// The two session cookies: the access token (a JWT), sent on every path, and the opaque refresh
/// token, sent only to `auth.refresh_cookie_path`. Their names are configured
/// ([`session_cookie_names`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionCookie {
    Access,
    Refresh,
}

/// The names of the session cookies, by the one rule of
/// [`auth_core::cookie::session_cookie_names`] over `auth.access_cookie_name`,
/// `auth.refresh_cookie_name`, `auth.cookie_host_prefix`, `auth.cookie_secure` and
/// `auth.cookie_domain`. Every reader and writer of the cookies goes through here. A
/// configuration the rule refuses is 22023.
pub fn session_cookie_names() -> SessionCookieNames {
    let (access, refresh) = gucs::cookie_base_names();
    cookie::session_cookie_names(
        &access,
        &refresh,
        gucs::cookie_host_prefix(),
        gucs::cookie_secure(),
        gucs::cookie_domain().as_deref(),
    )
    .or_raise()
}

/// The configured name of a session cookie.
pub fn session_cookie_name(which: SessionCookie) -> String {
    let names = session_cookie_names();
    match which {
        SessionCookie::Access => names.access,
        SessionCookie::Refresh => names.refresh,
    }
}

/// A session cookie of the current request under its configured name ([`credential_cookie`]).
pub fn session_cookie(which: SessionCookie) -> Option<String> {
    credential_cookie(&session_cookie_name(which))
}

/// The request header a gateway may fill with the browser's raw `Cookie` header. PostgREST keeps
/// the cookies only as `request.cookies`, a JSON object in which the last of two same-named
/// cookies wins; with the raw header the credential cookie rule can see duplicates.
pub const RAW_COOKIE_HEADER: &str = "x-forwarded-cookie";

/// A setting's text and what it parsed to.
type ParsedSetting = Option<(String, Option<Map<String, Value>>)>;

/// The `request.headers` object of this request, parsed once per distinct value.
fn request_headers() -> Option<Map<String, Value>> {
    thread_local! {
        static LAST: RefCell<ParsedSetting> = const { RefCell::new(None) };
    }
    let text = gucs::setting_value(c"request.headers")?;
    LAST.with_borrow_mut(|last| {
        if let Some((t, parsed)) = last.as_ref() {
            if *t == text {
                return parsed.clone();
            }
        }
        let parsed = match serde_json::from_str::<Value>(&text) {
            Ok(Value::Object(map)) => Some(map),
            _ => None,
        };
        *last = Some((text, parsed.clone()));
        parsed
    })
}

/// One header of the current request (names are lowercase in `request.headers`). None when
/// absent, not a string, or holding a NUL (a JSON `\u0000`, which PostgreSQL text cannot hold).
pub fn header(name: &str) -> Option<String> {
    match request_headers()?.remove(&name.to_ascii_lowercase())? {
        Value::String(s) if !s.contains('\0') => Some(s),
        _ => None,
    }
}

/// `auth_private._request_header(name)`: [`header`] for the SQL flows.
#[pg_extern(stable, strict, parallel_safe, schema = "auth_private")]
fn _request_header(name: &str) -> Option<String> {
    header(name)
}

/// A credential cookie of the current request, by the one rule of
/// [`auth_core::request::credential_cookie`]: from the raw `Cookie` header when the request
/// carries it (a second cookie of the same name refuses the credential: cookie tossing), else
/// from `request.cookies`. None when absent or refused.
pub fn credential_cookie(name: &str) -> Option<String> {
    let raw = header("cookie").or_else(|| header(RAW_COOKIE_HEADER));
    let parsed = match gucs::setting_value(c"request.cookies")
        .and_then(|text| serde_json::from_str::<Value>(&text).ok())
    {
        Some(Value::Object(map)) => Some(map),
        _ => None,
    };
    match rules::credential_cookie(raw.as_deref(), parsed.as_ref(), name) {
        CookieLookup::One(v) => Some(v.to_owned()),
        CookieLookup::Absent | CookieLookup::Duplicate => None,
    }
}

/// `auth_private._request_cookie(name)`: [`credential_cookie`] for the SQL flows. The names
/// `access_token` and `refresh_token` stand for the session cookies and are read under their
/// configured names ([`session_cookie_names`]); any other name is read as it is.
#[pg_extern(stable, strict, parallel_safe, schema = "auth_private")]
fn _request_cookie(name: &str) -> Option<String> {
    match name {
        cookie::DEFAULT_ACCESS_NAME => session_cookie(SessionCookie::Access),
        cookie::DEFAULT_REFRESH_NAME => session_cookie(SessionCookie::Refresh),
        other => credential_cookie(other),
    }
}

/// Whether the request carries any cookie: a raw `Cookie` header (or the gateway's copy) that is
/// not empty, or a `request.cookies` object with a member.
pub fn has_cookies() -> bool {
    let raw = header("cookie").or_else(|| header(RAW_COOKIE_HEADER));
    if raw.is_some_and(|r| !r.trim().is_empty()) {
        return true;
    }
    matches!(
        gucs::setting_value(c"request.cookies")
            .and_then(|text| serde_json::from_str::<Value>(&text).ok()),
        Some(Value::Object(map)) if !map.is_empty()
    )
}

/// The caller's own access token: the bearer token of the `Authorization` header, else the
/// access cookie (under its configured name). Not verified here.
pub fn caller_token() -> Option<String> {
    if let Some(authorization) = header("authorization") {
        return rules::bearer_token(&authorization).map(str::to_owned);
    }
    session_cookie(SessionCookie::Access)
}

/// `auth_private._caller_claims(check_time)`: the claims of the caller's own access token
/// ([`caller_token`]), verified with the server key — signature and algorithm always; with
/// `check_time`, also exp/nbf (with leeway), aud and iss as `auth.jwt_verify` does. NULL when
/// there is no token or it does not verify. Functions that act for a user rely on this, never on
/// `request.jwt.claims`, which any SQL session can set.
#[pg_extern(stable, strict, parallel_safe, schema = "auth_private")]
fn _caller_claims(check_time: bool) -> Option<JsonB> {
    let token = caller_token()?;
    let claims = if check_time {
        crate::jwt::verify_with_server_key(&token).ok()?
    } else {
        crate::jwt::signed_claims_ignoring_time(&token)?
    };
    Some(JsonB(Value::Object(claims)))
}

/// Refuses to go on in a transaction that will not commit: READ ONLY (PostgREST runs GET and
/// HEAD so, whatever the function's volatility) or one whose request asked PostgREST to roll
/// back (`Prefer: tx=rollback`). Every function that checks or changes a credential calls this
/// first, before it looks at any argument, so the answer is one fixed refusal (SQLSTATE 25006,
/// HTTP 405) for every input: no password oracle over GET, no refresh that spends nothing.
#[pg_extern(volatile, parallel_unsafe, schema = "auth_private")]
fn _require_committing_transaction() {
    // SAFETY: a backend global, set by BEGIN READ ONLY / SET transaction_read_only / recovery.
    let read_only = unsafe { pg_sys::XactReadOnly };
    if read_only || header("prefer").is_some_and(|p| rules::prefers_rollback(&p)) {
        ErrorReport::new(
            PgSqlErrorCode::ERRCODE_READ_ONLY_SQL_TRANSACTION,
            "this function checks or changes credentials and needs a transaction that commits: \
             call it with POST, without Prefer: tx=rollback, outside a read-only transaction",
            "",
        )
        .report(PgLogLevel::ERROR);
    }
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
pub fn add_response_headers(entries: Vec<Value>) {
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

/// `auth_private._add_response_headers(headers jsonb)`: [`add_response_headers`] for the plpgsql
/// flows. `headers` must be a JSON array (22023 otherwise); NULL adds nothing.
#[pg_extern(volatile, parallel_unsafe, schema = "auth_private")]
fn _add_response_headers(headers: Option<JsonB>) {
    match headers {
        None => {}
        Some(JsonB(Value::Array(entries))) => add_response_headers(entries),
        Some(_) => raise(AuthError::InvalidParameter(
            "headers must be a JSON array".into(),
        )),
    }
}
