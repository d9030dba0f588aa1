//! Imported API keys and the API tokens users make for themselves, over HTTP.
//!
//! `imported_api_keys_via_psql`: psql runs the import of docs/api-credentials.md as it is there
//! (`\copy` of a CSV-driven nginx auth_request gateway's key list into a temporary table, one
//! statement importing every live row); an imported key then passes nginx's gateway, and
//! exchanged straight at PostgREST gives a JWT that reads the paid table; the disabled row's key
//! and the expired row's key (never imported) are refused.
//!
//! `my_api_token_over_http`: login, create_my_api_token with the access token, the API token reads
//! the user's own rows (and no more without the proxy secret), my_api_tokens lists it, the API
//! token itself cannot mint another, revoke_my_api_token, then the API token is 401.

use std::fs;

use e2e::jwt_claims;
use e2e::stack::{chown_postgres, workspace_root, Stack};
use serde_json::json;

use super::common::*;

const PAID: &str = "3f9a1c0e5b7d2a4c6e8f0a1b3c5d7e9f1a2b3c4d5e6f7a8b";
const DISABLED: &str = "0123456789abcdef0123456789abcdef0123456789abcdef";
const EXPIRED: &str = "fedcba9876543210fedcba9876543210fedcba9876543210";

pub fn imported_api_keys_via_psql(s: &mut Stack) {
    let dir = s.dir.join("import");
    fs::create_dir_all(&dir).unwrap();
    let csv = dir.join("auth-jwt-keys.csv");
    fs::copy(workspace_root().join("e2e/sql/legacy_keys.csv"), &csv).unwrap();
    let script = fs::read_to_string(workspace_root().join("e2e/sql/import_legacy_keys.sql"))
        .unwrap()
        .replace("'auth-jwt-keys.csv'", &format!("'{}'", csv.display()));
    let script_path = dir.join("import.sql");
    fs::write(&script_path, script).unwrap();
    chown_postgres(&dir);
    chown_postgres(&csv);
    chown_postgres(&script_path);
    let out = s.pg_tool(
        "psql",
        &[
            "-X",
            "-q",
            "-A",
            "-t",
            "-d",
            "postgres",
            "-f",
            script_path.to_str().unwrap(),
        ],
    );
    assert_eq!(
        out.stdout.trim(),
        "3",
        "three live rows imported: {}",
        out.stderr
    );

    let mut db = s.db();
    assert_eq!(
        int(
            &mut db,
            "SELECT count(*) FROM auth.api_keys WHERE name = 'imported' AND length(display_prefix) = 4",
            &[],
        ),
        3
    );
    // Through the gateway, as before the move: the paid key reads the paid table.
    let pro = |key: &str| {
        s.http.get(
            &nginx(s, "/telemetry/pro/telemetry_detailed"),
            &[("X-API-Key", key)],
        )
    };
    pro(PAID).expect(200);
    for refused in [DISABLED, EXPIRED] {
        pro(refused).expect_error(401, "PT401", "A valid X-API-Key header is required");
    }

    // Exchanged straight at PostgREST (what the gateway does), and the JWT used.
    let exchanged = s.http.post_json(
        &pgrst(s, "/rpc/exchange_api_key"),
        &[
            ("Content-Profile", "auth"),
            ("X-API-Key", PAID),
            ("X-Proxy-Secret", &s.proxy_secret),
        ],
        "{}",
    );
    exchanged.expect(200);
    let jwt = exchanged.json()["access_token"]
        .as_str()
        .expect("access_token")
        .to_string();
    let c = jwt_claims(&jwt);
    assert_eq!(
        (c["role"].as_str(), c["plan"].as_str()),
        (Some("web_paid"), Some("pro"))
    );
    let a = bearer(&jwt);
    s.http
        .get(
            &pgrst(s, "/telemetry_detailed"),
            &[("Authorization", &a), ("X-Proxy-Secret", &s.proxy_secret)],
        )
        .expect(200);
    s.http
        .post_json(
            &pgrst(s, "/rpc/exchange_api_key"),
            &[
                ("Content-Profile", "auth"),
                ("X-API-Key", DISABLED),
                ("X-Proxy-Secret", &s.proxy_secret),
            ],
            "{}",
        )
        .expect_error(401, "PT401", "Invalid API key");
    db.execute("DELETE FROM auth.api_keys WHERE name = 'imported'", &[])
        .unwrap();
}

const USER: &str = "selfserve";
const PASSWORD: &str = "self-service password";

pub fn my_api_token_over_http(s: &mut Stack) {
    let mut db = s.db();
    db.execute(
        "INSERT INTO auth.users (username, password, role) VALUES ($1, $2, 'member')",
        &[&USER, &PASSWORD],
    )
    .unwrap();
    db.execute(
        "INSERT INTO api.task (owner, title) VALUES ($1, 'a task of the script')",
        &[&USER],
    )
    .unwrap();
    let rpc = |name: &str, auth: &str, body: serde_json::Value, proxy: bool| {
        let a = bearer(auth);
        let mut h = vec![("Content-Profile", "auth"), ("Authorization", a.as_str())];
        if proxy {
            h.push(("X-Proxy-Secret", &s.proxy_secret));
        }
        s.http
            .post_json(&pgrst(s, &format!("/rpc/{name}")), &h, &body.to_string())
    };

    let login = s.http.post_json(
        &pgrst(s, "/rpc/login"),
        &[("Content-Profile", "auth")],
        &json!({"username": USER, "password": PASSWORD}).to_string(),
    );
    login.expect(200);
    let access = login
        .set_cookie("access_token")
        .expect("access_token cookie")
        .value;

    let expires = text(&mut db, "SELECT (now() + interval '1 day')::text", &[]);
    let made = rpc(
        "create_my_api_token",
        &access,
        json!({"name": "cli", "expires_at": expires, "scopes": ["tasks:read"]}),
        false,
    );
    made.expect(200);
    let token = made.json().as_str().expect("the token").to_string();
    let c = jwt_claims(&token);
    assert_eq!(c["sub"], USER);
    assert_eq!(c["role"], "member");
    assert_eq!(c["scope"], "tasks:read");
    let tid = c["tid"].as_str().expect("tid").to_string();

    // The token reads the user's own rows, through the gateway's proxy secret only.
    let tasks = |proxy: bool| {
        let a = bearer(&token);
        let mut h = vec![("Authorization", a.as_str())];
        if proxy {
            h.push(("X-Proxy-Secret", &s.proxy_secret));
        }
        s.http.get(&pgrst(s, "/task?select=owner,title"), &h)
    };
    let r = tasks(true);
    r.expect(200);
    assert_eq!(
        r.json(),
        json!([{"owner": USER, "title": "a task of the script"}]),
        "{r}"
    );
    tasks(false).expect_error(
        401,
        "PT401",
        "API credentials are accepted only through the API gateway",
    );

    // Listed for the user (GET, no secret in it).
    let a = bearer(&access);
    let list = s.http.get(
        &pgrst(s, "/rpc/my_api_tokens"),
        &[("Accept-Profile", "auth"), ("Authorization", &a)],
    );
    list.expect(200);
    let rows = list.json();
    assert_eq!(rows.as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!(rows[0]["id"], tid.as_str());
    assert_eq!(rows[0]["scopes"], json!(["tasks:read"]));
    assert!(!list.body.contains(&token[20..]), "{list}");

    // The API token proves a credential, not a user: it mints nothing.
    rpc(
        "create_my_api_token",
        &token,
        json!({"name": "wider", "expires_at": expires}),
        true,
    )
    .expect_error(401, "PT401", "Not logged in");

    // Revoked: the very next request with it is 401.
    let r = rpc("revoke_my_api_token", &access, json!({"id": tid}), false);
    r.expect(200);
    assert_eq!(r.json(), json!(true), "{r}");
    tasks(true).expect_error(401, "PT401", "API token revoked, expired or unknown");

    db.execute("DELETE FROM auth.users WHERE username = $1", &[&USER])
        .unwrap();
    db.execute("DELETE FROM api.task WHERE owner = $1", &[&USER])
        .unwrap();
}
