//! Helpers for the session flows of `sql/sessions.sql` (`auth.login`, `auth.refresh_token`,
//! `auth.logout`): refresh tokens, the two session cookies, the session response (access token,
//! cookies, result), `response.headers`, reading cookies of the request.
//!
//! All are internal (`_`-prefixed, not executable by PUBLIC): the SECURITY DEFINER flows call them.
//! The session response is one Rust call, not plpgsql over helpers: it is on the path of every
//! login and refresh, and each nested plpgsql call, `auth._setting` read and jsonb round trip
//! costs there.

use std::ffi::CStr;

use auth_core::cookie::{self, Attributes};
use auth_core::token;
use pgrx::datum::JsonB;
use pgrx::prelude::*;
use serde_json::{json, Map, Value};

use auth_core::{claims, AuthError};

use crate::datum::JsonbValue;
use crate::error::{raise, OrRaise};
use crate::gucs;
use crate::owner_call;
use crate::request::{add_response_headers, session_cookie_names};

/// A new refresh token: 256 bits from the OS CSPRNG, 43 base64url characters. Only its SHA-256
/// is stored (`pg_catalog.sha256(convert_to(token, 'UTF8'))`).
#[pg_extern(volatile, strict, parallel_safe, schema = "auth_private")]
fn _new_refresh_token() -> String {
    token::new_refresh_token().or_raise()
}

/// The `{"Set-Cookie": …}` entries of the session cookies, under their configured names
/// (`session_cookie_names`: `access_token` and `refresh_token` by default): the access cookie
/// with `Path=/` and `Max-Age=auth.access_token_ttl`, the refresh cookie with
/// `Path=auth.refresh_cookie_path` and `Max-Age=auth.refresh_token_ttl`; both `HttpOnly`,
/// `SameSite=auth.cookie_samesite`, `Domain=auth.cookie_domain` when set and, when
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
    let domain = gucs::cookie_domain();
    let names = session_cookie_names();
    let cookies = [
        (
            names.access.as_str(),
            access_token,
            gucs::access_token_ttl(),
            "/",
        ),
        (
            names.refresh.as_str(),
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
            domain: domain.as_deref(),
        };
        let set_cookie = cookie::set_cookie(name, value, max_age, &attrs).or_raise();
        headers.push(json!({ "Set-Cookie": set_cookie }));
    }
    headers
}

/// Appends the clearing variants of both session cookies to `response.headers` (logout, and
/// every refused refresh). Errors as for [`session_cookies`].
#[pg_extern(volatile, parallel_unsafe, schema = "auth_private")]
fn _clear_session_cookies() {
    add_response_headers(session_cookies(None, None, true));
}

/// The claims of a session's access token, before `auth.access_token_hook`: `role`, `sub` and
/// `username` (the username), `sid` (the session), `app_metadata` (the user's
/// `auth.users.app_metadata`; `{}` for NULL), `iat` (the transaction's start, whole seconds),
/// `exp` (`iat` + `auth.access_token_ttl`), and `aud`/`iss` when `auth.jwt_audience` /
/// `auth.jwt_issuer` are set. NULL arguments give JSON nulls (the flows never pass them).
fn session_claims(
    session_id: Option<pgrx::Uuid>,
    username: Option<&str>,
    role: Option<&CStr>,
    app_metadata: Option<Value>,
) -> Map<String, Value> {
    let iat = crate::jwt::now_unix().floor() as i64;
    let exp = iat + i64::from(gucs::access_token_ttl());
    let username = username.map_or(Value::Null, Value::from);
    let mut claims = Map::with_capacity(10);
    claims.insert("exp".into(), exp.into());
    claims.insert("iat".into(), iat.into());
    claims.insert(
        "sid".into(),
        session_id.map_or(Value::Null, |s| s.to_string().into()),
    );
    claims.insert("sub".into(), username.clone());
    claims.insert(
        "role".into(),
        role.map_or(Value::Null, |r| Value::from(r.to_string_lossy())),
    );
    claims.insert("username".into(), username);
    claims.insert(
        "app_metadata".into(),
        app_metadata.unwrap_or_else(|| Value::Object(Map::new())),
    );
    if let Some(aud) = gucs::jwt_audience() {
        claims.insert("aud".into(), aud.into());
    }
    if let Some(iss) = gucs::jwt_issuer() {
        claims.insert("iss".into(), iss.into());
    }
    claims
}

/// `auth_private._session_claims(session_id, username, role, app_metadata)`: the default claims
/// of a session's access token ([`session_claims`]), which `auth_private._token_claims` hands to
/// `auth.access_token_hook` when it is set. STABLE: the time is the transaction's. An
/// `app_metadata` a token cannot carry (a number beyond double precision, nesting deeper than 128
/// levels) is 22023.
#[pg_extern(
    schema = "auth_private",
    sql = "
CREATE FUNCTION auth_private._session_claims(session_id uuid, username text, role name, app_metadata jsonb)
RETURNS jsonb STABLE PARALLEL SAFE
LANGUAGE c AS 'MODULE_PATHNAME', '_session_claims_wrapper';
"
)]
fn _session_claims(
    session_id: Option<pgrx::Uuid>,
    username: Option<&str>,
    role: Option<&CStr>,
    app_metadata: Option<JsonbValue>,
) -> JsonB {
    let app_metadata = app_metadata.map(|j| {
        j.0.unwrap_or_else(|e| {
            raise(AuthError::InvalidParameter(format!(
                "app_metadata cannot be carried in an access token: {e}"
            )))
        })
    });
    JsonB(Value::Object(session_claims(
        session_id,
        username,
        role,
        app_metadata,
    )))
}

/// What `auth.access_token_hook` names: `schema.name(event jsonb)` returning jsonb.
const ACCESS_TOKEN_HOOK: owner_call::Signature = owner_call::Signature {
    setting: "auth.access_token_hook",
    arg_types: &[pg_sys::JSONBOID],
    args: "event jsonb",
    returns: pg_sys::JSONBOID,
    returns_name: "jsonb",
};

/// `auth_private._access_token_hook()`: false when `auth.access_token_hook` is unset (reading
/// the setting only: no catalog query on the paths without a hook); true when it names a usable
/// function. Raises 22023 naming the setting when it does not: not `schema.name`, no function
/// `schema.name(jsonb)`, or one that is not a plain function returning jsonb its owner may
/// execute.
#[pg_extern(stable, parallel_safe, schema = "auth_private")]
fn _access_token_hook() -> bool {
    match gucs::access_token_hook() {
        None => false,
        Some(setting) => {
            owner_call::find(&ACCESS_TOKEN_HOOK, &setting);
            true
        }
    }
}

/// `auth_private._call_access_token_hook(event)`: calls the function `auth.access_token_hook`
/// names with `event` (`{"username", "role", "session_id", "method", "claims"}`) as its owner
/// ([`owner_call`]) and returns the claims to sign: its answer, which must be an object whose
/// reserved claims equal those of `event.claims` ([`claims::hook_claims`]). Raises 22023 with the
/// reason otherwise (`returned a non-object`, also for NULL; `claim "role" may not be changed`;
/// `returned JSON that cannot be signed (…)` for numbers beyond double precision or nesting
/// deeper than 128 levels), for an unset or unusable setting, and for an event without an object
/// `claims`; the hook's own errors propagate. `auth_private._token_claims` turns every one of them into PT403.
#[pg_extern(volatile, parallel_unsafe, schema = "auth_private")]
fn _call_access_token_hook(event: Option<JsonbValue>) -> JsonB {
    let Some(setting) = gucs::access_token_hook() else {
        raise(AuthError::Config(
            "auth.access_token_hook is not set".into(),
        ))
    };
    let (event, given) = match event.map(|e| e.0) {
        Some(Ok(event)) => match event.get("claims") {
            Some(Value::Object(claims)) => {
                let claims = claims.clone();
                (event, claims)
            }
            _ => raise_bad_event(),
        },
        _ => raise_bad_event(),
    };
    let found = owner_call::find(&ACCESS_TOKEN_HOOK, &setting);
    let returned: Option<JsonbValue> =
        owner_call::call(&ACCESS_TOKEN_HOOK, found, &[JsonB(event).into_datum()]);
    let returned = returned.map(|j| {
        j.0.unwrap_or_else(|e| {
            raise(AuthError::InvalidParameter(format!(
                "returned JSON that cannot be signed ({e})"
            )))
        })
    });
    match claims::hook_claims(&given, returned) {
        Ok(claims) => JsonB(Value::Object(claims)),
        Err(refusal) => raise(AuthError::InvalidParameter(refusal.to_string())),
    }
}

fn raise_bad_event() -> ! {
    raise(AuthError::InvalidParameter(
        "event must be an object with an object \"claims\"".into(),
    ))
}

/// Signs `claims` (exactly those) with the server key, appends to `response.headers` the
/// `access_token` cookie, the `refresh_token` cookie when a new `refresh_token` is given, and
/// `Cache-Control: no-store`, and returns `{"username", "role", "expires_at" (`exp`),
/// "expires_in"}`, plus `"token_type": "bearer"`, `"access_token"` and `"refresh_token"` when
/// `auth.tokens_in_body` is on.
fn respond(
    username: Option<&str>,
    role: Option<&CStr>,
    refresh_token: Option<&str>,
    claims: &Map<String, Value>,
    exp: i64,
) -> JsonB {
    let access = crate::keys::sign(claims).or_raise();
    let mut headers = session_cookies(Some(&access), refresh_token, false);
    headers.push(json!({ "Cache-Control": "no-store" }));
    add_response_headers(headers);

    let mut body = json!({
        "username": username,
        "role": role.map(|r| r.to_string_lossy()),
        "expires_at": exp,
        "expires_in": gucs::access_token_ttl(),
    });
    if gucs::tokens_in_body() {
        body["token_type"] = "bearer".into();
        body["access_token"] = access.into();
        body["refresh_token"] = refresh_token.into();
    }
    JsonB(body)
}

/// `auth_private._session_response(username, role, refresh_token, claims)`: the answer of a
/// successful login or refresh ([`respond`]) for `username` (whose database role is `role`),
/// signing exactly `claims` (from `auth_private._token_claims`). Errors, all 22023: `claims` not
/// an object or without an integer `exp`, no usable JWT key, a bad cookie setting,
/// `response.headers` holding something other than a JSON array.
#[pg_extern(
    schema = "auth_private",
    sql = "
CREATE FUNCTION auth_private._session_response(username text, role name, refresh_token text, claims jsonb)
RETURNS jsonb VOLATILE PARALLEL UNSAFE
LANGUAGE c AS 'MODULE_PATHNAME', '_session_response_for_wrapper';
"
)]
fn _session_response_for(
    username: Option<&str>,
    role: Option<&CStr>,
    refresh_token: Option<&str>,
    claims: Option<JsonbValue>,
) -> JsonB {
    let Some(JsonbValue(Ok(Value::Object(claims)))) = claims else {
        raise(AuthError::InvalidParameter(
            "claims must be a JSON object".into(),
        ))
    };
    let Some(exp) = claims.get("exp").and_then(Value::as_i64) else {
        raise(AuthError::InvalidParameter(
            "claims must hold an integer \"exp\"".into(),
        ))
    };
    respond(username, role, refresh_token, &claims, exp)
}

/// The 0.1.0 answer of a successful login or refresh (`_session_response(uuid, text, name,
/// text)`), kept as a C symbol only for databases that run 0.1.0's SQL until
/// `ALTER EXTENSION auth UPDATE`: the default claims, without `app_metadata` (0.1.0's users have
/// none).
#[pg_extern(sql = false)]
fn _session_response(
    session_id: Option<pgrx::Uuid>,
    username: Option<&str>,
    role: Option<&CStr>,
    refresh_token: Option<&str>,
) -> JsonB {
    let mut claims = session_claims(session_id, username, role, None);
    claims.remove("app_metadata");
    let exp = claims
        .get("exp")
        .and_then(Value::as_i64)
        .unwrap_or_default();
    respond(username, role, refresh_token, &claims, exp)
}

/// The refresh-token digest stored in `auth.refresh_tokens.token_hash` and looked up by every
/// flow: SHA-256 of the token's UTF-8 bytes.
#[pg_extern(immutable, strict, parallel_safe, schema = "auth_private")]
fn _refresh_token_hash(token: &str) -> Vec<u8> {
    token::sha256(token.as_bytes())
}

/// The claims of a token signed with the server key, checking the algorithm and the signature but
/// not the time claims. NULL for anything else (malformed, wrong algorithm, bad signature, no
/// usable key). Only the C symbol remains, for databases not yet updated from 0.1.0, whose logout
/// calls it; 0.2.0 has no SQL function for it.
#[pg_extern(sql = false)]
fn _signed_claims_ignoring_time(token: &str) -> Option<JsonB> {
    crate::jwt::signed_claims_ignoring_time(token).map(|c| JsonB(Value::Object(c)))
}

/// The client address of the current request, as the trusted proxy reports it in the header
/// named by `auth.client_ip_header` (its rightmost element, [`auth_core::session::client_ip`]).
/// NULL when the setting is unset, or the header is absent or not an address.
#[pg_extern(stable, parallel_safe, schema = "auth_private")]
fn _request_client_ip() -> Option<pgrx::Inet> {
    let name = gucs::client_ip_header()?;
    let value = crate::request::header(&name)?;
    auth_core::session::client_ip(&value).map(|ip| pgrx::Inet(ip.to_string()))
}

/// Why a session created at `created_at` and last seen at `last_seen_at` has ended by itself at
/// `now()` under `auth.session_max_lifetime` and `auth.session_idle_timeout`:
/// `'max_lifetime'`, `'idle_timeout'`, or NULL while neither has passed (or both are off). Part
/// of the one definition of a live session, `auth_private._live`.
#[pg_extern(stable, strict, parallel_safe, schema = "auth_private")]
fn _session_timeout(
    created_at: pgrx::datum::TimestampWithTimeZone,
    last_seen_at: pgrx::datum::TimestampWithTimeZone,
) -> Option<&'static str> {
    let (idle, max) = (gucs::session_idle_timeout(), gucs::session_max_lifetime());
    if idle <= 0 && max <= 0 {
        return None;
    }
    // SAFETY: reads the backend's transaction start time, what now() returns.
    let now = unsafe { pg_sys::GetCurrentTransactionStartTimestamp() };
    auth_core::session::timeout(created_at.into(), last_seen_at.into(), now, idle, max)
        .map(|t| t.reason())
}
