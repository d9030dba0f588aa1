//! The key store (`auth_private.signing_keys`, `sql/signing_keys.sql`) as the signing and verifying
//! paths see it: a per-backend cache of the stored keys, parsed once, and the rules of
//! [`auth_core::keystore`] over it and the key of the `auth.jwt_secret` setting.
//!
//! The cache is dropped whenever the table changes: a statement trigger on the table sends a
//! relcache invalidation for it, which every backend (this one included, at the end of the
//! command) receives before its next transaction reads the cache. It is reloaded with a snapshot
//! taken after the invalidation was received, so a reload always sees the change that caused it.
//!
//! The rows are read with the privileges of the bootstrap superuser: every role that may verify a
//! token (`auth.jwt_verify` is inlined into its caller's query) needs the keys, and no role but
//! the owner may read the table. Private parts are sealed in the table under
//! `auth.key_encryption_key` (a setting of postgresql.conf, never in the database), opened here
//! only for the active key and for HMAC keys.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use auth_core::error::Rejection;
use auth_core::keys::{self, JwsAlg, SigningKey, VerifyingKey};
use auth_core::keystore::{self, Entry, KeyState};
use auth_core::{jwt, secret, Algorithm, AuthError};
use pgrx::datum::JsonB;
use pgrx::prelude::*;
use pgrx::{IntoDatum, PgLogLevel, PgSqlErrorCode};
use serde_json::{Map, Value};

use crate::error::OrRaise;
use crate::gucs;

/// What a key of the store can do in this backend. A key that cannot be opened or parsed (a
/// changed `auth.key_encryption_key`, a row edited by hand) stays in the store with its error, so
/// a token that names it is refused with that error and every other key keeps working.
struct Loaded {
    verifying: Result<Rc<VerifyingKey>, AuthError>,
    alg: JwsAlg,
    sealed: Option<Vec<u8>>,
    public_jwk: Option<Map<String, Value>>,
}

struct Store {
    entries: Vec<Entry<Loaded>>,
    /// The active key, opened on first use.
    signer: RefCell<Option<Rc<SigningKey>>>,
}

thread_local! {
    static CACHE: RefCell<Option<(u64, Rc<Store>)>> = const { RefCell::new(None) };
    /// Bumped by every invalidation of the table (or of all relations).
    static GENERATION: Cell<u64> = const { Cell::new(0) };
    static TABLE: Cell<pg_sys::Oid> = const { Cell::new(pg_sys::InvalidOid) };
}

/// Registers the invalidation callback; from `_PG_init`, once per backend.
pub fn init() {
    // SAFETY: a static function with the signature PostgreSQL expects, registered once.
    unsafe {
        pg_sys::CacheRegisterRelcacheCallback(Some(relcache_changed), pg_sys::Datum::from(0))
    };
}

#[pg_guard]
unsafe extern "C-unwind" fn relcache_changed(_arg: pg_sys::Datum, relid: pg_sys::Oid) {
    // Runs inside invalidation processing: only plain backend-local state is touched here.
    let table = TABLE.get();
    if relid == pg_sys::InvalidOid || (table != pg_sys::InvalidOid && relid == table) {
        GENERATION.set(GENERATION.get().wrapping_add(1));
    }
}

/// `auth_private._key_store_changed(relid)`: the statement trigger of the table. Queues a relcache
/// invalidation for it, sent to every backend when the transaction commits (and processed here at
/// once, and again if it rolls back).
#[pg_extern(volatile, strict, parallel_unsafe, schema = "auth_private")]
fn _key_store_changed(relid: pg_sys::Oid) {
    // SAFETY: the trigger passes its own table's oid, which exists.
    unsafe { pg_sys::CacheInvalidateRelcacheByRelid(relid) };
}

fn store() -> Result<Rc<Store>, AuthError> {
    let generation = GENERATION.get();
    if let Some(store) = CACHE.with_borrow(|c| {
        c.as_ref()
            .filter(|(g, _)| *g == generation)
            .map(|(_, s)| Rc::clone(s))
    }) {
        return Ok(store);
    }
    // SAFETY: reads a backend flag.
    let parallel = unsafe { pg_sys::IsInParallelMode() };
    let store = Rc::new(load(!parallel)?);
    // In a parallel worker the rows were read with the query's snapshot, which may predate a
    // change this backend has already been told about: good for this call only.
    if !parallel {
        CACHE.set(Some((generation, Rc::clone(&store))));
    }
    Ok(store)
}

type Row = (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<JsonB>,
    Option<Vec<u8>>,
);

/// Reads the table (none when the extension's table does not exist in this database).
fn load(latest_snapshot: bool) -> Result<Store, AuthError> {
    // SAFETY: to_regclass is a builtin taking text; NULL for an unknown name.
    let oid = unsafe {
        pgrx::direct_function_call::<pg_sys::Oid>(
            pg_sys::to_regclass,
            &["auth_private.signing_keys".into_datum()],
        )
    };
    let Some(oid) = oid else {
        return Ok(Store {
            entries: Vec::new(),
            signer: RefCell::new(None),
        });
    };
    TABLE.set(oid);
    let rows = as_bootstrap_superuser(latest_snapshot, || {
        Spi::connect(|client| {
            let table = client.select(
                "SELECT kid, alg, state, public_jwk, sealed_key FROM auth_private.signing_keys",
                None,
                &[],
            )?;
            let mut rows: Vec<Row> = Vec::new();
            for row in table {
                rows.push((
                    row.get(1)?,
                    row.get(2)?,
                    row.get(3)?,
                    row.get(4)?,
                    row.get(5)?,
                ));
            }
            Ok::<_, pgrx::spi::Error>(rows)
        })
    })
    .map_err(|e| AuthError::Internal(format!("the key store could not be read: {e}")))?;
    let entries = rows.into_iter().filter_map(entry).collect();
    Ok(Store {
        entries,
        signer: RefCell::new(None),
    })
}

/// One row as the rules see it; a row whose kid, algorithm or state is not one of ours (edited by
/// hand) is skipped, so a token naming it is an unknown kid.
fn entry((kid, alg, state, jwk, sealed): Row) -> Option<Entry<Loaded>> {
    let kid = kid?;
    let alg = JwsAlg::from_name(&alg?)?;
    let state = KeyState::from_name(&state?)?;
    let public_jwk = match jwk.map(|j| j.0) {
        Some(Value::Object(m)) => Some(m),
        _ => None,
    };
    let verifying = if state.verifies() {
        verifying_key(&kid, alg, public_jwk.as_ref(), sealed.as_deref())
    } else {
        Err(Rejection::RetiredKey.into())
    };
    Some(Entry {
        kid,
        state,
        key: Loaded {
            verifying,
            alg,
            sealed,
            public_jwk,
        },
    })
}

fn verifying_key(
    kid: &str,
    alg: JwsAlg,
    jwk: Option<&Map<String, Value>>,
    sealed: Option<&[u8]>,
) -> Result<Rc<VerifyingKey>, AuthError> {
    let key = match (alg.hmac(), jwk, sealed) {
        (Some(_), _, Some(sealed)) => open(kid, alg, sealed)?.verifying_key(),
        (None, Some(jwk), _) => {
            let (key, _) = keys::parse_public_key(&Value::Object(jwk.clone()).to_string())?;
            if key.alg() != alg {
                return Err(AuthError::Config(format!(
                    "signing key \"{kid}\" is stored as {} but its key is {}",
                    alg.name(),
                    key.alg().name()
                )));
            }
            key
        }
        _ => {
            return Err(AuthError::Config(format!(
                "signing key \"{kid}\" has no key material"
            )))
        }
    };
    Ok(Rc::new(key))
}

/// The additional data that binds sealed material to its row.
fn aad(kid: &str, alg: JwsAlg) -> Vec<u8> {
    let mut aad = Vec::with_capacity(kid.len() + 8);
    aad.extend_from_slice(alg.name().as_bytes());
    aad.push(0);
    aad.extend_from_slice(kid.as_bytes());
    aad
}

fn key_encryption_key() -> Result<String, AuthError> {
    let kek = gucs::key_encryption_key().ok_or_else(|| {
        AuthError::Config(
            "auth.key_encryption_key is not set: put a random value of at least 32 bytes in postgresql.conf (it encrypts the stored signing keys)".into(),
        )
    })?;
    if kek.len() < 32 {
        return Err(AuthError::Config(format!(
            "auth.key_encryption_key is {} bytes; at least 32 are needed",
            kek.len()
        )));
    }
    Ok(kek)
}

fn open(kid: &str, alg: JwsAlg, sealed: &[u8]) -> Result<SigningKey, AuthError> {
    let kek = key_encryption_key()?;
    let private = keys::open(kek.as_bytes(), &aad(kid, alg), sealed)?;
    SigningKey::from_private_bytes(alg, &private)
}

/// Runs `f` as the bootstrap superuser (restricted: no temporary objects, no SET ROLE), with the
/// latest snapshot when asked. An error inside `f` aborts the (sub)transaction, which restores
/// the user and the snapshot stack itself.
fn as_bootstrap_superuser<R>(latest_snapshot: bool, f: impl FnOnce() -> R) -> R {
    let mut user = pg_sys::InvalidOid;
    let mut context = 0;
    // SAFETY: the documented way to switch the current user for an internal query (as the
    // foreign-key triggers do); restored below, or by the abort of an error.
    unsafe {
        pg_sys::GetUserIdAndSecContext(&mut user, &mut context);
        pg_sys::SetUserIdAndSecContext(
            pg_sys::Oid::from(pg_sys::BOOTSTRAP_SUPERUSERID),
            context
                | pg_sys::SECURITY_LOCAL_USERID_CHANGE as i32
                | pg_sys::SECURITY_RESTRICTED_OPERATION as i32,
        );
        if latest_snapshot {
            pg_sys::PushActiveSnapshot(pg_sys::GetLatestSnapshot());
        }
    }
    let result = f();
    // SAFETY: undoes exactly what was done above.
    unsafe {
        if latest_snapshot {
            pg_sys::PopActiveSnapshot();
        }
        pg_sys::SetUserIdAndSecContext(user, context);
    }
    result
}

/// The key of the `auth.jwt_secret` setting (no kid), when it is set, as the store's rules see
/// it. Decoded once per value of the settings it depends on (compared without a copy at every
/// call: verification is on the per-request path).
struct SettingsKey {
    alg: Algorithm,
    key: Vec<u8>,
    entry: Loaded,
}

type SettingsKeyMemo = (
    Vec<u8>,
    bool,
    Vec<u8>,
    Result<Option<Rc<SettingsKey>>, AuthError>,
);

thread_local! {
    static SETTINGS_KEY: RefCell<Option<SettingsKeyMemo>> = const { RefCell::new(None) };
}

fn settings_key() -> Result<Option<Rc<SettingsKey>>, AuthError> {
    let secret = gucs::jwt_secret_bytes();
    let is_base64 = gucs::jwt_secret_is_base64();
    let alg = gucs::jwt_algorithm_bytes();
    if let Some(answer) = SETTINGS_KEY.with_borrow(|memo| match memo {
        Some((s, b, a, answer)) if s == secret && *b == is_base64 && a == alg => {
            Some(answer.clone())
        }
        _ => None,
    }) {
        return answer;
    }
    let answer = decode_settings_key();
    SETTINGS_KEY.set(Some((
        secret.to_vec(),
        is_base64,
        alg.to_vec(),
        answer.clone(),
    )));
    answer
}

fn decode_settings_key() -> Result<Option<Rc<SettingsKey>>, AuthError> {
    let Some((value, setting, is_base64)) = gucs::jwt_secret() else {
        return Ok(None);
    };
    let alg = Algorithm::parse(&gucs::jwt_algorithm())?;
    let key = secret::server_key(&value, is_base64, alg, setting)?;
    let entry = Loaded {
        verifying: Ok(Rc::new(VerifyingKey::Hmac {
            alg,
            key: key.clone().into(),
        })),
        alg: alg.into(),
        sealed: None,
        public_jwk: None,
    };
    Ok(Some(Rc::new(SettingsKey { alg, key, entry })))
}

fn no_key() -> AuthError {
    AuthError::Config(
        "no JWT key is configured: set auth.jwt_secret or create and activate a signing key (auth.create_signing_key)".into(),
    )
}

/// Decodes `token` and verifies its signature with the key its header names (RFC 8725 §3.1: the
/// header's `alg` must be that key's algorithm). No key at all is an error (22023), checked
/// before the token is read; a token that does not verify is a rejection.
pub fn verify(token: &str) -> Result<Result<jwt::Decoded, Rejection>, AuthError> {
    let store = store()?;
    let settings = settings_key()?;
    if store.entries.is_empty() && settings.is_none() {
        return Err(no_key());
    }
    let decoded = match jwt::decode(token) {
        Ok(decoded) => decoded,
        Err(r) => return Ok(Err(r)),
    };
    let kid = match decoded.kid() {
        Ok(kid) => kid,
        Err(r) => return Ok(Err(r)),
    };
    let chosen = match keystore::select(kid, &store.entries, settings.as_deref().map(|s| &s.entry))
    {
        Ok(chosen) => chosen,
        Err(r) => return Ok(Err(r)),
    };
    let key = chosen.verifying.clone()?;
    Ok(decoded.verify_with(token, &key).map(|()| decoded))
}

/// Signs `claims` with the active key (its kid in the header) or, without one, the settings key.
pub fn sign(claims: &Map<String, Value>) -> Result<String, AuthError> {
    let store = store()?;
    if let Some(active) = store.entries.iter().find(|e| e.state == KeyState::Active) {
        let signer = store.signer.borrow().clone();
        let signer = match signer {
            Some(s) => s,
            None => {
                let sealed = active.key.sealed.as_deref().ok_or_else(|| {
                    AuthError::Config(format!(
                        "the active signing key \"{}\" has no private key",
                        active.kid
                    ))
                })?;
                let s = Rc::new(open(&active.kid, active.key.alg, sealed)?);
                store.signer.replace(Some(Rc::clone(&s)));
                s
            }
        };
        return Ok(jwt::encode_claims_with(claims, &signer, Some(&active.kid)));
    }
    let settings = settings_key()?.ok_or_else(|| {
        if store.entries.is_empty() {
            no_key()
        } else {
            AuthError::Config(
                "no signing key is active: activate one with auth.activate_signing_key(kid)".into(),
            )
        }
    })?;
    Ok(jwt::encode_claims(claims, settings.alg, &settings.key))
}

// ---- SQL functions of sql/signing_keys.sql ----------------------------------------------------

/// `auth_private._valid_kid(kid)`: the kid rule, for the table's CHECK and the functions.
#[pg_extern(immutable, strict, parallel_safe, schema = "auth_private")]
fn _valid_kid(kid: &str) -> bool {
    keys::check_kid(kid).is_ok()
}

/// `auth_private._valid_signing_alg(alg)`: an algorithm the store knows.
#[pg_extern(immutable, strict, parallel_safe, schema = "auth_private")]
fn _valid_signing_alg(alg: &str) -> bool {
    JwsAlg::from_name(alg).is_some()
}

/// A new key for `auth.create_signing_key`: its kid (the RFC 7638 thumbprint of the public key; a
/// random one for HMAC keys, whose thumbprint would be a digest of the secret), its public JWK
/// (NULL for HMAC) and its private part sealed under `auth.key_encryption_key`.
#[pg_extern(volatile, strict, parallel_unsafe, schema = "auth_private")]
#[allow(clippy::type_complexity)]
fn _generate_signing_key(
    alg: &str,
) -> TableIterator<
    'static,
    (
        name!(kid, String),
        name!(public_jwk, Option<JsonB>),
        name!(sealed_key, Vec<u8>),
    ),
> {
    let alg = JwsAlg::parse(alg).or_raise();
    let kek = key_encryption_key().or_raise();
    let key = keys::generate(alg).or_raise();
    let verifying = key.verifying_key();
    let kid = if alg.hmac().is_some() {
        auth_core::token::new_key_id().or_raise()
    } else {
        verifying.thumbprint()
    };
    let jwk = verifying.public_jwk(&kid).map(|m| JsonB(Value::Object(m)));
    let sealed =
        keys::try_seal(kek.as_bytes(), &aad(&kid, alg), &key.to_private_bytes()).or_raise();
    TableIterator::once((kid, jwk, sealed))
}

/// A public key for `auth.import_verification_key`: its kid (the argument, else the JWK's own,
/// else its thumbprint), algorithm and public JWK.
#[pg_extern(immutable, parallel_safe, schema = "auth_private")]
#[allow(clippy::type_complexity)]
fn _parse_verification_key(
    key: &str,
    requested_kid: Option<&str>,
) -> TableIterator<
    'static,
    (
        name!(kid, String),
        name!(alg, String),
        name!(public_jwk, JsonB),
    ),
> {
    let (parsed, own_kid) = keys::parse_public_key(key).or_raise();
    let kid = requested_kid
        .map(str::to_owned)
        .or(own_kid)
        .unwrap_or_else(|| parsed.thumbprint());
    keys::check_kid(&kid).or_raise();
    let jwk = parsed.public_jwk(&kid).unwrap_or_else(|| {
        crate::error::raise(AuthError::InvalidParameter(
            "an HMAC secret is not a public key".into(),
        ))
    });
    TableIterator::once((
        kid,
        parsed.alg().name().to_owned(),
        JsonB(Value::Object(jwk)),
    ))
}

/// Raises 22023 unless the stored key opens with the current `auth.key_encryption_key` (checked
/// before a key becomes active, so that signing cannot start failing after the switch).
#[pg_extern(stable, strict, parallel_safe, schema = "auth_private")]
fn _check_signing_key(kid: &str, alg: &str, sealed_key: &[u8]) {
    let alg = JwsAlg::parse(alg).or_raise();
    open(kid, alg, sealed_key).or_raise();
}

/// `auth.postgrest_jwt_secret()`: the JWK Set PostgREST's `jwt-secret` must hold to accept every
/// token `auth` would accept: the public JWKs of the stored keys that verify, their HMAC keys as
/// `oct` JWKs with `alg` and `kid`, and the `auth.jwt_secret` key as an `oct` JWK with its `alg`
/// (no kid). The JWK form pins each key's algorithm, which PostgREST 13 and later require for
/// HS384 and HS512. Holds secrets when HMAC keys are in use: superuser only, whoever was granted
/// EXECUTE.
#[pg_extern(stable, parallel_safe)]
fn postgrest_jwt_secret() -> String {
    // SAFETY: reads the current user's superuser flag.
    if !unsafe { pg_sys::superuser() } {
        pgrx::pg_sys::panic::ErrorReport::new(
            PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
            "permission denied for function postgrest_jwt_secret: it returns the HMAC secrets, for a superuser only",
            "",
        )
        .report(PgLogLevel::ERROR);
    }
    let store = store().or_raise();
    let mut set: Vec<Value> = Vec::new();
    // The active key first, then the others in the table's order.
    let mut entries: Vec<&Entry<Loaded>> = store
        .entries
        .iter()
        .filter(|e| e.state.verifies())
        .collect();
    entries.sort_by_key(|e| e.state != KeyState::Active);
    for e in entries {
        match (&e.key.public_jwk, e.key.verifying.as_deref()) {
            (Some(jwk), _) => set.push(Value::Object(jwk.clone())),
            (None, Ok(VerifyingKey::Hmac { alg, key })) => {
                set.push(Value::Object(keys::oct_jwk(*alg, key, Some(&e.kid))))
            }
            (None, Err(err)) => crate::error::raise(err.clone()),
            (None, Ok(_)) => {}
        }
    }
    if let Some(settings) = settings_key().or_raise() {
        set.push(Value::Object(keys::oct_jwk(
            settings.alg,
            &settings.key,
            None,
        )));
    }
    if set.is_empty() {
        crate::error::raise(no_key());
    }
    let mut jwks = Map::new();
    jwks.insert("keys".into(), Value::Array(set));
    Value::Object(jwks).to_string()
}

/// The key store's generation in this backend: it changes whenever the table of stored keys
/// changes (or every relation's cache is reset). Caches of what the keys verified are valid for
/// one generation.
pub fn generation() -> u64 {
    GENERATION.get()
}
