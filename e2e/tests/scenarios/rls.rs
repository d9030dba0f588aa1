//! Row-level security through PostgREST: RLS policies reading `auth.claim('tenant')` and
//! `auth.uid()` isolate two tenants; the anonymous / authenticated / denied (401/403) matrix over
//! a private, a public and an ungranted table; a malformed Authorization header on a public route
//! gives 401 (the token is checked whenever it is present).

use e2e::http::Reply;
use e2e::stack::Stack;
use serde_json::{json, Value};

use super::common::*;

fn get(s: &Stack, path: &str, authorization: Option<&str>) -> Reply {
    let mut h = Vec::new();
    if let Some(a) = authorization {
        h.push(("Authorization", a));
    }
    s.http.get(&pgrst(s, path), &h)
}

fn titles(r: &Reply) -> Vec<String> {
    r.json()
        .as_array()
        .unwrap_or_else(|| panic!("array expected: {r}"))
        .iter()
        .map(|d| d["title"].as_str().unwrap().to_string())
        .collect()
}

pub fn rls_matrix(s: &mut Stack) {
    let mut db = s.db();
    let alice = bearer(&sign(
        &mut db,
        &json!({"role": "member", "sub": "alice", "tenant": "acme"}),
    ));
    let bob = bearer(&sign(
        &mut db,
        &json!({"role": "member", "sub": "bob", "tenant": "globex"}),
    ));
    let auditor = bearer(&sign(&mut db, &json!({"role": "auditor", "sub": "carol"})));

    // Tenant isolation: each sees only their tenant's rows, also when asking for the other's.
    let r = get(s, "/documents?order=id", Some(&alice));
    r.expect(200);
    assert_eq!(titles(&r), ["acme roadmap", "acme payroll"], "{r}");
    let r = get(s, "/documents?order=id", Some(&bob));
    r.expect(200);
    assert_eq!(titles(&r), ["globex secrets"], "{r}");
    let r = get(s, "/documents?tenant=eq.globex", Some(&alice));
    r.expect(200);
    assert_eq!(r.json(), json!([]), "{r}");
    // Writes: into one's own tenant 201 (defaults from the claims); into the other's 403.
    let r = s.http.post_json(
        &pgrst(s, "/documents"),
        &[
            ("Authorization", &alice),
            ("Prefer", "return=representation"),
        ],
        r#"{"title": "acme minutes"}"#,
    );
    r.expect(201);
    assert_eq!(r.json()[0]["tenant"], "acme", "{r}");
    assert_eq!(r.json()[0]["author"], "alice", "{r}");
    s.http
        .post_json(
            &pgrst(s, "/documents"),
            &[("Authorization", &alice)],
            r#"{"tenant": "globex", "title": "planted"}"#,
        )
        .expect_error(
            403,
            "42501",
            "new row violates row-level security policy for table \"documents\"",
        );
    let r = get(s, "/documents?order=id", Some(&bob));
    assert_eq!(
        titles(&r),
        ["globex secrets"],
        "bob sees neither the new acme row nor a plant: {r}"
    );
    // Updates and deletes are not granted at all: 403 for the authenticated role.
    let r = s.http.send(
        "DELETE",
        &pgrst(s, "/documents?tenant=eq.acme"),
        &[("Authorization", &alice)],
        None,
    );
    r.expect_error(403, "42501", "permission denied for table documents");

    // The matrix. Expected status per (who, table); 401s from the database carry
    // `WWW-Authenticate: Bearer`, 403s do not.
    let now = db_now(&mut db);
    let expired = bearer(&sign(
        &mut db,
        &json!({"role": "member", "sub": "alice", "tenant": "acme", "exp": now - 120}),
    ));
    let foreign = bearer(&sign_with(
        &mut db,
        &json!({"role": "member", "sub": "alice", "tenant": "acme"}),
        "a-different-key-that-is-also-at-least-32-bytes",
    ));
    let cases: [(&str, Option<&str>, [u16; 3]); 6] = [
        //                         /notices /documents /admin_audit
        ("anonymous", None, [200, 401, 401]),
        ("member", Some(&alice), [200, 200, 403]),
        ("auditor", Some(&auditor), [200, 403, 403]),
        ("expired token", Some(&expired), [401, 401, 401]),
        ("token of another key", Some(&foreign), [401, 401, 401]),
        (
            "malformed header",
            Some("Bearer not-a-jwt"),
            [401, 401, 401],
        ),
    ];
    for (who, authorization, want) in cases {
        for (table, want) in ["/notices", "/documents", "/admin_audit"].iter().zip(want) {
            let r = get(s, table, authorization);
            assert_eq!(r.status, want, "{who} on {table}: {r}");
            if want == 401 {
                assert!(
                    r.header("www-authenticate")
                        .is_some_and(|v| v.starts_with("Bearer")),
                    "{who} on {table}: {r}"
                );
                let code = r.json()["code"].clone();
                let expect = if authorization.is_none() {
                    "42501"
                } else {
                    "PGRST301"
                };
                assert_eq!(code, Value::from(expect), "{who} on {table}: {r}");
            }
            if want == 403 {
                assert_eq!(r.header("www-authenticate"), None, "{r}");
                assert_eq!(r.json()["code"], "42501", "{r}");
            }
            if want == 200 && *table == "/notices" {
                assert_eq!(
                    r.json(),
                    json!([{"id": 1, "body": "maintenance on sunday"}]),
                    "{r}"
                );
            }
        }
    }

    // Malformed Authorization headers on the public route: every one is 401, none falls back to
    // anonymous access.
    for bad in [
        "Bearer garbage",
        "Bearer a.b.c",
        "Bearer eyJhbGciOiJub25lIn0.eyJyb2xlIjoibWVtYmVyIn0.",
        "Bearer ....",
    ] {
        let r = get(s, "/notices", Some(bad));
        assert_eq!(r.status, 401, "{bad:?}: {r}");
        assert_eq!(r.json()["code"], "PGRST301", "{bad:?}: {r}");
    }
    // The same through Caddy: a malformed access_token cookie on a public table is 401 too.
    s.http
        .get(
            &caddy(s, "/rest/notices"),
            &[("Cookie", "access_token=not-a-jwt")],
        )
        .expect(401);
    s.http.get(&caddy(s, "/rest/notices"), &[]).expect(200);
}
