//! JWT functions: the pgjwt-compatible API (caller's secret) and the server-keyed API.

use auth_core::claims::{self, Policy};
use auth_core::{base64url, jwt, secret, Algorithm, AuthError};
use pgrx::datum::JsonB;
use pgrx::prelude::*;
use serde_json::{Map, Value};

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

/// The server's algorithm and key, from `auth.jwt_secret` or its fallbacks.
pub fn server_key() -> Result<(Algorithm, Vec<u8>), AuthError> {
    let alg = Algorithm::parse(&gucs::jwt_algorithm())?;
    let (value, setting, is_base64) = gucs::jwt_secret().ok_or_else(|| {
        AuthError::Config(
            "no JWT key is configured: set auth.jwt_secret (or pgrst.jwt_secret)".into(),
        )
    })?;
    Ok((alg, secret::server_key(&value, is_base64, alg, setting)?))
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

/// pgjwt's `verify`: `valid` is false for a bad signature, another algorithm, `exp <= now` or
/// `nbf > now`; a token that is not a JWS at all raises 22P02. Header and payload are returned as
/// the JSON text that was signed.
#[pg_extern(sql = "
CREATE FUNCTION auth.verify(token text, secret text, algorithm text DEFAULT 'HS256')
RETURNS TABLE(header json, payload json, valid boolean)
STABLE STRICT PARALLEL SAFE ROWS 1 LANGUAGE c AS 'MODULE_PATHNAME', 'verify_wrapper';
")]
fn verify(
    token: &str,
    secret: &str,
    algorithm: &str,
) -> TableIterator<
    'static,
    (
        name!(header, String),
        name!(payload, String),
        name!(valid, bool),
    ),
> {
    let alg = Algorithm::parse(algorithm).or_raise();
    let key = caller_secret(secret).or_raise();
    let decoded = jwt::decode(token)
        .map_err(|r| AuthError::InvalidText(format!("invalid JWT: {}", r.message())))
        .or_raise();
    let valid = decoded.verify_signature(token, alg, key).is_ok()
        && claims::pgjwt_time_valid(&decoded.payload, now_unix_micros());
    TableIterator::once((decoded.header_json, decoded.payload_json, valid))
}

/// Signs claims with the server key, adding `iat`, `exp` (unless present) and the configured
/// `aud`/`iss` (unless present).
pub fn sign_with_server_key(mut claims: Map<String, Value>, ttl: Option<i64>) -> String {
    let (alg, key) = server_key().or_raise();
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
    jwt::encode_claims(&claims, alg, &key)
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

/// Strict verification; the plpgsql `auth.jwt_verify` raises PT401 with `rejection`.
pub fn verify_with_server_key(
    token: &str,
) -> Result<Map<String, Value>, auth_core::error::Rejection> {
    let (alg, key) = server_key().or_raise();
    let decoded = jwt::decode(token)?;
    decoded.verify_signature(token, alg, &key)?;
    let audience = gucs::jwt_audience();
    let issuer = gucs::jwt_issuer();
    let policy = Policy {
        now: now_unix(),
        leeway: gucs::jwt_leeway().into(),
        audience: audience.as_deref(),
        issuer: issuer.as_deref(),
    };
    claims::check(&decoded.payload, &policy)?;
    Ok(decoded.payload)
}

#[pg_extern(stable, strict, parallel_safe)]
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

/// A non-secret setting's effective value, for the plpgsql flows; NULL for unknown names.
#[pg_extern(stable, strict, parallel_safe)]
fn _setting(name: &str) -> Option<String> {
    gucs::setting_text(name)
}
