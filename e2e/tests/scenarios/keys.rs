//! The key store under a live PostgREST 12.0.2 that takes its JWT keys from the database at every
//! configuration load (e2e/conf/postgrest-keys.conf: `db-pre-config = "auth.postgrest_pre_config"`,
//! no `jwt-secret`): the rotation runbook of docs/keys.md played over HTTP, with PostgREST reloading
//! on the notification each key change sends, never restarted.
//!
//! - the `auth.jwt_secret` key alone (no stored key): its HS256 tokens, from `jwt_sign` and from
//!   login over HTTP, work;
//! - a new ES256 key is published (PostgREST reloads), activated: new tokens carry its kid and
//!   PostgREST verifies them at once, the HS256 tokens still work;
//! - an EdDSA key after it: ES256 becomes `previous`, tokens of both work;
//! - the ES256 key retired: its tokens get 401, EdDSA's still work;
//! - `GET /rpc/jwks` as anon serves the public set only;
//! - stored HS384 and HS512 keys, handed to PostgREST as `oct` JWKs with their `alg`, verify;
//! - refused: a token naming a kid no key has, signed with a key of no set, and an HS256 token
//!   naming the ES256 key's kid with that key's public JWK as the HMAC secret. PostgREST 12.0.2
//!   does not pick the key by kid: it accepts a token any key of its set verifies, whatever kid it
//!   names (an unknown one, another key's; auth.jwt_verify refuses both), which the scenario
//!   records;
//! - without `db-config` PostgREST runs no `db-pre-config` and has no key (500 `PGRST300`).
//!
//! The scenario leaves the shared database as it found it, also when it fails: the stored keys
//! are deleted (signing falls back to `auth.jwt_secret` for the scenarios after it) and the grant
//! it added is revoked.

use std::thread;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use e2e::db::PgAddr;
use e2e::http::Reply;
use e2e::jwt_claims;
use e2e::stack::{ExtraPostgrest, Stack, POSTGREST_KEYS_CONF};
use hmac::{Hmac, Mac};
use postgres::Client;
use serde_json::{json, Value};
use sha2::Sha256;

use super::common::*;

const USER: &str = "key-rotation";
const PASSWORD: &str = "rotate the keys, keep the users";

/// How long PostgREST may take to reload its configuration after a key change.
const RELOAD_BOUND: Duration = Duration::from_secs(10);

/// Puts back what the scenario changed in the shared database, when dropped (also on panic).
struct Restore(PgAddr);

impl Drop for Restore {
    fn drop(&mut self) {
        let result = self.0.try_connect("postgres").and_then(|mut db| {
            db.batch_execute(
                "DELETE FROM auth_private.signing_keys; \
                 REVOKE EXECUTE ON FUNCTION auth.postgrest_pre_config() FROM authenticator;",
            )
        });
        if let Err(e) = result {
            eprintln!("[e2e] key_rotation_over_postgrest: could not remove its signing keys: {e}");
        }
    }
}

/// A token's header, decoded (the server made it; the test reads it).
fn jwt_header(token: &str) -> Value {
    let head = token.split('.').next().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(head).expect("base64url header"))
        .expect("JSON header")
}

/// An HS256 JWS with exactly this header and these claims, signed with `secret`.
fn hs256(header: &Value, claims: &Value, secret: &[u8]) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
    mac.update(input.as_bytes());
    format!(
        "{input}.{}",
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    )
}

fn member_token(db: &mut Client) -> String {
    sign(db, &json!({"role": "member", "sub": USER}))
}

fn whoami(s: &Stack, p: &ExtraPostgrest, token: &str) -> Reply {
    s.http.get(
        &format!("{}/rpc/whoami", p.url),
        &[("Authorization", &bearer(token))],
    )
}

/// Asserts that PostgREST accepts `token`: the request runs as `member`, for the token's subject.
#[track_caller]
fn accepted(s: &Stack, p: &ExtraPostgrest, token: &str, what: &str) {
    let r = whoami(s, p, token);
    assert_eq!(r.status, 200, "{what}: {r}");
    let j = r.json();
    assert_eq!(j["current_user"], "member", "{what}: {r}");
    assert_eq!(j["uid"], jwt_claims(token)["sub"], "{what}: {r}");
}

#[track_caller]
fn refused(s: &Stack, p: &ExtraPostgrest, token: &str, what: &str) {
    let r = whoami(s, p, token);
    assert_eq!(r.status, 401, "{what}: {r}");
    assert_eq!(r.json()["code"], "PGRST301", "{what}: {r}");
}

/// How many configuration loads PostgREST has logged.
fn reloads(p: &ExtraPostgrest) -> usize {
    p.log_tail(1 << 24).matches("Config reloaded").count()
}

/// Runs `change` (one key change, committed) and waits until PostgREST has loaded its
/// configuration again (at most `RELOAD_BOUND`); returns what `change` returned.
#[track_caller]
fn changed_and_reloaded<T>(p: &ExtraPostgrest, what: &str, change: impl FnOnce() -> T) -> T {
    let before = reloads(p);
    let t0 = Instant::now();
    let out = change();
    while reloads(p) <= before {
        assert!(
            t0.elapsed() < RELOAD_BOUND,
            "PostgREST did not reload its configuration within {RELOAD_BOUND:?} of {what}; log:\n{}",
            p.log_tail(4000)
        );
        thread::sleep(Duration::from_millis(10));
    }
    eprintln!(
        "[e2e]   PostgREST reloaded {} ms after {what}",
        t0.elapsed().as_millis()
    );
    out
}

/// Waits (at most `RELOAD_BOUND`) until PostgREST answers `token` with `status`: the reload it
/// logged has taken effect.
#[track_caller]
fn until_status(s: &Stack, p: &ExtraPostgrest, token: &str, status: u16, what: &str) {
    let t0 = Instant::now();
    loop {
        let r = whoami(s, p, token);
        if r.status == status {
            return;
        }
        assert!(
            t0.elapsed() < RELOAD_BOUND,
            "{what}: still {} after {RELOAD_BOUND:?}, want {status}: {r}",
            r.status
        );
        thread::sleep(Duration::from_millis(10));
    }
}

/// Logs in over HTTP through PostgREST; returns the access token of the cookie.
#[track_caller]
fn login(s: &Stack, p: &ExtraPostgrest) -> String {
    let r = s.http.post_json(
        &format!("{}/rpc/login", p.url),
        &[("Content-Profile", "auth")],
        &json!({"username": USER, "password": PASSWORD}).to_string(),
    );
    r.expect(200);
    r.set_cookie("access_token")
        .filter(|c| !c.value.is_empty())
        .unwrap_or_else(|| panic!("no access_token cookie in {r}"))
        .value
}

/// `GET /rpc/jwks` as anon: the kids it lists, after checking that no key holds a secret.
#[track_caller]
fn published_kids(s: &Stack, p: &ExtraPostgrest) -> Vec<String> {
    let r = s.http.get(
        &format!("{}/rpc/jwks", p.url),
        &[("Accept-Profile", "auth")],
    );
    r.expect(200);
    let keys = r.json()["keys"]
        .as_array()
        .unwrap_or_else(|| panic!("no keys array in {r}"))
        .clone();
    for k in &keys {
        for secret in ["d", "k", "p", "q", "dp", "dq", "qi"] {
            assert!(k.get(secret).is_none(), "\"{secret}\" published: {r}");
        }
        assert!(
            matches!(k["kty"].as_str(), Some("EC" | "OKP" | "RSA")),
            "only public keys are published: {r}"
        );
    }
    keys.iter()
        .map(|k| k["kid"].as_str().expect("kid").to_string())
        .collect()
}

fn state(db: &mut Client, kid: &str) -> String {
    text(
        db,
        "SELECT state FROM auth.signing_keys WHERE kid = $1",
        &[&kid],
    )
}

pub fn key_rotation_over_postgrest(s: &mut Stack) {
    let mut db = s.db();
    let _restore = Restore(s.pg.clone());
    assert_eq!(
        int(
            &mut db,
            "SELECT count(*) FROM auth_private.signing_keys",
            &[]
        ),
        0,
        "the scenario starts with no stored key"
    );
    // The documented grant (docs/keys.md), and a user to log in over HTTP.
    db.batch_execute("GRANT EXECUTE ON FUNCTION auth.postgrest_pre_config() TO authenticator")
        .unwrap();
    db.execute(
        "INSERT INTO auth.users (username, password, role) VALUES ($1, $2, 'member') \
         ON CONFLICT (username) DO NOTHING",
        &[&USER, &PASSWORD],
    )
    .unwrap();
    let p = s.spawn_postgrest_with("postgrest-keys", POSTGREST_KEYS_CONF, &[]);

    // --- 1. The auth.jwt_secret key alone: HS256, no kid. ---
    let hs_signed = member_token(&mut db);
    assert_eq!(
        jwt_header(&hs_signed),
        json!({"alg": "HS256", "typ": "JWT"})
    );
    accepted(s, &p, &hs_signed, "jwt_sign with the auth.jwt_secret key");
    let hs_login = login(s, &p);
    assert_eq!(jwt_header(&hs_login)["alg"], "HS256");
    assert!(jwt_header(&hs_login).get("kid").is_none());
    accepted(s, &p, &hs_login, "login with the auth.jwt_secret key");
    assert_eq!(published_kids(s, &p), Vec::<String>::new());

    // A kid no key has. PostgREST 12.0.2 does not pick the key by kid: it accepts a token that
    // any key of its set verifies, whatever kid the header names (docs/keys.md), so a token
    // naming an unknown kid is refused unless a key of the set signed it, while auth.jwt_verify
    // refuses every kid it does not know.
    let now = db_now(&mut db);
    let claims = json!({"role": "member", "sub": USER, "exp": now + 600});
    let unknown_kid = json!({"alg": "HS256", "typ": "JWT", "kid": "no-such-key"});
    let foreign = hs256(
        &unknown_kid,
        &claims,
        b"a key that is in no set, also at least 32 bytes",
    );
    refused(
        s,
        &p,
        &foreign,
        "a kid no key has, signed with a key of no set",
    );
    let settings_signed = hs256(&unknown_kid, &claims, s.jwt_secret.as_bytes());
    accepted(
        s,
        &p,
        &settings_signed,
        "PostgREST 12.0.2: a kid no key has, signed with the auth.jwt_secret key",
    );
    for token in [&foreign, &settings_signed] {
        let err = db
            .query_one("SELECT auth.jwt_verify($1)", &[token])
            .expect_err("jwt_verify refuses a kid no key has");
        assert_eq!(err.code().map(|c| c.code()), Some("PT401"), "{err}");
        let message = err.as_db_error().map(|e| e.message()).unwrap_or_default();
        assert!(message.contains("unknown signing key"), "{err:?}");
    }

    // --- 2. ES256: published first, then activated. ---
    let es = changed_and_reloaded(&p, "create_signing_key('ES256')", || {
        text(&mut db, "SELECT auth.create_signing_key('ES256')", &[])
    });
    assert_eq!(state(&mut db, &es), "standby");
    assert_eq!(published_kids(s, &p), vec![es.clone()]);
    // Nothing signs with a standby key.
    assert_eq!(jwt_header(&member_token(&mut db))["alg"], "HS256");
    changed_and_reloaded(&p, "activate_signing_key(ES256)", || {
        db.execute("SELECT auth.activate_signing_key($1)", &[&es])
            .unwrap()
    });
    let es_signed = member_token(&mut db);
    assert_eq!(
        jwt_header(&es_signed),
        json!({"alg": "ES256", "typ": "JWT", "kid": es})
    );
    // PostgREST had the key since it was published: accepted at the first request.
    accepted(s, &p, &es_signed, "jwt_sign with the active ES256 key");
    let es_login = login(s, &p);
    assert_eq!(
        jwt_header(&es_login),
        json!({"alg": "ES256", "typ": "JWT", "kid": es})
    );
    accepted(s, &p, &es_login, "login with the active ES256 key");
    accepted(
        s,
        &p,
        &hs_signed,
        "the HS256 token after the switch to ES256",
    );
    accepted(
        s,
        &p,
        &hs_login,
        "the HS256 login after the switch to ES256",
    );

    // An HS256 token naming the ES256 key, "signed" with its public JWK: the kid's key is an EC
    // key, which verifies no HMAC.
    let es_jwk: Value = db
        .query_one(
            "SELECT k FROM jsonb_array_elements(auth.jwks()->'keys') AS k WHERE k->>'kid' = $1",
            &[&es],
        )
        .unwrap()
        .get(0);
    let confused = hs256(
        &json!({"alg": "HS256", "typ": "JWT", "kid": es}),
        &claims,
        es_jwk.to_string().as_bytes(),
    );
    refused(
        s,
        &p,
        &confused,
        "HS256 with the ES256 key's public JWK as secret",
    );
    let err = db
        .query_one("SELECT auth.jwt_verify($1)", &[&confused])
        .expect_err("jwt_verify refuses an HS256 token naming an ES256 key");
    assert_eq!(err.code().map(|c| c.code()), Some("PT401"), "{err}");

    // --- 3. EdDSA after ES256: both verify. ---
    let ed = changed_and_reloaded(&p, "create_signing_key('EdDSA')", || {
        text(&mut db, "SELECT auth.create_signing_key('EdDSA')", &[])
    });
    changed_and_reloaded(&p, "activate_signing_key(EdDSA)", || {
        db.execute("SELECT auth.activate_signing_key($1)", &[&ed])
            .unwrap()
    });
    assert_eq!(state(&mut db, &es), "previous");
    assert_eq!(state(&mut db, &ed), "active");
    let ed_signed = member_token(&mut db);
    assert_eq!(
        jwt_header(&ed_signed),
        json!({"alg": "EdDSA", "typ": "JWT", "kid": ed})
    );
    accepted(s, &p, &ed_signed, "jwt_sign with the active EdDSA key");
    let ed_login = login(s, &p);
    assert_eq!(jwt_header(&ed_login)["kid"], json!(ed));
    accepted(s, &p, &ed_login, "login with the active EdDSA key");
    accepted(s, &p, &es_signed, "the ES256 token while ES256 is previous");
    accepted(s, &p, &es_login, "the ES256 login while ES256 is previous");
    accepted(s, &p, &hs_signed, "the HS256 token while EdDSA signs");
    assert_eq!(published_kids(s, &p), vec![ed.clone(), es.clone()]);

    // Another key's kid: the EdDSA key's, on an HS256 token signed with the auth.jwt_secret key.
    // PostgREST 12.0.2 accepts it (the settings key verifies it); auth.jwt_verify picks the named
    // key and refuses the algorithm.
    let other_kid = hs256(
        &json!({"alg": "HS256", "typ": "JWT", "kid": ed}),
        &claims,
        s.jwt_secret.as_bytes(),
    );
    accepted(
        s,
        &p,
        &other_kid,
        "PostgREST 12.0.2: the EdDSA key's kid on a token of the auth.jwt_secret key",
    );
    let err = db
        .query_one("SELECT auth.jwt_verify($1)", &[&other_kid])
        .expect_err("jwt_verify refuses a token naming another key's kid");
    assert_eq!(err.code().map(|c| c.code()), Some("PT401"), "{err}");

    // --- 4. ES256 retired: its tokens get 401 at once, without a restart. ---
    changed_and_reloaded(&p, "retire_signing_key(ES256)", || {
        db.execute("SELECT auth.retire_signing_key($1)", &[&es])
            .unwrap()
    });
    until_status(
        s,
        &p,
        &es_signed,
        401,
        "the ES256 token after its key retired",
    );
    refused(s, &p, &es_signed, "the ES256 token after its key retired");
    refused(s, &p, &es_login, "the ES256 login after its key retired");
    accepted(s, &p, &ed_signed, "the EdDSA token after ES256 retired");
    accepted(s, &p, &ed_login, "the EdDSA login after ES256 retired");
    accepted(s, &p, &hs_signed, "the HS256 token after ES256 retired");

    // --- 5. The public set: the EdDSA key alone, no private part. ---
    assert_eq!(published_kids(s, &p), vec![ed.clone()]);

    // --- 6. Stored HMAC keys: oct JWKs with their alg in the set PostgREST loads. ---
    let mut hmac_tokens = Vec::new();
    for alg in ["HS384", "HS512"] {
        let kid = changed_and_reloaded(&p, &format!("create_signing_key('{alg}')"), || {
            text(&mut db, "SELECT auth.create_signing_key($1)", &[&alg])
        });
        changed_and_reloaded(&p, &format!("activate_signing_key({alg})"), || {
            db.execute("SELECT auth.activate_signing_key($1)", &[&kid])
                .unwrap()
        });
        let token = member_token(&mut db);
        assert_eq!(
            jwt_header(&token),
            json!({"alg": alg, "typ": "JWT", "kid": kid})
        );
        accepted(
            s,
            &p,
            &token,
            &format!("jwt_sign with the active {alg} key"),
        );
        let logged_in = login(s, &p);
        assert_eq!(jwt_header(&logged_in)["kid"], json!(kid));
        accepted(
            s,
            &p,
            &logged_in,
            &format!("login with the active {alg} key"),
        );
        hmac_tokens.push((alg, token));
    }
    for (alg, token) in &hmac_tokens {
        accepted(s, &p, token, &format!("the {alg} token with HS512 active"));
    }
    accepted(s, &p, &ed_signed, "the EdDSA token with HS512 active");
    // HMAC keys are never published.
    assert_eq!(published_kids(s, &p), vec![ed.clone()]);

    // db-pre-config runs only with db-config (on in the file, the default): without it PostgREST
    // has no key at all.
    let no_db_config = s.spawn_postgrest_with(
        "postgrest-keys-no-db-config",
        POSTGREST_KEYS_CONF,
        &[("PGRST_DB_CONFIG", "false")],
    );
    whoami(s, &no_db_config, &ed_signed).expect_error(500, "PGRST300", "Server lacks JWT secret");
    drop(no_db_config);

    // Every change was taken without a restart: the same process served every request.
    assert_eq!(
        p.log_tail(1 << 24).matches("Starting PostgREST").count(),
        1,
        "PostgREST restarted"
    );
}
