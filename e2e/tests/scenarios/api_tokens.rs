//! API tokens through PostgREST with `db-pre-request = auth.check_request`: an API token grants
//! access (RLS on its `sub` organisation), GET stays READ ONLY and works, revocation (and
//! deletion, and expiry of the row) takes effect on the very next request, and API credentials
//! are accepted only with the proxy secret ("only through our proxy").

use std::thread;
use std::time::Duration;

use e2e::http::Reply;
use e2e::jwt_claims;
use e2e::stack::Stack;
use postgres::Client;
use serde_json::json;

use super::common::*;

const REFUSED: &str = "API token revoked, expired or unknown";

fn create_token(
    db: &mut Client,
    name: &str,
    sub: &str,
    expires_in: Option<f64>,
) -> (String, String) {
    let token = text(
        db,
        "SELECT auth.create_api_token($1, 'tokenauthed',
                CASE WHEN $2::float8 IS NULL THEN NULL
                     ELSE clock_timestamp() + make_interval(secs => $2::float8) END,
                jsonb_build_object('sub', $3::text))",
        &[&name, &expires_in, &sub],
    );
    let tid = jwt_claims(&token)["tid"]
        .as_str()
        .expect("tid claim")
        .to_string();
    (token, tid)
}

fn get(s: &Stack, path: &str, token: &str, proxy_secret: Option<&str>) -> Reply {
    let auth = bearer(token);
    let mut h = vec![("Authorization", auth.as_str())];
    if let Some(p) = proxy_secret {
        h.push(("X-Proxy-Secret", p));
    }
    s.http.get(&pgrst(s, path), &h)
}

fn last_used_is_null(db: &mut Client, tid: &str) -> bool {
    db.query_one(
        "SELECT last_used_at IS NULL FROM auth.api_tokens WHERE id = $1::text::uuid",
        &[&tid],
    )
    .unwrap()
    .get(0)
}

pub fn api_tokens_over_postgrest(s: &mut Stack) {
    let mut db = s.db();
    let secret = s.proxy_secret.clone();
    let (token, tid) = create_token(&mut db, "org-a integration", "org-a", None);
    let claims = jwt_claims(&token);
    assert_eq!(claims["role"], "tokenauthed", "{claims}");
    assert_eq!(claims["sub"], "org-a", "{claims}");
    assert!(
        claims.get("exp").is_none(),
        "a non-expiring token has no exp: {claims}"
    );

    // GET: READ ONLY, passes the hook, RLS shows org-a's contacts only, writes nothing.
    let r = get(
        s,
        "/contact?select=organisation,full_name&order=id",
        &token,
        Some(&secret),
    );
    r.expect(200);
    assert_eq!(
        r.json(),
        json!([
            {"organisation": "org-a", "full_name": "Ada Lovelace"},
            {"organisation": "org-a", "full_name": "Alan Turing"}
        ]),
        "{r}"
    );
    let r = get(s, "/rpc/whoami", &token, Some(&secret));
    r.expect(200);
    let who = r.json();
    assert_eq!(who["read_only"], "on", "GET runs READ ONLY: {r}");
    assert_eq!(who["current_user"], "tokenauthed", "{r}");
    assert_eq!(who["claims"]["tid"], tid.as_str(), "{r}");
    assert!(
        last_used_is_null(&mut db, &tid),
        "the hook never writes in a READ ONLY transaction"
    );

    // POST: read-write, and the hook records the use.
    let auth = bearer(&token);
    let r = s.http.post_json(
        &pgrst(s, "/contact"),
        &[
            ("Authorization", &auth),
            ("X-Proxy-Secret", &secret),
            ("Prefer", "return=representation"),
        ],
        r#"{"full_name": "Katherine Johnson"}"#,
    );
    r.expect(201);
    assert_eq!(
        r.json()[0]["organisation"],
        "org-a",
        "RLS default from sub: {r}"
    );
    assert!(
        !last_used_is_null(&mut db, &tid),
        "last_used_at recorded by a read-write request"
    );

    // Without the proxy secret, or with a wrong one: 401.
    for p in [None, Some("not-the-proxy-secret")] {
        get(s, "/contact", &token, p).expect_error(
            401,
            "PT401",
            "API credentials are accepted only through the API gateway",
        );
    }

    // Revocation takes effect on the very next request, GET and POST alike.
    let revoked: bool = db
        .query_one("SELECT auth.revoke_api_token($1::text::uuid)", &[&tid])
        .unwrap()
        .get(0);
    assert!(revoked, "revoke_api_token answers true for a live token");
    let r = get(s, "/contact", &token, Some(&secret));
    r.expect_error(401, "PT401", REFUSED);
    assert_eq!(r.header("www-authenticate"), Some("Bearer"), "{r}");
    s.http
        .post_json(
            &pgrst(s, "/contact"),
            &[("Authorization", &auth), ("X-Proxy-Secret", &secret)],
            r#"{"full_name": "must not be written"}"#,
        )
        .expect_error(401, "PT401", REFUSED);
    assert_eq!(
        int(
            &mut db,
            "SELECT count(*) FROM api.contact WHERE full_name = 'must not be written'",
            &[]
        ),
        0
    );
    let again: bool = db
        .query_one("SELECT auth.revoke_api_token($1::text::uuid)", &[&tid])
        .unwrap()
        .get(0);
    assert!(!again, "revoking twice answers false");

    // Deleting the row revokes too (how hand-written token tables usually revoke).
    let (token2, tid2) = create_token(&mut db, "org-b integration", "org-b", None);
    let r = get(s, "/contact?select=full_name", &token2, Some(&secret));
    r.expect(200);
    assert_eq!(r.json(), json!([{"full_name": "Grace Hopper"}]), "{r}");
    db.execute(
        "DELETE FROM auth.api_tokens WHERE id = $1::text::uuid",
        &[&tid2],
    )
    .unwrap();
    get(s, "/contact", &token2, Some(&secret)).expect_error(401, "PT401", REFUSED);

    // Expiry of the row: refused as soon as expires_at passes, although PostgREST alone would
    // still accept the JWT for its 30 s of clock skew.
    let (token3, _) = create_token(&mut db, "short-lived", "org-a", Some(1.5));
    let exp = jwt_claims(&token3)["exp"]
        .as_i64()
        .expect("exp of an expiring token");
    get(s, "/contact", &token3, Some(&secret)).expect(200);
    while db_now(&mut db) <= exp {
        thread::sleep(Duration::from_millis(100));
    }
    thread::sleep(Duration::from_millis(100));
    get(s, "/contact", &token3, Some(&secret)).expect_error(401, "PT401", REFUSED);
}
