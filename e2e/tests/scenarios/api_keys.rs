//! API keys through nginx (e2e/conf/nginx.conf): `auth_request` exchanges the X-API-Key header
//! for a short-lived JWT at /rpc/exchange_api_key and forwards it as the bearer token. Public
//! route without a key 200, protected route without a key 401, a valid key 200, disabled,
//! expired, revoked and unknown keys 401, and the key's role and plan reach the database.

use std::thread;
use std::time::Duration;

use e2e::http::Reply;
use e2e::jwt_claims;
use e2e::stack::Stack;
use postgres::Client;
use serde_json::json;

use super::common::*;

/// The gateway's own answer when the exchange is refused (nginx.conf, @api_key_refused).
fn assert_gateway_refused(r: &Reply) {
    r.expect_error(401, "PT401", "A valid X-API-Key header is required");
    assert_eq!(r.headers_named("www-authenticate"), ["Bearer"], "{r}");
}

fn key_id(db: &mut Client, key: &str) -> String {
    text(
        db,
        "SELECT id::text FROM auth.api_keys WHERE key_hash = sha256(convert_to($1, 'UTF8'))",
        &[&key],
    )
}

fn pro(s: &Stack, path: &str, key: Option<&str>) -> Reply {
    let mut h = Vec::new();
    if let Some(k) = key {
        h.push(("X-API-Key", k));
    }
    s.http.get(&nginx(s, &format!("/telemetry/pro{path}")), &h)
}

pub fn api_keys_via_nginx(s: &mut Stack) {
    let mut db = s.db();
    let paid = text(
        &mut db,
        "SELECT auth.create_api_key('web_paid', 'pro', NULL, 'paid customer')",
        &[],
    );
    let trial = text(
        &mut db,
        "SELECT auth.create_api_key('web_trial', 'free_trial')",
        &[],
    );
    assert!(paid.starts_with("pgauth_"), "recognisable prefix");
    let paid_id = key_id(&mut db, &paid);

    // Public route, no key: PostgREST as anon.
    let r = s.http.get(
        &nginx(s, "/telemetry/public/telemetry_latest?limit=1&order=sensor"),
        &[],
    );
    r.expect(200);
    assert_eq!(r.json(), json!([{"sensor": "t1", "value": 21.5}]), "{r}");

    // Protected route without a key, with garbage, with a well-formed unknown key: 401.
    let unknown = format!("pgauth_{}", "A".repeat(43));
    for key in [None, Some("garbage"), Some(unknown.as_str())] {
        assert_gateway_refused(&pro(s, "/telemetry_latest", key));
    }
    // A client's own bearer token is no way around the key.
    let member = sign(&mut db, &json!({"role": "member", "sub": "alice"}));
    let auth = bearer(&member);
    let r = s.http.get(
        &nginx(s, "/telemetry/pro/telemetry_latest"),
        &[("Authorization", &auth)],
    );
    assert_gateway_refused(&r);

    // A valid key: 200, and its role and plan reach the database.
    let r = pro(s, "/telemetry_latest?order=sensor", Some(&paid));
    r.expect(200);
    assert_eq!(r.json().as_array().map(Vec::len), Some(2), "{r}");
    assert_eq!(r.header("x-api-plan"), Some("pro"), "{r}");
    let r = pro(s, "/rpc/whoami", Some(&paid));
    r.expect(200);
    let who = r.json();
    assert_eq!(who["current_user"], "web_paid", "{r}");
    assert_eq!(who["plan"], "pro", "{r}");
    assert_eq!(who["claims"]["key_id"], paid_id.as_str(), "{r}");
    assert_eq!(who["read_only"], "on", "{r}");
    let headers = who["header_names"].as_array().unwrap();
    assert!(
        !headers.contains(&json!("x-api-key")),
        "the gateway does not forward the key itself: {r}"
    );
    assert!(headers.contains(&json!("x-proxy-secret")), "{r}");
    // The key's role decides what it reads: detailed telemetry is for web_paid only.
    pro(s, "/telemetry_detailed", Some(&paid)).expect(200);
    let r = pro(s, "/telemetry_detailed", Some(&trial));
    r.expect_error(
        403,
        "42501",
        "permission denied for table telemetry_detailed",
    );
    let r = pro(s, "/rpc/whoami", Some(&trial));
    r.expect(200);
    assert_eq!(r.json()["current_user"], "web_trial", "{r}");
    assert_eq!(r.json()["plan"], "free_trial", "{r}");
    // A forged Authorization next to a valid key is replaced by the key's token.
    let r = s.http.get(
        &nginx(s, "/telemetry/pro/rpc/whoami"),
        &[("X-API-Key", &paid), ("Authorization", &auth)],
    );
    r.expect(200);
    assert_eq!(r.json()["current_user"], "web_paid", "{r}");
    // The exchange (a read-write POST) records the use.
    assert_eq!(
        int(&mut db, "SELECT count(*) FROM auth.api_keys WHERE id = $1::text::uuid AND last_used_at IS NOT NULL", &[&paid_id]),
        1
    );

    // The exchange itself, straight to PostgREST with the proxy secret (what nginx does).
    let exchanged = s.http.post_json(
        &pgrst(s, "/rpc/exchange_api_key"),
        &[
            ("Content-Profile", "auth"),
            ("X-API-Key", &paid),
            ("X-Proxy-Secret", &s.proxy_secret),
        ],
        "{}",
    );
    exchanged.expect(200);
    assert_eq!(
        exchanged.header("cache-control"),
        Some("no-store"),
        "{exchanged}"
    );
    let body = exchanged.json();
    let jwt = body["access_token"]
        .as_str()
        .expect("access_token")
        .to_string();
    assert_eq!(
        exchanged.header("authorization"),
        Some(bearer(&jwt).as_str()),
        "{exchanged}"
    );
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 300, "auth.api_key_token_ttl default");
    let c = jwt_claims(&jwt);
    assert_eq!(c["role"], "web_paid");
    assert_eq!(c["plan"], "pro");
    assert_eq!(
        c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(),
        300,
        "{c}"
    );
    // Without the proxy secret the exchange is refused (only through the gateway).
    s.http
        .post_json(
            &pgrst(s, "/rpc/exchange_api_key"),
            &[("Content-Profile", "auth"), ("X-API-Key", &paid)],
            "{}",
        )
        .expect_error(
            401,
            "PT401",
            "API credentials are accepted only through the API gateway",
        );
    let direct = |s: &Stack| {
        let a = bearer(&jwt);
        s.http.get(
            &pgrst(s, "/telemetry_latest"),
            &[("Authorization", &a), ("X-Proxy-Secret", &s.proxy_secret)],
        )
    };
    direct(s).expect(200);

    // Disabled: the gateway refuses the key, and the JWT it was exchanged for stops at once.
    let changed: bool = db
        .query_one("SELECT auth.disable_api_key($1::text::uuid)", &[&paid_id])
        .unwrap()
        .get(0);
    assert!(changed);
    assert_gateway_refused(&pro(s, "/telemetry_latest", Some(&paid)));
    direct(s).expect_error(401, "PT401", "API key disabled, expired or unknown");
    // Enabled again: both work again.
    let changed: bool = db
        .query_one("SELECT auth.enable_api_key($1::text::uuid)", &[&paid_id])
        .unwrap()
        .get(0);
    assert!(changed);
    pro(s, "/telemetry_latest", Some(&paid)).expect(200);
    direct(s).expect(200);

    // Expired: a key valid for 1.5 s; its JWT never outlives it.
    let short = text(
        &mut db,
        "SELECT auth.create_api_key('web_trial', 'free_trial', clock_timestamp() + interval '1.5 s')",
        &[],
    );
    let key_exp: i64 = db
        .query_one(
            "SELECT floor(extract(epoch FROM expires_at))::bigint FROM auth.api_keys
             WHERE key_hash = sha256(convert_to($1, 'UTF8'))",
            &[&short],
        )
        .unwrap()
        .get(0);
    let r = pro(s, "/rpc/whoami", Some(&short));
    r.expect(200);
    assert_eq!(
        r.json()["claims"]["exp"].as_i64(),
        Some(key_exp),
        "the exchanged JWT expires with the key: {r}"
    );
    while db_now(&mut db) <= key_exp {
        thread::sleep(Duration::from_millis(100));
    }
    thread::sleep(Duration::from_millis(100));
    assert_gateway_refused(&pro(s, "/telemetry_latest", Some(&short)));

    // Revoked (deleted) for good.
    let revoked: bool = db
        .query_one("SELECT auth.revoke_api_key($1::text::uuid)", &[&paid_id])
        .unwrap()
        .get(0);
    assert!(revoked);
    assert_gateway_refused(&pro(s, "/telemetry_latest", Some(&paid)));
    direct(s).expect_error(401, "PT401", "API key disabled, expired or unknown");
    // The public route is unaffected throughout.
    s.http
        .get(&nginx(s, "/telemetry/public/telemetry_latest"), &[])
        .expect(200);
}
