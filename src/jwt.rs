//! JWT functions: the pgjwt-compatible API (caller's secret) and the server-keyed API.

use auth_core::claims::{self, Policy};
use auth_core::error::Rejection;
use auth_core::{base64url, jwt, Algorithm, AuthError};
use pgrx::datum::JsonB;
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use pgrx::{IntoDatum, PgLogLevel, PgSqlErrorCode};
use serde_json::{Map, Value};
use std::cell::RefCell;
use std::ffi::CString;
use std::rc::Rc;

use crate::datum::JsonbDatum;
use crate::error::OrRaise;
use crate::gucs;

/// Transaction start in Unix microseconds: what `now()` says, so a statement sees one instant.
pub fn now_unix_micros() -> i64 {
    // SAFETY: reads the transaction start timestamp, always valid inside a transaction.
    let ts = unsafe { pg_sys::GetCurrentTransactionStartTimestamp() };
    ts + 946_684_800 * 1_000_000
}

/// Transaction start as Unix seconds.
pub fn now_unix() -> f64 {
    now_unix_micros() as f64 / 1_000_000.0
}

fn caller_secret(secret: &str) -> Result<&[u8], AuthError> {
    if secret.is_empty() {
        return Err(AuthError::InvalidParameter(
            "secret must not be empty".into(),
        ));
    }
    Ok(secret.as_bytes())
}

#[pg_extern(immutable, strict, parallel_safe)]
fn url_encode(data: &[u8]) -> String {
    base64url::encode(data)
}

#[pg_extern(immutable, strict, parallel_safe)]
fn url_decode(data: &str) -> Vec<u8> {
    base64url::decode_lenient(data)
        .ok_or_else(|| AuthError::InvalidText("invalid base64url input".into()))
        .or_raise()
}

/// pgjwt's `sign`: the payload's JSON text exactly as given, header `{"alg":…,"typ":"JWT"}`.
/// Declared by hand so the payload is SQL `json` yet read as its text (json is stored as text),
/// which keeps the output byte-identical to pgjwt's.
#[pg_extern(sql = "
CREATE FUNCTION auth.sign(payload json, secret text, algorithm text DEFAULT 'HS256') RETURNS text
IMMUTABLE STRICT PARALLEL SAFE LANGUAGE c AS 'MODULE_PATHNAME', 'sign_wrapper';
")]
fn sign(payload: &str, secret: &str, algorithm: &str) -> String {
    let alg = Algorithm::parse(algorithm).or_raise();
    jwt::encode(payload, alg, caller_secret(secret).or_raise())
}

// pgjwt's `verify` is `auth.verify(token, secret, algorithm) → TABLE(header json, payload json,
// valid boolean)` in sql/jwt.sql: a SQL function the planner inlines into three scalar calls,
// which costs far less per row than a set-returning C function. The three calls see the same
// token, so the last decoded token is cached for the backend (keyed by its full text).

thread_local! {
    static LAST_DECODED: RefCell<Option<(String, Rc<jwt::Decoded>)>> = const { RefCell::new(None) };
}

/// Decodes a token for the pgjwt API: unknown algorithm → 22023, not a JWS → 22P02.
fn decode_for_pgjwt(token: &str, algorithm: &str) -> (Algorithm, Rc<jwt::Decoded>) {
    let alg = Algorithm::parse(algorithm).or_raise();
    let cached = LAST_DECODED.with_borrow(|last| match last {
        Some((t, d)) if t == token => Some(Rc::clone(d)),
        _ => None,
    });
    let decoded = cached.unwrap_or_else(|| {
        let d = Rc::new(
            jwt::decode(token)
                .map_err(|r| AuthError::InvalidText(format!("invalid JWT: {}", r.message())))
                .or_raise(),
        );
        LAST_DECODED.set(Some((token.to_owned(), Rc::clone(&d))));
        d
    });
    (alg, decoded)
}

/// The header's JSON text as signed (json is stored as text, so no re-parse on the way out).
#[pg_extern(
    schema = "auth_private",
    sql = "
CREATE FUNCTION auth_private._jwt_header(token text, algorithm text) RETURNS json
IMMUTABLE STRICT PARALLEL SAFE LANGUAGE c AS 'MODULE_PATHNAME', '_jwt_header_wrapper';
"
)]
fn _jwt_header(token: &str, algorithm: &str) -> String {
    decode_for_pgjwt(token, algorithm).1.header_json.clone()
}

#[pg_extern(
    schema = "auth_private",
    sql = "
CREATE FUNCTION auth_private._jwt_payload(token text, algorithm text) RETURNS json
IMMUTABLE STRICT PARALLEL SAFE LANGUAGE c AS 'MODULE_PATHNAME', '_jwt_payload_wrapper';
"
)]
fn _jwt_payload(token: &str, algorithm: &str) -> String {
    decode_for_pgjwt(token, algorithm).1.payload_json.clone()
}

/// pgjwt's `valid`: false for a bad signature, another `alg` (none included), `exp <= now` or
/// `nbf > now`.
#[pg_extern(stable, strict, parallel_safe, schema = "auth_private")]
fn _jwt_valid(token: &str, secret: &str, algorithm: &str) -> bool {
    let (alg, decoded) = decode_for_pgjwt(token, algorithm);
    let key = caller_secret(secret).or_raise();
    decoded.verify_signature(token, alg, key).is_ok()
        && claims::pgjwt_time_valid(&decoded.payload, now_unix_micros())
}

/// Signs claims with the server key, adding `iat`, `exp` (unless present) and the configured
/// `aud`/`iss` (unless present).
pub fn sign_with_server_key(mut claims: Map<String, Value>, ttl: Option<i64>) -> String {
    let now = now_unix().floor() as i64;
    claims.insert("iat".into(), now.into());
    if let Some(ttl) = ttl {
        claims.entry("exp").or_insert_with(|| (now + ttl).into());
    }
    if let Some(aud) = gucs::jwt_audience() {
        claims.entry("aud").or_insert(aud.into());
    }
    if let Some(iss) = gucs::jwt_issuer() {
        claims.entry("iss").or_insert(iss.into());
    }
    crate::keys::sign(&claims).or_raise()
}

#[pg_extern(stable, strict, parallel_safe)]
fn jwt_sign(claims: JsonB) -> String {
    let Value::Object(claims) = claims.0 else {
        crate::error::raise(AuthError::InvalidParameter(
            "claims must be a JSON object".into(),
        ))
    };
    sign_with_server_key(claims, Some(gucs::access_token_ttl().into()))
}

/// Strict verification with the server's keys: the one rule of `auth.jwt_verify`.
fn verify_decoded(token: &str) -> Result<jwt::Decoded, Rejection> {
    let decoded = crate::keys::verify(token).or_raise()?;
    let audience = gucs::jwt_audience();
    let issuer = gucs::jwt_issuer();
    let policy = Policy {
        now: now_unix(),
        leeway: gucs::jwt_leeway().into(),
        audience: audience.as_deref(),
        issuer: issuer.as_deref(),
    };
    claims::check(&decoded.payload, &policy)?;
    claims::check_no_nul(&decoded.payload)?;
    Ok(decoded)
}

/// The claims of a token that passes `auth.jwt_verify`, or why it does not.
pub fn verify_with_server_key(token: &str) -> Result<Map<String, Value>, Rejection> {
    verify_decoded(token).map(|decoded| decoded.payload)
}

/// The claims of a token signed with the server key, checking the algorithm and the signature but
/// not the time claims (logout accepts an expired access token to find the session to end).
/// None for anything else: malformed, wrong algorithm, bad signature, a NUL in the claims, no
/// usable key.
pub fn signed_claims_ignoring_time(token: &str) -> Option<Map<String, Value>> {
    let decoded = crate::keys::verify(token).ok()?.ok()?;
    claims::check_no_nul(&decoded.payload).ok()?;
    Some(decoded.payload)
}

// `auth.jwt_verify` (sql/jwt.sql) is plain SQL the planner inlines into the caller's query:
// `coalesce(auth_private._jwt_claims(token), auth_private._jwt_reject(token))`. The claims come
// from one scalar call; only a refused token takes the slow path, a plpgsql function that asks
// `_jwt_rejection` for the reason (verifying again) and raises PT401, which Rust cannot raise.
//
// Inlined, the helpers run with the caller's privileges, so they are executable by PUBLIC; each
// first checks that the caller may execute `auth.jwt_verify(text)` itself (42501 otherwise). So
// granting `auth.jwt_verify` stays what lets a role verify with the server key, and a direct call
// of a helper, or a cached plan run after `SET ROLE` to a role without the grant, is refused as
// the SECURITY DEFINER wrapper of 0.1.0 refused it.

/// The answer of the privilege check, kept for one call site of one query (`fn_extra`) and the
/// role it was computed for. PostgreSQL itself checks EXECUTE once per call site and query.
struct VerifyPrivilege {
    role: pg_sys::Oid,
    allowed: bool,
}

/// Raises 42501 unless the current role may execute `auth.jwt_verify(text)`.
fn require_jwt_verify_privilege(fcinfo: pg_sys::FunctionCallInfo) {
    // SAFETY: `fcinfo` is the call's own, with a valid `flinfo`; `fn_extra` is ours to use and is
    // only ever set below, to a `VerifyPrivilege` allocated in `fn_mcxt`, which lives as long as
    // the `FmgrInfo`.
    unsafe {
        let flinfo = (*fcinfo).flinfo;
        let role = pg_sys::GetUserId();
        let cached = if flinfo.is_null() {
            std::ptr::null_mut()
        } else {
            (*flinfo).fn_extra.cast::<VerifyPrivilege>()
        };
        let allowed = if !cached.is_null() && (*cached).role == role {
            (*cached).allowed
        } else if flinfo.is_null() {
            // Called without an FmgrInfo (DirectFunctionCall): nowhere to keep the answer.
            may_execute_jwt_verify()
        } else {
            let allowed = may_execute_jwt_verify();
            let slot = pg_sys::MemoryContextAlloc(
                (*flinfo).fn_mcxt,
                std::mem::size_of::<VerifyPrivilege>(),
            )
            .cast::<VerifyPrivilege>();
            slot.write(VerifyPrivilege { role, allowed });
            (*flinfo).fn_extra = slot.cast();
            allowed
        };
        if !allowed {
            ErrorReport::new(
                PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
                "permission denied for function jwt_verify",
                "",
            )
            .report(PgLogLevel::ERROR);
        }
    }
}

/// `has_function_privilege('auth.jwt_verify(pg_catalog.text)', 'EXECUTE')` for the current role;
/// false when the function does not exist.
fn may_execute_jwt_verify() -> bool {
    // SAFETY: two fmgr builtins with text arguments; to_regprocedure answers NULL for an unknown
    // function, has_function_privilege_id NULL for a dropped one.
    unsafe {
        let Some(oid) = pgrx::direct_function_call::<pg_sys::Oid>(
            pg_sys::to_regprocedure,
            &["auth.jwt_verify(pg_catalog.text)".into_datum()],
        ) else {
            return false;
        };
        pgrx::direct_function_call::<bool>(
            pg_sys::has_function_privilege_id,
            &[oid.into_datum(), "EXECUTE".into_datum()],
        )
        .unwrap_or(false)
    }
}

/// `auth_private._jwt_claims(token)`: the claims of a token `auth.jwt_verify` accepts, NULL for
/// a token it refuses. A missing or unusable key raises 22023 as `jwt_verify` does.
#[pg_extern(stable, strict, parallel_safe, schema = "auth_private")]
fn _jwt_claims(fcinfo: pg_sys::FunctionCallInfo, token: &str) -> Option<JsonbDatum> {
    require_jwt_verify_privilege(fcinfo);
    let decoded = verify_decoded(token).ok()?;
    Some(claims_jsonb(decoded))
}

/// The verified claims as jsonb. The signed text is parsed once more, by PostgreSQL, which costs
/// half of serializing the map and parsing that; it is the same value whenever the map's numbers
/// are exact (a database in UTF-8, which reads `\u` escapes as the map does). Otherwise the map
/// goes, as it always did.
fn claims_jsonb(decoded: jwt::Decoded) -> JsonbDatum {
    // SAFETY: reads the database encoding, fixed for the backend.
    let utf8 = unsafe { pg_sys::GetDatabaseEncoding() } == pg_sys::pg_enc::PG_UTF8 as i32;
    if utf8 && decoded.payload_numbers_are_exact() {
        // Valid JSON holds no NUL byte (a NUL escape was refused as a NUL character).
        if let Ok(text) = CString::new(decoded.payload_json) {
            return JsonbDatum::parse(&text);
        }
    } else {
        let json = Value::Object(decoded.payload);
        if let Some(datum) = JsonB(json).into_datum() {
            return JsonbDatum(datum);
        }
    }
    crate::error::raise(AuthError::Internal(
        "verified claims could not be read as jsonb".into(),
    ))
}

/// `auth_private._jwt_rejection(token)`: the message `auth.jwt_verify` raises with PT401 for this
/// token, `invalid token: <reason>`; NULL when the token is accepted. Verifies again: it runs
/// only for refused tokens.
#[pg_extern(stable, strict, parallel_safe, schema = "auth_private")]
fn _jwt_rejection(fcinfo: pg_sys::FunctionCallInfo, token: &str) -> Option<String> {
    require_jwt_verify_privilege(fcinfo);
    verify_decoded(token)
        .err()
        .map(|r| format!("invalid token: {}", r.message()))
}

/// A non-secret setting's effective value, for the plpgsql flows. An unknown name is an error
/// (a typo must never turn a check off by reading as NULL).
#[pg_extern(stable, strict, parallel_safe, schema = "auth_private")]
fn _setting(name: &str) -> String {
    gucs::setting_text(name).unwrap_or_else(|| {
        crate::error::raise(AuthError::Internal(format!(
            "auth_private._setting: unknown setting {name:?}"
        )))
    })
}

/// The strict verifier as 0.1.0's SQL calls it (`auth._jwt_verify`, whose plpgsql `jwt_verify`
/// raised the rejection): only the C symbol remains, for databases not yet updated from 0.1.0;
/// 0.2.0 has no SQL function for it.
#[pg_extern(sql = false)]
fn _jwt_verify(
    token: &str,
) -> TableIterator<
    'static,
    (
        name!(claims, Option<JsonB>),
        name!(rejection, Option<String>),
    ),
> {
    let row = match verify_with_server_key(token) {
        Ok(claims) => (Some(JsonB(Value::Object(claims))), None),
        Err(r) => (None, Some(r.message())),
    };
    TableIterator::once(row)
}
