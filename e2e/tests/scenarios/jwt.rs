//! The JWT core over HTTP: a token signed in SQL with the server key
//! (`auth.jwt_sign`) is accepted by PostgREST, which shares the key; a tampered, wrongly keyed or
//! expired one is refused with 401; and `auth.jwt_verify` accepts what PostgREST accepts.

use e2e::jwt_claims;
use e2e::stack::Stack;
use serde_json::json;

use super::common::*;

pub fn jwt_over_postgrest(s: &mut Stack) {
    let mut db = s.db();
    let token = sign(
        &mut db,
        &json!({"role": "member", "sub": "alice", "tenant": "acme"}),
    );
    let claims = jwt_claims(&token);
    let iat = claims["iat"].as_i64().expect("jwt_sign adds iat");
    assert_eq!(
        claims["exp"].as_i64(),
        Some(iat + 3600),
        "exp = iat + auth.access_token_ttl (3600 s by default): {claims}"
    );

    let url = pgrst(s, "/rpc/whoami");
    let r = s.http.get(&url, &[("Authorization", &bearer(&token))]);
    r.expect(200);
    assert_eq!(
        r.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    let j = r.json();
    assert_eq!(j["current_user"], "member", "{r}");
    assert_eq!(j["uid"], "alice", "{r}");
    assert_eq!(j["claims"]["tenant"], "acme", "{r}");
    assert_eq!(
        j["claims"]["iat"], claims["iat"],
        "PostgREST passes the claims whole: {r}"
    );

    // The same token verifies in SQL (the extension and PostgREST agree on the key).
    let verified: serde_json::Value = db
        .query_one("SELECT auth.jwt_verify($1)", &[&token])
        .unwrap()
        .get(0);
    assert_eq!(verified["sub"], "alice");

    // Tampered: the payload rewritten to impersonate bob, the old signature kept.
    let parts: Vec<&str> = token.split('.').collect();
    let forged_payload = {
        use base64::Engine;
        let mut c = claims.clone();
        c["sub"] = json!("bob");
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(c.to_string())
    };
    let tampered = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
    let r = s.http.get(&url, &[("Authorization", &bearer(&tampered))]);
    r.expect_error(401, "PGRST301", "JWSError JWSInvalidSignature");
    assert!(
        r.header("www-authenticate")
            .is_some_and(|v| v.starts_with("Bearer error=\"invalid_token\"")),
        "{r}"
    );
    let err = db
        .query_one("SELECT auth.jwt_verify($1)", &[&tampered])
        .expect_err("jwt_verify refuses a tampered token");
    assert_eq!(err.code().map(|c| c.code()), Some("PT401"), "{err}");

    // Signed with another key.
    let foreign = sign_with(
        &mut db,
        &json!({"role": "member", "sub": "alice"}),
        "a-different-key-that-is-also-at-least-32-bytes",
    );
    s.http
        .get(&url, &[("Authorization", &bearer(&foreign))])
        .expect_error(401, "PGRST301", "JWSError JWSInvalidSignature");

    // Expired well beyond PostgREST's 30 s of clock skew.
    let now = db_now(&mut db);
    let expired = sign(
        &mut db,
        &json!({"role": "member", "sub": "alice", "exp": now - 120}),
    );
    s.http
        .get(&url, &[("Authorization", &bearer(&expired))])
        .expect_error(401, "PGRST301", "JWT expired");
}
