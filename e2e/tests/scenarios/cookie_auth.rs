//! Cookie authentication with PostgREST alone (no gateway): a second PostgREST whose
//! authenticator has `auth.cookie_auth = on` (a setting of its login role, so the stack's own
//! PostgREST and the other scenarios are unaffected). A client keeps the cookies as a browser's
//! jar would and sends `Sec-Fetch-Site`/`Origin` as a browser does: login, own rows with the
//! cookie only, a write, refresh, logout; cross-site writes and session calls refused (403) with
//! nothing changed; a logged-out cookie anonymous at once; the role's `statement_timeout` holding
//! over HTTP as it does for a bearer token.

use std::collections::BTreeMap;

use e2e::http::Reply;
use e2e::jwt_claims;
use e2e::stack::Stack;
use serde_json::json;

use super::common::*;

const USER: &str = "cookie_demo";
const PASSWORD: &str = "cookie jar password";

/// The cookies a browser would hold for the API's origin (`.1`), updated from every response.
struct Jar(BTreeMap<String, String>, String);

impl Jar {
    fn update(&mut self, r: &Reply) {
        for raw in r.headers_named("set-cookie") {
            let c = e2e::http::SetCookie::parse(raw).unwrap_or_else(|| panic!("{raw}"));
            if c.value.is_empty() || c.attr("max-age") == Some("0") {
                self.0.remove(&c.name);
            } else {
                self.0.insert(c.name.clone(), c.value.clone());
            }
        }
    }

    fn header(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn get(&self, name: &str) -> String {
        self.0.get(name).cloned().unwrap_or_default()
    }
}

/// What a browser adds: a same-origin fetch, or a page of another site posting.
enum From {
    SameOrigin,
    CrossSite,
}

fn browser_headers(from: &From, origin: &str) -> Vec<(&'static str, String)> {
    match from {
        From::SameOrigin => vec![
            ("Sec-Fetch-Site", "same-origin".into()),
            ("Origin", origin.into()),
        ],
        From::CrossSite => vec![
            ("Sec-Fetch-Site", "cross-site".into()),
            ("Origin", "http://evil.example".into()),
        ],
    }
}

fn send(
    s: &Stack,
    method: &str,
    url: &str,
    jar: &Jar,
    from: &From,
    extra: &[(&str, &str)],
    body: Option<&str>,
) -> Reply {
    let cookie = jar.header();
    let browser = browser_headers(from, &jar.1);
    let mut h: Vec<(&str, &str)> = browser.iter().map(|(k, v)| (*k, v.as_str())).collect();
    if !cookie.is_empty() {
        h.push(("Cookie", &cookie));
    }
    if body.is_some() {
        h.push(("Content-Type", "application/json"));
    }
    h.extend_from_slice(extra);
    s.http.send(method, url, &h, body)
}

pub fn cookie_auth_postgrest_alone(s: &mut Stack) {
    let mut db = s.db();
    db.batch_execute(&format!(
        "CREATE ROLE authenticator_cookie LOGIN NOINHERIT;
         ALTER ROLE authenticator_cookie SET auth.cookie_auth = on;
         CREATE ROLE cookie_member NOLOGIN IN ROLE member;
         ALTER ROLE cookie_member SET statement_timeout = '1s';
         GRANT anon, cookie_member TO authenticator_cookie;
         SELECT auth.grant_session_access(NULL, ARRAY['cookie_member']::name[]);
         SELECT auth.grant_request_check(ARRAY['cookie_member']::name[]);
         CREATE FUNCTION api.cookie_nap(seconds float8) RETURNS text LANGUAGE sql
             AS $$ SELECT pg_sleep(seconds)::text || current_user $$;
         GRANT EXECUTE ON FUNCTION api.cookie_nap(float8) TO anon, cookie_member;
         INSERT INTO auth.users (username, password, role) VALUES ('{USER}', '{PASSWORD}', 'cookie_member');
         INSERT INTO api.task (owner, title) VALUES ('{USER}', 'read me with the cookie');"
    ))
    .unwrap();
    let uri = format!(
        "postgresql://authenticator_cookie@/postgres?host={}&port={}",
        s.pg.socket_dir().display(),
        s.pg.port
    );
    let mut alone = s.spawn_postgrest("postgrest-cookie", &[("PGRST_DB_URI", &uri)]);
    let base = alone.url.clone();
    let url = |p: &str| format!("{base}{p}");
    let auth_profile = [("Content-Profile", "auth")];
    let mut jar = Jar(BTreeMap::new(), base.clone());
    let tasks = |db: &mut postgres::Client| {
        int(
            db,
            "SELECT count(*) FROM api.task WHERE owner = $1",
            &[&USER],
        )
    };

    // Not logged in: anonymous (anon may not read tasks).
    let r = send(s, "GET", &url("/task"), &jar, &From::SameOrigin, &[], None);
    r.expect_error(401, "42501", "permission denied for table task");

    // A cross-site login (login CSRF) is refused before the password is looked at.
    let login_body = json!({"username": USER, "password": PASSWORD}).to_string();
    let r = send(
        s,
        "POST",
        &url("/rpc/login"),
        &jar,
        &From::CrossSite,
        &auth_profile,
        Some(&login_body),
    );
    r.expect(403);
    assert_eq!(r.json()["code"], "PT403", "{r}");
    assert!(r.headers_named("set-cookie").is_empty(), "{r}");
    assert_eq!(
        int(
            &mut db,
            "SELECT count(*) FROM auth.sessions WHERE username = $1",
            &[&USER]
        ),
        0
    );

    // Login from the site's own page: both cookies.
    let r = send(
        s,
        "POST",
        &url("/rpc/login"),
        &jar,
        &From::SameOrigin,
        &auth_profile,
        Some(&login_body),
    );
    r.expect(200);
    jar.update(&r);
    let access = jar.get("access_token");
    let sid = jwt_claims(&access)["sid"].as_str().unwrap().to_string();
    assert!(!jar.get("refresh_token").is_empty(), "{r}");

    // The cookie alone reads the user's own rows (RLS), as the user's role.
    let r = send(
        s,
        "GET",
        &url("/task?select=owner,title"),
        &jar,
        &From::SameOrigin,
        &[],
        None,
    );
    r.expect(200);
    assert_eq!(
        r.json(),
        json!([{"owner": USER, "title": "read me with the cookie"}]),
        "{r}"
    );
    let r = send(
        s,
        "GET",
        &url("/rpc/whoami"),
        &jar,
        &From::CrossSite,
        &[],
        None,
    );
    r.expect(200);
    let who = r.json();
    assert_eq!(who["current_user"], "cookie_member", "{r}");
    assert_eq!(who["uid"], USER, "{r}");
    assert_eq!(who["claims"]["sid"], sid.as_str(), "{r}");

    // A write from the site's page works; the same write from another site is refused and
    // changes nothing; so is one without Sec-Fetch-Site or Origin.
    let row = json!({"title": "written with the cookie"}).to_string();
    let r = send(
        s,
        "POST",
        &url("/task"),
        &jar,
        &From::SameOrigin,
        &[],
        Some(&row),
    );
    r.expect(201);
    let before = tasks(&mut db);
    let evil = json!({"title": "forged"}).to_string();
    let r = send(
        s,
        "POST",
        &url("/task"),
        &jar,
        &From::CrossSite,
        &[],
        Some(&evil),
    );
    r.expect(403);
    assert_eq!(r.json()["code"], "PT403", "{r}");
    let cookie = jar.header();
    let r = s
        .http
        .post_json(&url("/task"), &[("Cookie", &cookie)], &evil);
    r.expect(403);
    assert_eq!(tasks(&mut db), before);

    // The role's statement_timeout (ALTER ROLE ... SET) holds for the cookie's requests as
    // PostgREST applies it for a bearer token's; the anonymous role has none.
    let r = send(
        s,
        "GET",
        &url("/rpc/cookie_nap?seconds=0.05"),
        &jar,
        &From::SameOrigin,
        &[],
        None,
    );
    r.expect(200);
    assert_eq!(r.json(), json!("cookie_member"), "{r}");
    let r = send(
        s,
        "GET",
        &url("/rpc/cookie_nap?seconds=1.5"),
        &jar,
        &From::SameOrigin,
        &[],
        None,
    );
    assert_eq!(
        r.json()["code"],
        "57014",
        "statement_timeout of cookie_member: {r}"
    );
    let bearer = bearer(&access);
    let r = s.http.get(
        &url("/rpc/cookie_nap?seconds=1.5"),
        &[("Authorization", &bearer)],
    );
    assert_eq!(
        r.json()["code"],
        "57014",
        "the same with the bearer token: {r}"
    );
    let r = s.http.get(&url("/rpc/cookie_nap?seconds=1.5"), &[]);
    r.expect(200);
    assert_eq!(r.json(), json!("anon"), "{r}");

    // Refresh: cross-site refused with the token unspent; same-origin rotates it.
    let refresh = jar.get("refresh_token");
    let r = send(
        s,
        "POST",
        &url("/rpc/refresh_token"),
        &jar,
        &From::CrossSite,
        &auth_profile,
        Some("{}"),
    );
    r.expect(403);
    assert_eq!(
        int(
            &mut db,
            "SELECT count(*) FROM auth.refresh_tokens WHERE token_hash = sha256(convert_to($1, 'UTF8')) AND spent_at IS NULL",
            &[&refresh]
        ),
        1
    );
    let r = send(
        s,
        "POST",
        &url("/rpc/refresh_token"),
        &jar,
        &From::SameOrigin,
        &auth_profile,
        Some("{}"),
    );
    r.expect(200);
    jar.update(&r);
    assert_ne!(jar.get("refresh_token"), refresh);
    let r = send(
        s,
        "GET",
        &url("/task?select=title&order=id"),
        &jar,
        &From::SameOrigin,
        &[],
        None,
    );
    r.expect(200);
    assert_eq!(r.json().as_array().map(Vec::len), Some(2), "{r}");

    // Logout: cross-site refused (the session stays); same-origin ends it, and the access cookie
    // kept from before is anonymous at once.
    let kept = jar.header();
    let r = send(
        s,
        "POST",
        &url("/rpc/logout"),
        &jar,
        &From::CrossSite,
        &auth_profile,
        Some("{}"),
    );
    r.expect(403);
    let live = |db: &mut postgres::Client| {
        int(
            db,
            "SELECT count(*) FROM auth.sessions WHERE id = $1::text::uuid AND revoked_at IS NULL",
            &[&sid],
        )
    };
    assert_eq!(live(&mut db), 1);
    let r = send(
        s,
        "POST",
        &url("/rpc/logout"),
        &jar,
        &From::SameOrigin,
        &auth_profile,
        Some("{}"),
    );
    r.expect(204);
    jar.update(&r);
    assert_eq!(live(&mut db), 0);
    assert!(jar.header().is_empty(), "both cookies cleared: {r}");
    let r = s.http.get(
        &url("/task"),
        &[("Cookie", &kept), ("Sec-Fetch-Site", "same-origin")],
    );
    r.expect_error(401, "42501", "permission denied for table task");
    let r = s.http.get(&url("/rpc/whoami"), &[("Cookie", &kept)]);
    r.expect(200);
    assert_eq!(r.json()["current_user"], "anon", "{r}");

    // The stack's own PostgREST (auth.cookie_auth off): the cookie means nothing there.
    let r = s.http.get(
        &pgrst(s, "/rpc/whoami"),
        &[("Cookie", &format!("access_token={access}"))],
    );
    r.expect(200);
    assert_eq!(r.json()["current_user"], "anon", "{r}");
    alone.assert_alive();
}
