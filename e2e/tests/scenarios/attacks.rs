//! Attacks on the credential functions, replayed over HTTP against the real PostgREST 12.0.2 and
//! the gateways of e2e/conf/, each asserting the defence a user relies on:
//! - `read_only_credential_calls`: GET and HEAD (which PostgREST runs READ ONLY) of login and
//!   refresh_token answer one fixed 405 for every input: no password oracle, no failure recorded,
//!   no throttle to trip or dodge, no refresh token spent or probed;
//! - `rollback_preference`: `Prefer: tx=rollback` (honoured by a PostgREST with
//!   `db-tx-end = commit-allow-override`) gets the same 405 from login, refresh_token and
//!   exchange_api_key: unlimited password guesses with nothing counted are not possible;
//! - `logged_out_cookie_proves_nothing`: the cookie of a session that ended cannot end the user's
//!   other sessions through `logout('global')`;
//! - `cookie_tossing_via_gateways`: a refresh_token cookie planted next to the victim's is refused
//!   through Caddy and nginx (which forward the raw Cookie header), neither session changes;
//! - `private_helpers_unreachable`: schema auth_private is not exposed, nothing `_`-prefixed is
//!   listed or callable in schema auth;
//! - `minting_for_unheld_role`: an admin allowed to call create_api_token/create_api_key cannot
//!   mint credentials for a role it is not a member of;
//! - `change_password_with_stolen_token`: a stolen access token gives no unthrottled guesses at
//!   the current password.
//!
//! (Forged claims are not replayed: PostgREST verifies the JWT before the database sees it; the
//! in-database tests cover functions that must not trust request.jwt.claims.)

use e2e::http::Reply;
use e2e::jwt_claims;
use e2e::stack::Stack;
use postgres::Client;
use serde_json::{json, Value};

use super::common::*;

/// The one refusal of every credential function in a transaction that will not commit.
const NO_COMMIT: &str = "this function checks or changes credentials and needs a transaction that \
                         commits: call it with POST, without Prefer: tx=rollback, outside a \
                         read-only transaction";

pub(super) fn add_user(db: &mut Client, user: &str, password: &str) {
    db.execute(
        "INSERT INTO auth.users (username, password, role) VALUES ($1, $2, 'member')",
        &[&user, &password],
    )
    .unwrap();
}

fn failures(db: &mut Client, user: &str) -> i64 {
    int(
        db,
        "SELECT count(*) FROM auth.login_failures WHERE username = $1",
        &[&user],
    )
}

/// POST /rpc/<name> with `Content-Profile: auth` and the extra headers, to `base` (PostgREST or
/// a gateway).
pub(super) fn rpc(
    s: &Stack,
    base: &str,
    name: &str,
    headers: &[(&str, &str)],
    body: &Value,
) -> Reply {
    let mut h = vec![("Content-Profile", "auth")];
    h.extend_from_slice(headers);
    s.http
        .post_json(&format!("{base}/rpc/{name}"), &h, &body.to_string())
}

pub(super) fn login(
    s: &Stack,
    base: &str,
    user: &str,
    password: &str,
    headers: &[(&str, &str)],
) -> Reply {
    rpc(
        s,
        base,
        "login",
        headers,
        &json!({"username": user, "password": password}),
    )
}

/// A logged-in session: its access token, refresh token and session id.
pub(super) struct Session {
    pub(super) access: String,
    pub(super) refresh: String,
    pub(super) sid: String,
}

#[track_caller]
pub(super) fn logged_in(r: &Reply) -> Session {
    r.expect(200);
    let access = r
        .set_cookie("access_token")
        .filter(|c| !c.value.is_empty())
        .unwrap_or_else(|| panic!("no access_token cookie in {r}"))
        .value;
    let refresh = r
        .set_cookie("refresh_token")
        .filter(|c| !c.value.is_empty())
        .unwrap_or_else(|| panic!("no refresh_token cookie in {r}"))
        .value;
    let sid = jwt_claims(&access)["sid"]
        .as_str()
        .expect("sid claim")
        .to_string();
    Session {
        access,
        refresh,
        sid,
    }
}

pub(super) fn session_live(db: &mut Client, sid: &str) -> bool {
    db.query_one(
        "SELECT revoked_at IS NULL AND expires_at > now() FROM auth.sessions WHERE id = $1::text::uuid",
        &[&sid],
    )
    .unwrap()
    .get(0)
}

/// Whether this refresh token is stored and unspent.
fn refresh_unspent(db: &mut Client, token: &str) -> bool {
    db.query_one(
        "SELECT count(*) = 1 FROM auth.refresh_tokens
         WHERE token_hash = sha256(convert_to($1, 'UTF8')) AND spent_at IS NULL",
        &[&token],
    )
    .unwrap()
    .get(0)
}

/// The response headers that identify an answer: without Date, and without the body's framing
/// (Content-Length, Transfer-Encoding) when `without_framing` (a HEAD answer has no body).
fn comparable_headers(r: &Reply, without_framing: bool) -> Vec<(String, String)> {
    let mut h: Vec<_> = r
        .headers
        .iter()
        .filter(|(k, _)| {
            k != "date" && !(without_framing && (k == "content-length" || k == "transfer-encoding"))
        })
        .cloned()
        .collect();
    h.sort();
    h
}

/// Asserts the read-only / rolled-back refusal: 405, SQLSTATE 25006, the fixed message, no
/// cookie set and no throttle header.
#[track_caller]
fn assert_no_commit(r: &Reply) {
    r.expect_error(405, "25006", NO_COMMIT);
    assert!(r.headers_named("set-cookie").is_empty(), "{r}");
    assert_eq!(r.header("retry-after"), None, "{r}");
}

/// Asserts a throttled answer: 429, PT429, Retry-After within the lockout window, no cookie.
#[track_caller]
fn assert_throttled(r: &Reply) {
    r.expect_error(429, "PT429", "Too many failed logins, try again later");
    let retry: u64 = r
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("Retry-After in {r}"));
    assert!((1..=900).contains(&retry), "{r}");
    assert!(r.headers_named("set-cookie").is_empty(), "{r}");
}

/// Whether a request carrying this access token as bearer passes PostgREST's JWT check and
/// auth.check_request (the db-pre-request hook): GET /task as the session's user.
fn bearer_works(s: &Stack, access: &str) -> Reply {
    let auth = bearer(access);
    s.http
        .get(&pgrst(s, "/task?select=title"), &[("Authorization", &auth)])
}

pub fn read_only_credential_calls(s: &mut Stack) {
    let mut db = s.db();
    const USER: &str = "getter";
    const PASSWORD: &str = "right-password-over-get";
    const GHOST: &str = "getter-ghost";
    add_user(&mut db, USER, PASSWORD);
    let ap = [("Accept-Profile", "auth")];
    let url = |user: &str, password: &str| {
        pgrst(
            s,
            &format!("/rpc/login?username={user}&password={password}"),
        )
    };

    // The right password, a wrong one, an unknown user, over GET and HEAD: one answer.
    let right = s.http.get(&url(USER, PASSWORD), &ap);
    let wrong = s.http.get(&url(USER, "a-wrong-guess"), &ap);
    let unknown = s.http.get(&url(GHOST, "a-wrong-guess"), &ap);
    for r in [&right, &wrong, &unknown] {
        assert_no_commit(r);
        assert_eq!(r.body, right.body, "same body byte for byte: {r}");
        assert_eq!(
            comparable_headers(r, false),
            comparable_headers(&right, false),
            "same headers:\n{r}\n{right}"
        );
    }
    for (user, password) in [(USER, PASSWORD), (USER, "a-wrong-guess"), (GHOST, "x")] {
        let r = s.http.send("HEAD", &url(user, password), &ap, None);
        r.expect(405);
        assert_eq!(r.body, "", "{r}");
        assert_eq!(
            comparable_headers(&r, true),
            comparable_headers(&right, true),
            "HEAD answers GET's headers:\n{r}\n{right}"
        );
    }
    assert_eq!(
        failures(&mut db, USER),
        0,
        "nothing recorded by GET or HEAD"
    );
    assert_eq!(
        failures(&mut db, GHOST),
        0,
        "nothing recorded by GET or HEAD"
    );

    // 100 more guesses over GET: all the same 405, none counted, so POST login is not throttled.
    for i in 0..100 {
        let r = s.http.get(&url(USER, &format!("guess-{i}")), &ap);
        assert_eq!(
            (r.status, &r.body),
            (405, &right.body),
            "GET guess {i}: {r}"
        );
    }
    assert_eq!(failures(&mut db, USER), 0);
    let session = logged_in(&login(s, &s.postgrest_url, USER, PASSWORD, &[]));

    // refresh_token over GET or HEAD, with the live refresh cookie or as an argument: 405, and the
    // token is neither spent nor its session touched.
    let cookie = format!("refresh_token={}", session.refresh);
    let by_arg = pgrst(s, &format!("/rpc/refresh_token?token={}", session.refresh));
    for (method, url, headers) in [
        (
            "GET",
            pgrst(s, "/rpc/refresh_token"),
            vec![("Accept-Profile", "auth"), ("Cookie", cookie.as_str())],
        ),
        (
            "HEAD",
            pgrst(s, "/rpc/refresh_token"),
            vec![("Accept-Profile", "auth"), ("Cookie", cookie.as_str())],
        ),
        ("GET", by_arg.clone(), vec![("Accept-Profile", "auth")]),
    ] {
        let r = s.http.send(method, &url, &headers, None);
        r.expect(405);
        if method == "GET" {
            assert_no_commit(&r);
        }
        assert!(r.headers_named("set-cookie").is_empty(), "{r}");
    }
    assert!(
        refresh_unspent(&mut db, &session.refresh),
        "GET spends no token"
    );
    assert!(session_live(&mut db, &session.sid));

    // The token still works once by POST, and a replay of the spent token after the grace window
    // (auth.refresh_reuse_interval; its spending moved back an hour here rather than waiting)
    // still revokes the session: reuse detection is intact.
    let r = rpc(
        s,
        &s.postgrest_url,
        "refresh_token",
        &[("Cookie", &cookie)],
        &json!({}),
    );
    let rotated = logged_in(&r);
    assert_eq!(rotated.sid, session.sid, "same session");
    assert!(!refresh_unspent(&mut db, &session.refresh), "spent by POST");
    // A GET replay of the spent token is the same 405 and revokes nothing.
    assert_no_commit(&s.http.get(&by_arg, &[("Accept-Profile", "auth")]));
    assert!(session_live(&mut db, &session.sid));
    db.execute(
        "UPDATE auth.refresh_tokens SET spent_at = spent_at - interval '1 hour'
         WHERE token_hash = sha256(convert_to($1, 'UTF8'))",
        &[&session.refresh],
    )
    .unwrap();
    let r = rpc(
        s,
        &s.postgrest_url,
        "refresh_token",
        &[("Cookie", &cookie)],
        &json!({}),
    );
    r.expect_error(401, "PT401", "Invalid or expired refresh token");
    assert!(
        !session_live(&mut db, &session.sid),
        "reuse of a spent token revokes the session"
    );
    let r = rpc(
        s,
        &s.postgrest_url,
        "refresh_token",
        &[("Cookie", &format!("refresh_token={}", rotated.refresh))],
        &json!({}),
    );
    r.expect_error(401, "PT401", "Invalid or expired refresh token");

    // POST wrong passwords do count: 5 × 401, then 429 with Retry-After, also for the right one;
    // and GET still answers the very same 405 (it says nothing about the throttle either).
    for _ in 0..5 {
        login(s, &s.postgrest_url, USER, "a-wrong-guess", &[]).expect_error(
            401,
            "PT401",
            "Invalid user or password",
        );
    }
    assert_eq!(failures(&mut db, USER), 5);
    assert_throttled(&login(s, &s.postgrest_url, USER, "a-wrong-guess", &[]));
    assert_throttled(&login(s, &s.postgrest_url, USER, PASSWORD, &[]));
    let r = s.http.get(&url(USER, PASSWORD), &ap);
    assert_eq!((r.status, &r.body), (405, &right.body), "{r}");
}

pub fn rollback_preference(s: &mut Stack) {
    let mut db = s.db();
    const USER: &str = "rollbacker";
    const PASSWORD: &str = "right password, rolled back";
    add_user(&mut db, USER, PASSWORD);
    let rollback = ("Prefer", "tx=rollback");

    // The documented configuration leaves db-tx-end at `commit`, where PostgREST ignores the
    // preference, but the function refuses it all the same (it cannot know how PostgREST is
    // configured, so it fails closed).
    let r = login(s, &s.postgrest_url, USER, PASSWORD, &[rollback]);
    assert_no_commit(&r);

    // A second PostgREST, the same configuration file with db-tx-end = commit-allow-override
    // from the environment (PGRST_DB_TX_END): PostgREST 12 reads PGRST_* variables, and they win
    // over the file (also over a file that sets db-tx-end = "commit" explicitly, checked by hand;
    // the documented file leaves it at its default). Its admin server has no /config in 12.0.2,
    // so the override is checked by what it does.
    let mut over = s.spawn_postgrest(
        "postgrest-tx-override",
        &[("PGRST_DB_TX_END", "commit-allow-override")],
    );
    // The override took effect: a write asked to roll back is answered and not kept.
    let member = bearer(&sign(&mut db, &json!({"role": "member", "sub": USER})));
    let r = s.http.post_json(
        &format!("{}/task", over.url),
        &[
            ("Authorization", &member),
            ("Prefer", "tx=rollback, return=representation"),
        ],
        r#"{"title": "rolled back by request"}"#,
    );
    r.expect(201);
    assert!(
        r.header("preference-applied")
            .is_some_and(|v| v.contains("tx=rollback")),
        "PostgREST with PGRST_DB_TX_END=commit-allow-override honours tx=rollback: {r}"
    );
    assert_eq!(
        int(
            &mut db,
            "SELECT count(*) FROM api.task WHERE title = 'rolled back by request'",
            &[]
        ),
        0
    );

    // 12 wrong passwords, then the right one, each asking to roll back: one 405 for all, nothing
    // recorded (so nothing to throttle), no session.
    let first = login(s, &over.url, USER, "wrong guess 0", &[rollback]);
    for i in 0..13 {
        let password = if i == 12 {
            PASSWORD.to_string()
        } else {
            format!("wrong guess {i}")
        };
        let r = login(s, &over.url, USER, &password, &[rollback]);
        assert_no_commit(&r);
        assert_eq!(r.body, first.body, "attempt {i}: {r}");
        assert_eq!(
            comparable_headers(&r, false),
            comparable_headers(&first, false),
            "attempt {i}:\n{r}\n{first}"
        );
    }
    assert_eq!(failures(&mut db, USER), 0, "no failure recorded");
    assert_eq!(
        int(
            &mut db,
            "SELECT count(*) FROM auth.sessions WHERE username = $1",
            &[&USER]
        ),
        0,
        "no session started"
    );

    // Without the preference, on the same PostgREST: the right password logs in at once.
    let session = logged_in(&login(s, &over.url, USER, PASSWORD, &[]));

    // refresh_token asking to roll back: 405, the token unspent; then it works once without.
    let cookie = format!("refresh_token={}", session.refresh);
    let r = rpc(
        s,
        &over.url,
        "refresh_token",
        &[("Cookie", &cookie), rollback],
        &json!({}),
    );
    assert_no_commit(&r);
    assert!(refresh_unspent(&mut db, &session.refresh), "not spent");
    logged_in(&rpc(
        s,
        &over.url,
        "refresh_token",
        &[("Cookie", &cookie)],
        &json!({}),
    ));

    // exchange_api_key as the gateway calls it (X-Api-Key, X-Proxy-Secret), asking to roll back:
    // 405 and no last_used_at; without the preference 200 and the use recorded.
    let key = text(
        &mut db,
        "SELECT auth.create_api_key('web_paid', 'pro', NULL, 'exchanged with tx=rollback')",
        &[],
    );
    let last_used_is_null = |db: &mut Client| -> bool {
        db.query_one(
            "SELECT last_used_at IS NULL FROM auth.api_keys WHERE key_hash = sha256(convert_to($1, 'UTF8'))",
            &[&key],
        )
        .unwrap()
        .get(0)
    };
    let gateway = [
        ("X-Api-Key", key.as_str()),
        ("X-Proxy-Secret", s.proxy_secret.as_str()),
    ];
    let mut with_rollback = gateway.to_vec();
    with_rollback.push(rollback);
    let r = rpc(s, &over.url, "exchange_api_key", &with_rollback, &json!({}));
    assert_no_commit(&r);
    assert_eq!(r.header("authorization"), None, "no token: {r}");
    assert!(last_used_is_null(&mut db), "no use recorded");
    let r = rpc(s, &over.url, "exchange_api_key", &gateway, &json!({}));
    r.expect(200);
    assert!(!last_used_is_null(&mut db), "use recorded: {r}");
    over.assert_alive();
}

pub fn logged_out_cookie_proves_nothing(s: &mut Stack) {
    let mut db = s.db();
    const USER: &str = "two-sessions";
    const PASSWORD: &str = "two sessions password";
    add_user(&mut db, USER, PASSWORD);
    // Through Caddy, as a browser: two logins, two sessions.
    let a = logged_in(&login(s, &s.caddy_url, USER, PASSWORD, &[]));
    let b = logged_in(&login(s, &s.caddy_url, USER, PASSWORD, &[]));
    assert_ne!(a.sid, b.sid);

    // Logout of the first, with its cookies: 204, the first ends.
    let a_cookies = format!("access_token={}; refresh_token={}", a.access, a.refresh);
    rpc(
        s,
        &s.caddy_url,
        "logout",
        &[("Cookie", &a_cookies)],
        &json!({}),
    )
    .expect(204);
    assert!(!session_live(&mut db, &a.sid));
    assert!(session_live(&mut db, &b.sid));

    // The first session's credentials, now dead, with scope global: none ends the other session.
    // Its access cookie or its refresh cookie: 204 (logout always succeeds), nothing revoked. Its
    // access token as bearer: PostgREST verifies the (unexpired) JWT and auth.check_request
    // refuses the ended session before logout runs.
    let a_access = format!("access_token={}", a.access);
    let a_refresh = format!("refresh_token={}", a.refresh);
    let a_bearer = bearer(&a.access);
    for (what, header) in [
        ("access_token cookie", ("Cookie", a_access.as_str())),
        ("refresh_token cookie", ("Cookie", a_refresh.as_str())),
        ("bearer token", ("Authorization", a_bearer.as_str())),
    ] {
        let r = rpc(
            s,
            &s.caddy_url,
            "logout",
            &[header],
            &json!({"scope": "global"}),
        );
        if what == "bearer token" {
            r.expect_error(401, "PT401", "session ended: log in again");
        } else {
            r.expect(204);
        }
        assert!(
            session_live(&mut db, &b.sid),
            "logout('global') with the ended session's {what} ended the other session"
        );
    }
    // The second session works: its bearer token passes check_request, its refresh rotates.
    bearer_works(s, &b.access).expect(200);
    let b_cookie = format!("access_token={}", b.access);
    s.http
        .get(&caddy(s, "/rest/task"), &[("Cookie", &b_cookie)])
        .expect(200);

    // The live session's own cookie does end every session of the user (scope global).
    let c = logged_in(&login(s, &s.caddy_url, USER, PASSWORD, &[]));
    rpc(
        s,
        &s.caddy_url,
        "logout",
        &[("Cookie", &b_cookie)],
        &json!({"scope": "global"}),
    )
    .expect(204);
    assert!(!session_live(&mut db, &b.sid) && !session_live(&mut db, &c.sid));
    bearer_works(s, &b.access).expect_error(401, "PT401", "session ended: log in again");
    bearer_works(s, &c.access).expect_error(401, "PT401", "session ended: log in again");
}

pub fn cookie_tossing_via_gateways(s: &mut Stack) {
    let mut db = s.db();
    add_user(&mut db, "tossed-victim", "victim password");
    add_user(&mut db, "cookie-tosser", "attacker password");
    let gateways = [
        ("Caddy", s.caddy_url.clone()),
        ("nginx", s.nginx_url.clone()),
    ];
    for (gw, base) in &gateways {
        let victim = logged_in(&login(s, base, "tossed-victim", "victim password", &[]));
        let attacker = logged_in(&login(s, base, "cookie-tosser", "attacker password", &[]));

        // The victim's browser sends its own refresh cookie and the one the attacker planted
        // (from a sibling subdomain), in either order: 401, both cookies cleared, never the
        // attacker's session set on the victim.
        for header in [
            format!(
                "refresh_token={}; refresh_token={}",
                victim.refresh, attacker.refresh
            ),
            format!(
                "theme=dark; refresh_token={}; lang=en; refresh_token={}",
                attacker.refresh, victim.refresh
            ),
        ] {
            let r = rpc(s, base, "refresh_token", &[("Cookie", &header)], &json!({}));
            r.expect_error(401, "PT401", "Invalid or expired refresh token");
            for name in ["access_token", "refresh_token"] {
                let c = r
                    .set_cookie(name)
                    .unwrap_or_else(|| panic!("{gw}: a refused refresh clears {name}: {r}"));
                assert_eq!(c.value, "", "{gw}: {r}");
                assert_eq!(c.attr("max-age"), Some("0"), "{gw}: {r}");
            }
        }
        // Logout with the duplicated refresh cookie, or duplicated access cookies: 204, and it
        // ends neither session.
        let dup_access = format!(
            "access_token={}; access_token={}",
            victim.access, attacker.access
        );
        let dup_refresh = format!(
            "refresh_token={}; refresh_token={}",
            victim.refresh, attacker.refresh
        );
        for header in [&dup_refresh, &dup_access] {
            for scope in ["local", "global"] {
                rpc(
                    s,
                    base,
                    "logout",
                    &[("Cookie", header)],
                    &json!({"scope": scope}),
                )
                .expect(204);
            }
        }
        for who in [&victim, &attacker] {
            assert!(session_live(&mut db, &who.sid), "{gw}: a session ended");
            assert!(
                refresh_unspent(&mut db, &who.refresh),
                "{gw}: a refresh token was spent"
            );
        }
        // The victim's refresh token alone still works, in the victim's session.
        let r = rpc(
            s,
            base,
            "refresh_token",
            &[("Cookie", &format!("refresh_token={}", victim.refresh))],
            &json!({}),
        );
        let rotated = logged_in(&r);
        assert_eq!(rotated.sid, victim.sid, "{gw}: {r}");
        assert_eq!(
            jwt_claims(&rotated.access)["sub"],
            "tossed-victim",
            "{gw}: {r}"
        );
    }

    // Why the gateways forward the raw header: PostgREST alone gives the database only
    // request.cookies, a JSON object in which the last of two same-named cookies wins, so the
    // duplicate cannot be seen and the last cookie is used: here the attacker's, whose session the
    // victim's browser would then be given.
    let victim = logged_in(&login(
        s,
        &s.postgrest_url,
        "tossed-victim",
        "victim password",
        &[],
    ));
    let attacker = logged_in(&login(
        s,
        &s.postgrest_url,
        "cookie-tosser",
        "attacker password",
        &[],
    ));
    let tossed = format!(
        "refresh_token={}; refresh_token={}",
        victim.refresh, attacker.refresh
    );
    let r = rpc(
        s,
        &s.postgrest_url,
        "refresh_token",
        &[("Cookie", &tossed)],
        &json!({}),
    );
    let used = logged_in(&r);
    assert_eq!(
        used.sid, attacker.sid,
        "PostgREST alone keeps the last duplicate (request.cookies): {r}"
    );
    assert!(refresh_unspent(&mut db, &victim.refresh));
    // The same request with the raw header, as the gateways send it: refused.
    let r = rpc(
        s,
        &s.postgrest_url,
        "refresh_token",
        &[("Cookie", &tossed), ("X-Forwarded-Cookie", &tossed)],
        &json!({}),
    );
    r.expect_error(401, "PT401", "Invalid or expired refresh token");
    assert!(refresh_unspent(&mut db, &victim.refresh));
}

pub fn private_helpers_unreachable(s: &mut Stack) {
    let mut db = s.db();
    let member = bearer(&sign(&mut db, &json!({"role": "member", "sub": "alice"})));
    // The slow path of check_request (a liveness oracle over HTTP) is not a function of schema
    // auth any more: 404, anonymous or not.
    for auth in [None, Some(member.as_str())] {
        let mut h = vec![("Content-Profile", "auth")];
        if let Some(a) = auth {
            h.push(("Authorization", a));
        }
        let r = s.http.post_json(
            &pgrst(s, "/rpc/_check_request_credentials"),
            &h,
            &json!({"claims": "{\"sid\": \"00000000-0000-0000-0000-000000000000\"}"}).to_string(),
        );
        r.expect(404);
        assert_eq!(r.json()["code"], "PGRST202", "{r}");
    }
    // Schema auth_private is not exposed at all.
    let r = s.http.post_json(
        &pgrst(s, "/rpc/_check_request_credentials"),
        &[("Content-Profile", "auth_private")],
        r#"{"claims": "{}"}"#,
    );
    r.expect(406);
    assert_eq!(r.json()["code"], "PGRST106", "{r}");

    // The OpenAPI document of profile auth lists the session functions and nothing `_`-prefixed,
    // for the anonymous role and for a member.
    for auth in [None, Some(member.as_str())] {
        let mut h = vec![("Accept-Profile", "auth")];
        if let Some(a) = auth {
            h.push(("Authorization", a));
        }
        let r = s.http.get(&pgrst(s, "/"), &h);
        r.expect(200);
        let doc = r.json();
        let paths: Vec<&String> = doc["paths"]
            .as_object()
            .unwrap_or_else(|| panic!("an OpenAPI document with paths: {r}"))
            .keys()
            .collect();
        assert!(
            paths.iter().any(|p| *p == "/rpc/logout"),
            "the document lists auth's functions: {paths:?}"
        );
        let private: Vec<_> = paths.iter().filter(|p| p.contains("/rpc/_")).collect();
        assert!(private.is_empty(), "private functions listed: {private:?}");
        assert!(!r.body.contains("auth_private"), "{r}");
    }
}

pub fn minting_for_unheld_role(s: &mut Stack) {
    let mut db = s.db();
    // An administrators' role PostgREST may switch to, allowed to mint API tokens and keys (and
    // to pass the request hook), but a member of neither tokenauthed nor web_paid.
    db.batch_execute(
        "CREATE ROLE token_admin NOLOGIN;
         GRANT token_admin TO authenticator;
         SELECT auth.grant_request_check(ARRAY['token_admin']::name[]);
         GRANT EXECUTE ON FUNCTION auth.create_api_token(text, name, timestamptz, jsonb, text[]),
                                   auth.create_api_key(name, text, timestamptz, text, text[])
             TO token_admin;",
    )
    .unwrap();
    let admin = bearer(&sign(
        &mut db,
        &json!({"role": "token_admin", "sub": "ops"}),
    ));
    let minted = |db: &mut Client| -> (i64, i64) {
        (
            int(
                db,
                "SELECT count(*) FROM auth.api_tokens WHERE created_by = 'token_admin'",
                &[],
            ),
            int(
                db,
                "SELECT count(*) FROM auth.api_keys WHERE created_by = 'token_admin'",
                &[],
            ),
        )
    };
    let token_body =
        json!({"name": "minted by ops", "role": "tokenauthed", "claims": {"sub": "org-a"}});
    let key_body = json!({"role": "web_paid", "plan": "pro"});

    let r = rpc(
        s,
        &s.postgrest_url,
        "create_api_token",
        &[("Authorization", &admin)],
        &token_body,
    );
    r.expect_error(
        403,
        "42501",
        "role \"token_admin\" cannot create credentials for role \"tokenauthed\": it is not a member of it",
    );
    let r = rpc(
        s,
        &s.postgrest_url,
        "create_api_key",
        &[("Authorization", &admin)],
        &key_body,
    );
    r.expect_error(
        403,
        "42501",
        "role \"token_admin\" cannot create credentials for role \"web_paid\": it is not a member of it",
    );
    // Nor for a superuser role.
    rpc(
        s,
        &s.postgrest_url,
        "create_api_token",
        &[("Authorization", &admin)],
        &json!({"name": "root", "role": "postgres"}),
    )
    .expect(403);
    assert_eq!(minted(&mut db), (0, 0), "nothing written");

    // Made a member of tokenauthed, the same call mints a token that works.
    db.batch_execute("GRANT tokenauthed TO token_admin")
        .unwrap();
    let r = rpc(
        s,
        &s.postgrest_url,
        "create_api_token",
        &[("Authorization", &admin)],
        &token_body,
    );
    r.expect(200);
    let token: String = serde_json::from_str(&r.body).unwrap_or_else(|e| panic!("{e}: {r}"));
    assert_eq!(jwt_claims(&token)["role"], "tokenauthed");
    assert_eq!(minted(&mut db), (1, 0));
    let auth = bearer(&token);
    let r = s.http.get(
        &pgrst(s, "/contact?select=organisation"),
        &[
            ("Authorization", &auth),
            ("X-Proxy-Secret", &s.proxy_secret),
        ],
    );
    r.expect(200);
    let rows = r.json();
    let rows = rows.as_array().unwrap_or_else(|| panic!("{r}"));
    assert!(
        !rows.is_empty() && rows.iter().all(|c| c["organisation"] == "org-a"),
        "the minted token reads its organisation's contacts only: {r}"
    );
    // Still not a member of web_paid: no key.
    rpc(
        s,
        &s.postgrest_url,
        "create_api_key",
        &[("Authorization", &admin)],
        &key_body,
    )
    .expect(403);
    assert_eq!(minted(&mut db), (1, 0));
}

pub fn change_password_with_stolen_token(s: &mut Stack) {
    let mut db = s.db();
    const USER: &str = "robbed";
    const PASSWORD: &str = "robbed user's password";
    add_user(&mut db, USER, PASSWORD);
    let owner = logged_in(&login(s, &s.postgrest_url, USER, PASSWORD, &[]));
    // The attacker holds a copy of an access token of another session of the user.
    let stolen = logged_in(&login(s, &s.postgrest_url, USER, PASSWORD, &[]));
    let auth = bearer(&stolen.access);
    let hash_before = text(
        &mut db,
        "SELECT password FROM auth.users WHERE username = $1",
        &[&USER],
    );
    let change = |current: &str| {
        rpc(
            s,
            &s.postgrest_url,
            "change_password",
            &[("Authorization", &auth)],
            &json!({"current": current, "new": "chosen by the attacker"}),
        )
    };

    // Over GET: the same 405 whatever the guess, nothing counted.
    let r = s.http.get(
        &pgrst(
            s,
            "/rpc/change_password?current=guess&new=chosen-by-the-attacker",
        ),
        &[("Accept-Profile", "auth"), ("Authorization", &auth)],
    );
    assert_no_commit(&r);
    assert_eq!(failures(&mut db, USER), 0);

    // Five wrong guesses at the current password: 401 each, each counted.
    for i in 0..5 {
        let r = change(&format!("guess {i}"));
        r.expect_error(401, "PT401", "Wrong current password");
        assert!(r.headers_named("set-cookie").is_empty(), "{r}");
    }
    assert_eq!(failures(&mut db, USER), 5);
    // Then the right one: 429 with Retry-After, the password is not changed, no session revoked;
    // login shares the throttle.
    assert_throttled(&change(PASSWORD));
    assert_eq!(
        text(
            &mut db,
            "SELECT password FROM auth.users WHERE username = $1",
            &[&USER]
        ),
        hash_before,
        "the password is unchanged"
    );
    assert!(session_live(&mut db, &owner.sid) && session_live(&mut db, &stolen.sid));
    assert_throttled(&login(s, &s.postgrest_url, USER, PASSWORD, &[]));
}
