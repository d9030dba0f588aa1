//! A browser's session over HTTP, through Caddy (e2e/conf/Caddyfile copies the access_token
//! cookie into Authorization): login -> Set-Cookie -> authenticated table read with the cookie ->
//! refresh -> logout -> refresh refused; a wrong password and an unknown user get the same 401.

use e2e::http::{Reply, SetCookie};
use e2e::jwt_claims;
use e2e::stack::Stack;
use serde_json::json;

use super::common::*;

const USER: &str = "demo";
const PASSWORD: &str = "correct horse battery staple";

/// The headers a browser sends to the auth RPCs (`Content-Profile: auth`).
fn rpc(s: &Stack, name: &str, cookie: Option<&str>, body: &str) -> Reply {
    let mut h = vec![("Content-Profile", "auth")];
    if let Some(c) = cookie {
        h.push(("Cookie", c));
    }
    s.http
        .post_json(&caddy(s, &format!("/rpc/{name}")), &h, body)
}

/// Asserts the attributes our session cookies carry by default.
#[track_caller]
fn assert_session_cookie(c: &SetCookie, path: &str, max_age: &str) {
    assert_eq!(c.attr("path"), Some(path), "{}", c.raw);
    assert_eq!(c.attr("max-age"), Some(max_age), "{}", c.raw);
    assert_eq!(c.attr("httponly"), Some(""), "HttpOnly: {}", c.raw);
    assert_eq!(c.attr("samesite"), Some("Lax"), "{}", c.raw);
    assert_eq!(
        c.attr("secure"),
        Some(""),
        "Secure (auth.cookie_secure defaults to on): {}",
        c.raw
    );
}

#[track_caller]
fn cookie_pair(r: &Reply) -> (SetCookie, SetCookie) {
    (
        r.set_cookie("access_token")
            .unwrap_or_else(|| panic!("no access_token cookie in {r}")),
        r.set_cookie("refresh_token")
            .unwrap_or_else(|| panic!("no refresh_token cookie in {r}")),
    )
}

/// The response headers that identify an answer, without Date.
fn comparable_headers(r: &Reply) -> Vec<(String, String)> {
    let mut h: Vec<_> = r
        .headers
        .iter()
        .filter(|(k, _)| k != "date")
        .cloned()
        .collect();
    h.sort();
    h
}

pub fn browser_session_via_caddy(s: &mut Stack) {
    let mut db = s.db();
    db.execute(
        "INSERT INTO auth.users (username, password, role) VALUES ($1, $2, 'member')",
        &[&USER, &PASSWORD],
    )
    .unwrap();
    let stored = text(
        &mut db,
        "SELECT password FROM auth.users WHERE username = $1",
        &[&USER],
    );
    assert!(
        stored.starts_with("$2") && !stored.contains(PASSWORD),
        "the trigger stores a bcrypt hash, never the password"
    );

    // Not logged in: the private table answers 401 (anon has no grant), PostgREST's way.
    let r = s.http.get(&caddy(s, "/rest/task"), &[]);
    r.expect_error(401, "42501", "permission denied for table task");
    assert_eq!(r.header("www-authenticate"), Some("Bearer"), "{r}");

    // Wrong password and unknown user: the same 401, body and headers, and no cookie.
    let wrong = rpc(
        s,
        "login",
        None,
        &json!({"username": USER, "password": "not the password"}).to_string(),
    );
    let unknown = rpc(
        s,
        "login",
        None,
        &json!({"username": "nobody-here", "password": "not the password"}).to_string(),
    );
    wrong.expect_error(401, "PT401", "Invalid user or password");
    unknown.expect_error(401, "PT401", "Invalid user or password");
    assert_eq!(wrong.body, unknown.body, "same body byte for byte");
    assert_eq!(
        comparable_headers(&wrong),
        comparable_headers(&unknown),
        "same headers:\n{wrong}\n{unknown}"
    );
    assert!(wrong.headers_named("set-cookie").is_empty(), "{wrong}");

    // Login: 200, both cookies, no token in the body.
    let r = rpc(
        s,
        "login",
        None,
        &json!({"username": USER, "password": PASSWORD}).to_string(),
    );
    r.expect(200);
    assert_eq!(r.header("cache-control"), Some("no-store"), "{r}");
    let (access, refresh) = cookie_pair(&r);
    assert_session_cookie(&access, "/", "3600");
    assert_session_cookie(&refresh, "/rpc/refresh_token", "2592000");
    assert!(
        refresh.value.len() >= 43,
        "refresh token carries >= 256 bits: {}",
        refresh.raw
    );
    let claims = jwt_claims(&access.value);
    assert_eq!(claims["role"], "member", "{claims}");
    assert_eq!(claims["sub"], USER, "{claims}");
    assert_eq!(claims["username"], USER, "{claims}");
    let sid = claims["sid"].as_str().expect("sid claim").to_string();
    let body = r.json();
    assert_eq!(
        body,
        json!({"username": USER, "role": "member", "expires_at": claims["exp"], "expires_in": 3600}),
        "{r}"
    );
    assert!(
        !r.body.contains(&access.value) && !r.body.contains(&refresh.value),
        "no token in the body by default: {r}"
    );

    // Authenticated table read with the cookie only: Caddy turns it into Authorization, RLS shows
    // demo's own tasks.
    let access_cookie = format!("access_token={}", access.value);
    let r = s.http.get(
        &caddy(s, "/rest/task?select=owner,title&order=id"),
        &[("Cookie", &access_cookie)],
    );
    r.expect(200);
    assert_eq!(
        r.json(),
        json!([
            {"owner": "demo", "title": "write the e2e suite"},
            {"owner": "demo", "title": "run it"}
        ]),
        "{r}"
    );
    // And a write, stamped with the token's sub.
    s.http
        .post_json(
            &caddy(s, "/rest/task"),
            &[("Cookie", &access_cookie)],
            r#"{"title": "added over HTTP"}"#,
        )
        .expect(201);
    assert_eq!(
        int(
            &mut db,
            "SELECT count(*) FROM api.task WHERE owner = 'demo' AND title = 'added over HTTP'",
            &[]
        ),
        1
    );
    // A garbage cookie becomes a bad bearer token: 401 (PostgREST's JWT check).
    s.http
        .get(
            &caddy(s, "/rest/task"),
            &[("Cookie", "access_token=garbage")],
        )
        .expect(401);

    // Refresh: the browser sends both cookies to /rpc/refresh_token (the refresh cookie's Path).
    let both = format!(
        "access_token={}; refresh_token={}",
        access.value, refresh.value
    );
    let r = rpc(s, "refresh_token", Some(&both), "{}");
    r.expect(200);
    let (access2, refresh2) = cookie_pair(&r);
    assert_session_cookie(&access2, "/", "3600");
    assert_session_cookie(&refresh2, "/rpc/refresh_token", "2592000");
    assert_ne!(refresh2.value, refresh.value, "the refresh token rotates");
    let claims2 = jwt_claims(&access2.value);
    assert_eq!(claims2["sid"], sid.as_str(), "same session: {claims2}");
    assert_eq!(r.json()["username"], USER, "{r}");
    let access2_cookie = format!("access_token={}", access2.value);
    s.http
        .get(&caddy(s, "/rest/task"), &[("Cookie", &access2_cookie)])
        .expect(200);

    // Logout, as a browser on /rpc/logout: only the access_token cookie (Path=/) is sent.
    let r = rpc(s, "logout", Some(&access2_cookie), "{}");
    r.expect(204);
    assert_eq!(r.body, "", "{r}");
    for (name, path) in [
        ("access_token", "/"),
        ("refresh_token", "/rpc/refresh_token"),
    ] {
        let c = r
            .set_cookie(name)
            .unwrap_or_else(|| panic!("logout clears {name}: {r}"));
        assert_eq!(c.value, "", "{}", c.raw);
        assert_eq!(c.attr("max-age"), Some("0"), "{}", c.raw);
        assert_eq!(c.attr("path"), Some(path), "{}", c.raw);
    }
    assert_eq!(
        int(
            &mut db,
            "SELECT count(*) FROM auth.sessions WHERE id = $1::text::uuid AND revoked_at IS NOT NULL",
            &[&sid]
        ),
        1,
        "the session is revoked"
    );

    // Refresh refused: the live refresh token of a logged-out session, and the spent one.
    for token in [&refresh2.value, &refresh.value] {
        let r = rpc(
            s,
            "refresh_token",
            Some(&format!("refresh_token={token}")),
            "{}",
        );
        r.expect_error(401, "PT401", "Invalid or expired refresh token");
        let cleared = r
            .set_cookie("refresh_token")
            .expect("a refused refresh clears the cookie");
        assert_eq!(cleared.attr("max-age"), Some("0"), "{r}");
    }
    // And both access tokens stop working at once (db-pre-request = auth.check_request).
    for cookie in [&access_cookie, &access2_cookie] {
        s.http
            .get(&caddy(s, "/rest/task"), &[("Cookie", cookie)])
            .expect_error(401, "PT401", "session ended: log in again");
    }

    // A second login works after the logout.
    rpc(
        s,
        "login",
        None,
        &json!({"username": USER, "password": PASSWORD}).to_string(),
    )
    .expect(200);

    // Throttling over HTTP: after auth.max_failed_logins (5) failures, 429 with Retry-After, also
    // for the right password; the failures were recorded although each answer was a 401.
    db.execute(
        "INSERT INTO auth.users (username, password, role) VALUES ('hammered', $1, 'member')",
        &[&PASSWORD],
    )
    .unwrap();
    let guess = json!({"username": "hammered", "password": "a guess"}).to_string();
    for _ in 0..5 {
        rpc(s, "login", None, &guess).expect_error(401, "PT401", "Invalid user or password");
    }
    let right = json!({"username": "hammered", "password": PASSWORD}).to_string();
    for body in [&guess, &right] {
        let r = rpc(s, "login", None, body);
        r.expect_error(429, "PT429", "Too many failed logins, try again later");
        let retry: u64 = r
            .header("retry-after")
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("Retry-After in {r}"));
        assert!((1..=900).contains(&retry), "{r}");
        assert!(r.headers_named("set-cookie").is_empty(), "{r}");
    }
}
