//! Accounts over the real PostgREST, with the documented mailer (`examples/mailer.py`) sending
//! `auth.outbox` to an SMTP sink of the harness:
//! - `signup_verify_login`: with `auth.require_verified_email`, sign-up answers one 201 for a new
//!   name, a taken username and a taken email (status, body, no cookie: no enumeration); login
//!   waits for the verification; the mailed token verifies the address once, then login works;
//!   the outbox row ends consumed with its token erased. Sign-up is refused while
//!   `auth.allow_signup` is off; without required verification it logs in at once and the session
//!   cookies open a protected endpoint through Caddy.
//! - `password_reset_over_http`: a reset request answers the same 204 for a known and an unknown
//!   address and mails only the first; of two concurrent resets with one token exactly one wins;
//!   the user's sessions end (refresh and access token refused); the new password logs in, the old
//!   one does not; an expired token is refused; a password the policy refuses is refused and
//!   leaves the token usable; with a client address header, requests past
//!   `auth.max_account_requests_per_ip` from one address get 429.
//! - `email_verification_request`: a logged-in user asks for a verification mail (bearer, then
//!   cookie through Caddy); anonymous and address-less callers are refused; two mailers share the
//!   outbox and send every message exactly once, a message the SMTP server refuses staying pending
//!   without holding up the others; over GET the account functions answer 405.
//!
//! Each changes settings with `ALTER SYSTEM` and a reload, reset when it ends (also on failure).
//! The stack sets no `auth.client_ip_header`, so `auth.max_account_requests_per_ip` counts nothing
//! here (but for the throttle check, from addresses of its own) and later scenarios meet no
//! throttle.

use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

use e2e::db::PgAddr;
use e2e::http::Reply;
use e2e::mail::{Mail, Mailer, SmtpSink};
use e2e::stack::Stack;
use postgres::Client;
use serde_json::{json, Value};

use super::attacks::{logged_in, login, rpc, session_live};
use super::common::*;

/// The login role of the mailers (`auth.grant_outbox_access`).
const MAILER_ROLE: &str = "outbox_mailer";
/// How long a message may take from the request to the sink.
const MAIL_WAIT: Duration = Duration::from_secs(20);
const NOT_VERIFIED: &str = "Email address not verified";
const BAD_TOKEN: &str = "Invalid or expired token";
const BAD_LOGIN: &str = "Invalid user or password";

// ---------------------------------------------------------------------------------------------
// Settings

/// `ALTER SYSTEM SET` for one scenario: every setting changed through it is reset (`ALTER SYSTEM
/// RESET`) when it is dropped, also when the scenario panics. Each change waits until the server
/// has reloaded its configuration, so PostgREST's pooled connections use it from their next
/// request on.
struct SystemSettings {
    pg: PgAddr,
    /// (name, value before the scenario).
    changed: Vec<(String, String)>,
}

impl SystemSettings {
    fn new(s: &Stack) -> SystemSettings {
        SystemSettings {
            pg: s.pg.clone(),
            changed: Vec::new(),
        }
    }

    fn set(&mut self, settings: &[(&str, &str)]) {
        let mut db = self.pg.connect("postgres");
        for (name, value) in settings {
            if !self.changed.iter().any(|(n, _)| n == name) {
                let before = text(&mut db, "SELECT current_setting($1)", &[name]);
                self.changed.push((name.to_string(), before));
            }
            db.batch_execute(&format!("ALTER SYSTEM SET {name} = '{value}'"))
                .unwrap_or_else(|e| panic!("ALTER SYSTEM SET {name}: {e}"));
        }
        db.batch_execute("SELECT pg_reload_conf()").unwrap();
        let want: Vec<(String, String)> = settings
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        if let Err(seen) = wait_settings(&self.pg, &want) {
            panic!("configuration reloaded, still {seen:?} instead of {want:?}");
        }
    }
}

impl Drop for SystemSettings {
    fn drop(&mut self) {
        if self.changed.is_empty() {
            return;
        }
        let restored = self.pg.try_connect("postgres").and_then(|mut db| {
            for (name, _) in &self.changed {
                db.batch_execute(&format!("ALTER SYSTEM RESET {name}"))?;
            }
            db.batch_execute("SELECT pg_reload_conf()")
        });
        match restored {
            Ok(()) => {
                if let Err(seen) = wait_settings(&self.pg, &self.changed) {
                    eprintln!(
                        "[e2e] settings not restored: {seen:?}, not {:?}",
                        self.changed
                    );
                }
            }
            Err(e) => eprintln!("[e2e] settings not restored: {e}"),
        }
    }
}

/// Waits (10 s at most) until a new connection sees every `(name, value)`: then the postmaster has
/// reloaded its configuration and signalled every backend, PostgREST's included, which apply it
/// before their next command. Err(the values seen) when the time runs out.
fn wait_settings(pg: &PgAddr, want: &[(String, String)]) -> Result<(), Vec<String>> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        // No panic here: this also runs in a Drop while a failed scenario unwinds.
        let seen: Vec<String> = match pg.try_connect("postgres") {
            Ok(mut c) => want
                .iter()
                .map(|(n, _)| {
                    c.query_one("SELECT current_setting($1)", &[n])
                        .map(|r| r.get(0))
                        .unwrap_or_else(|e| e.to_string())
                })
                .collect(),
            Err(e) => vec![e.to_string()],
        };
        if seen.len() == want.len() && want.iter().zip(&seen).all(|((_, v), got)| v == got) {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(seen);
        }
        thread::sleep(Duration::from_millis(20));
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers

/// The mailer's login role, allowed to read the outbox and mark rows consumed.
fn mailer_role(db: &mut Client) {
    db.batch_execute(&format!(
        "DO $$ BEGIN
             IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{MAILER_ROLE}') THEN
                 CREATE ROLE {MAILER_ROLE} LOGIN;
             END IF;
         END $$;
         SELECT auth.grant_outbox_access('{MAILER_ROLE}');"
    ))
    .unwrap();
}

/// A user of role member with an email address, verified or not.
fn add_user_with_email(db: &mut Client, user: &str, password: &str, email: Option<&str>) {
    db.execute(
        "INSERT INTO auth.users (username, password, role, email) VALUES ($1, $2, 'member', $3)",
        &[&user, &password, &email],
    )
    .unwrap();
}

/// POST /rpc/<name> to PostgREST (`Content-Profile: auth`), no credentials.
fn call(s: &Stack, name: &str, body: Value) -> Reply {
    rpc(s, &s.postgrest_url, name, &[], &body)
}

/// Asserts that two answers cannot be told apart: status, body and headers (Date aside).
#[track_caller]
fn assert_same_answer(a: &Reply, b: &Reply) {
    let headers = |r: &Reply| {
        let mut h: Vec<_> = r
            .headers
            .iter()
            .filter(|(k, _)| k != "date")
            .cloned()
            .collect();
        h.sort();
        h
    };
    assert_eq!(
        (a.status, &a.body, headers(a)),
        (b.status, &b.body, headers(b)),
        "two answers differ:\n{a}\n{b}"
    );
}

#[track_caller]
fn assert_no_cookie(r: &Reply) {
    assert!(r.headers_named("set-cookie").is_empty(), "{r}");
}

/// No session handed out: any session cookie set is a clearing one (empty, `Max-Age=0`).
#[track_caller]
fn assert_no_session_cookie(r: &Reply) {
    for name in ["access_token", "refresh_token"] {
        if let Some(c) = r.set_cookie(name) {
            assert!(
                c.value.is_empty() && c.attr("max-age") == Some("0"),
                "{name} set in {r}"
            );
        }
    }
}

/// Outbox rows of `user` of `kind` (consumed or not).
fn outbox_rows(db: &mut Client, user: &str, kind: &str) -> i64 {
    int(
        db,
        "SELECT count(*) FROM auth.outbox WHERE username = $1 AND kind = $2",
        &[&user, &kind],
    )
}

/// Waits until every outbox row of `user` is consumed with its token erased (the mailer commits
/// just after the sink has the message).
#[track_caller]
fn wait_consumed(db: &mut Client, user: &str) {
    let deadline = Instant::now() + MAIL_WAIT;
    loop {
        let left = int(
            db,
            "SELECT count(*) FROM auth.outbox WHERE username = $1 AND (NOT consumed OR token IS NOT NULL)",
            &[&user],
        );
        if left == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{left} outbox rows of {user} not consumed"
        );
        thread::sleep(Duration::from_millis(20));
    }
}

/// The token of a mail: 43 characters of base64url (32 random bytes).
#[track_caller]
fn token_of(mail: &Mail, subject: &str) -> String {
    assert_eq!(
        mail.header("Subject").as_deref(),
        Some(subject),
        "{}",
        mail.data
    );
    let token = mail.token();
    assert_eq!(token.len(), 43, "token {token:?} in\n{}", mail.data);
    token
}

/// The mailer's output names rows, never a token.
#[track_caller]
fn assert_no_token_logged(mailer: &Mailer, tokens: &[&str]) {
    let out = mailer.output();
    for t in tokens {
        assert!(!out.contains(t), "the mailer printed a token:\n{out}");
    }
}

// ---------------------------------------------------------------------------------------------
// Scenarios

pub fn signup_verify_login(s: &mut Stack) {
    let mut db = s.db();
    mailer_role(&mut db);
    const NEW: &str = "signup-new";
    const NEW_EMAIL: &str = "new.user@example.com";
    const PASSWORD: &str = "a new user's password";
    const TAKEN: &str = "signup-taken";
    const TAKEN_EMAIL: &str = "taken@example.com";
    const OTHER: &str = "signup-other";
    add_user_with_email(
        &mut db,
        TAKEN,
        "the taken user's password",
        Some(TAKEN_EMAIL),
    );
    let mut settings = SystemSettings::new(s);
    settings.set(&[
        ("auth.allow_signup", "on"),
        ("auth.signup_role", "member"),
        ("auth.require_verified_email", "on"),
    ]);

    // A new user, a taken username, a taken email (other case): one answer, no session.
    let new = call(
        s,
        "signup",
        json!({"username": NEW, "password": PASSWORD, "email": "New.User@Example.COM"}),
    );
    new.expect(201);
    assert_eq!(new.json(), json!({"verification_required": true}), "{new}");
    assert_no_cookie(&new);
    let taken_name = call(
        s,
        "signup",
        json!({"username": TAKEN, "password": PASSWORD, "email": "fresh@example.com"}),
    );
    let taken_email = call(
        s,
        "signup",
        json!({"username": OTHER, "password": PASSWORD, "email": "TAKEN@example.com"}),
    );
    assert_same_answer(&new, &taken_name);
    assert_same_answer(&new, &taken_email);
    // Only the new user was created: its role, its address lower-cased and not verified; one
    // verification row in the outbox, for it alone.
    let row = db
        .query_one(
            "SELECT role::text, email, email_verified_at IS NULL FROM auth.users WHERE username = $1",
            &[&NEW],
        )
        .unwrap();
    assert_eq!(
        (
            row.get::<_, String>(0),
            row.get::<_, String>(1),
            row.get::<_, bool>(2)
        ),
        ("member".to_string(), NEW_EMAIL.to_string(), true)
    );
    assert_eq!(
        int(
            &mut db,
            "SELECT count(*) FROM auth.users WHERE username = $1 OR email = 'fresh@example.com'",
            &[&OTHER]
        ),
        0
    );
    assert_eq!(
        text(
            &mut db,
            "SELECT password FROM auth.users WHERE username = $1",
            &[&TAKEN]
        )
        .len(),
        60,
        "the taken user keeps its bcrypt hash"
    );
    assert_eq!(outbox_rows(&mut db, NEW, "email_verification"), 1);
    assert_eq!(
        int(
            &mut db,
            "SELECT count(*) FROM auth.outbox WHERE username = $1 OR email IN ($2, 'fresh@example.com')",
            &[&TAKEN, &TAKEN_EMAIL]
        ),
        0
    );

    // What sign-up refuses: no email while verification is required, a username out of
    // 3..256 characters, a password the policy refuses.
    for (body, message) in [
        (
            json!({"username": "signup-no-email", "password": PASSWORD}),
            Some("email is required"),
        ),
        (
            json!({"username": "ab", "password": PASSWORD, "email": "ab@example.com"}),
            None,
        ),
        (
            json!({"username": "signup-short", "password": "short", "email": "short@example.com"}),
            None,
        ),
    ] {
        let r = call(s, "signup", body);
        r.expect(400);
        assert_eq!(r.json()["code"], "22023", "{r}");
        if let Some(m) = message {
            assert_eq!(r.json()["message"], m, "{r}");
        }
        assert_no_cookie(&r);
    }

    // Login before the address is verified: the password is checked first (a wrong one is the
    // usual 401), then 403.
    login(s, &s.postgrest_url, NEW, "not the password", &[]).expect_error(401, "PT401", BAD_LOGIN);
    let r = login(s, &s.postgrest_url, NEW, PASSWORD, &[]);
    r.expect_error(403, "PT403", NOT_VERIFIED);
    assert_no_cookie(&r);

    // The mailer sends the verification mail; its token verifies the address, once.
    let sink = SmtpSink::start();
    let mut mailer = Mailer::start(s, "mailer-signup", MAILER_ROLE, &sink);
    let mail = sink.wait_for(NEW_EMAIL, MAIL_WAIT);
    let token = token_of(&mail, "Confirm your email address");
    assert!(
        mail.text().contains(&format!("Hello {NEW},")),
        "{}",
        mail.data
    );
    wait_consumed(&mut db, NEW);
    assert_eq!(
        sink.count_to(TAKEN_EMAIL) + sink.count_to("fresh@example.com"),
        0
    );

    call(s, "verify_email", json!({"token": "A".repeat(43)})).expect_error(401, "PT401", BAD_TOKEN);
    let r = call(s, "verify_email", json!({ "token": token }));
    r.expect(200);
    let v = r.json();
    assert_eq!(
        (&v["username"], &v["email"]),
        (&json!(NEW), &json!(NEW_EMAIL)),
        "{r}"
    );
    assert!(v["email_verified_at"].is_string(), "{r}");
    assert_no_cookie(&r);
    call(s, "verify_email", json!({ "token": token })).expect_error(401, "PT401", BAD_TOKEN);
    assert_eq!(
        int(
            &mut db,
            "SELECT count(*) FROM auth.users WHERE username = $1 AND email_verified_at IS NOT NULL",
            &[&NEW]
        ),
        1
    );

    // Now login works, with both cookies.
    let session = logged_in(&login(s, &s.postgrest_url, NEW, PASSWORD, &[]));
    assert!(session_live(&mut db, &session.sid));
    assert_no_token_logged(&mailer, &[&token]);
    mailer.assert_alive();

    // Sign-up switched off: 403, nobody created.
    settings.set(&[("auth.allow_signup", "off")]);
    let r = call(
        s,
        "signup",
        json!({"username": "signup-while-off", "password": PASSWORD, "email": "off@example.com"}),
    );
    r.expect_error(403, "PT403", "Sign-up is disabled");
    assert_no_cookie(&r);
    assert_eq!(
        int(
            &mut db,
            "SELECT count(*) FROM auth.users WHERE username = 'signup-while-off'",
            &[]
        ),
        0
    );

    // Without required verification: signed up and logged in at once (session method signup),
    // a taken name is a 409, and the cookies open the user's own rows through Caddy.
    settings.set(&[
        ("auth.allow_signup", "on"),
        ("auth.require_verified_email", "off"),
    ]);
    const INSTANT: &str = "signup-instant";
    let r = call(
        s,
        "signup",
        json!({"username": INSTANT, "password": PASSWORD}),
    );
    let instant = logged_in(&r);
    assert_eq!(r.json()["username"], INSTANT, "{r}");
    let r = call(
        s,
        "signup",
        json!({"username": INSTANT, "password": "another password"}),
    );
    r.expect_error(409, "PT409", "Username or email already taken");
    assert_no_cookie(&r);
    let r = call(
        s,
        "signup",
        json!({"username": "signup-same-email", "password": PASSWORD, "email": NEW_EMAIL}),
    );
    r.expect_error(409, "PT409", "Username or email already taken");
    let r = call(
        s,
        "signup",
        json!({"username": "signup-bad-email", "password": PASSWORD, "email": "no-at-sign"}),
    );
    r.expect(400);
    let e = r.json();
    assert_eq!(e["code"], "22023", "{r}");
    assert!(
        e["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("email is not a valid address")),
        "{r}"
    );

    let cookies = format!(
        "access_token={}; refresh_token={}",
        instant.access, instant.refresh
    );
    s.http.get(&caddy(s, "/rest/task"), &[]).expect(401);
    let r = s.http.post_json(
        &caddy(s, "/rest/task"),
        &[("Cookie", &cookies)],
        &json!({"title": "signed up a moment ago"}).to_string(),
    );
    r.expect(201);
    let r = s.http.get(
        &caddy(s, "/rest/task?select=owner,title"),
        &[("Cookie", &cookies)],
    );
    r.expect(200);
    assert_eq!(
        r.json(),
        json!([{"owner": INSTANT, "title": "signed up a moment ago"}]),
        "{r}"
    );
    mailer.assert_alive();
    // The session a sign-up starts says so (auth.sessions.method, listed by my_sessions).
    assert_eq!(
        text(
            &mut db,
            "SELECT method FROM auth.sessions WHERE id = $1::text::uuid",
            &[&instant.sid]
        ),
        "signup",
        "the method of a session auth.signup started"
    );
}

pub fn password_reset_over_http(s: &mut Stack) {
    let mut db = s.db();
    mailer_role(&mut db);
    const USER: &str = "reset-user";
    const EMAIL: &str = "reset.user@example.com";
    const OLD: &str = "the password before the reset";
    const NEW: &str = "the password after the reset";
    const UNKNOWN: &str = "nobody-by-that-address@example.com";
    add_user_with_email(&mut db, USER, OLD, Some(EMAIL));
    let sink = SmtpSink::start();
    let mut mailer = Mailer::start(s, "mailer-reset", MAILER_ROLE, &sink);
    let old = logged_in(&login(s, &s.postgrest_url, USER, OLD, &[]));
    let other_device = logged_in(&login(s, &s.postgrest_url, USER, OLD, &[]));

    // An unknown address and a known one (other case): the same 204; only the known gets a row.
    let rows_before = int(&mut db, "SELECT count(*) FROM auth.outbox", &[]);
    let unknown = call(
        s,
        "request_password_reset",
        json!({"username_or_email": UNKNOWN}),
    );
    let known = call(
        s,
        "request_password_reset",
        json!({"username_or_email": "Reset.User@Example.com"}),
    );
    known.expect(204);
    assert_same_answer(&known, &unknown);
    assert_eq!(
        int(&mut db, "SELECT count(*) FROM auth.outbox", &[]) - rows_before,
        1
    );
    assert_eq!(outbox_rows(&mut db, USER, "password_reset"), 1);
    // Within 60 s a second request is the same 204 and queues nothing (no mail flood).
    call(
        s,
        "request_password_reset",
        json!({"username_or_email": USER}),
    )
    .expect(204);
    assert_eq!(outbox_rows(&mut db, USER, "password_reset"), 1);

    let mail = sink.wait_for(EMAIL, MAIL_WAIT);
    let token = token_of(&mail, "Reset your password");
    wait_consumed(&mut db, USER);
    assert_eq!(sink.count_to(UNKNOWN), 0);
    assert_eq!(sink.count_to(EMAIL), 1);

    // Two resets with the token at the same moment: exactly one 200, the other 401.
    let barrier = Barrier::new(2);
    let body = json!({"token": token, "new_password": NEW});
    let mut answers: Vec<Reply> = thread::scope(|sc| {
        let racers: Vec<_> = (0..2)
            .map(|_| {
                sc.spawn(|| {
                    barrier.wait();
                    call(s, "reset_password", body.clone())
                })
            })
            .collect();
        racers.into_iter().map(|h| h.join().unwrap()).collect()
    });
    answers.sort_by_key(|r| r.status);
    let (won, lost) = (&answers[0], &answers[1]);
    won.expect(200);
    assert_eq!(
        won.json(),
        json!({"username": USER, "revoked_sessions": 2}),
        "{won}"
    );
    assert_no_session_cookie(won);
    lost.expect_error(401, "PT401", BAD_TOKEN);
    assert_no_session_cookie(lost);

    // Every session of the user ended: refresh refused, the access token refused.
    for session in [&old, &other_device] {
        assert!(!session_live(&mut db, &session.sid));
        assert_eq!(
            text(
                &mut db,
                "SELECT ended_reason FROM auth.sessions WHERE id = $1::text::uuid",
                &[&session.sid]
            ),
            "password_reset"
        );
    }
    rpc(
        s,
        &s.postgrest_url,
        "refresh_token",
        &[("Cookie", &format!("refresh_token={}", old.refresh))],
        &json!({}),
    )
    .expect_error(401, "PT401", "Invalid or expired refresh token");
    s.http
        .get(
            &pgrst(s, "/task"),
            &[("Authorization", &bearer(&old.access))],
        )
        .expect_error(401, "PT401", "session ended: log in again");

    // The new password logs in, the old one does not; the token does not work twice; the
    // address the token went to is verified now.
    login(s, &s.postgrest_url, USER, OLD, &[]).expect_error(401, "PT401", BAD_LOGIN);
    logged_in(&login(s, &s.postgrest_url, USER, NEW, &[]));
    call(
        s,
        "reset_password",
        json!({"token": token, "new_password": "yet another password"}),
    )
    .expect_error(401, "PT401", BAD_TOKEN);
    assert_eq!(
        int(
            &mut db,
            "SELECT count(*) FROM auth.users WHERE username = $1 AND email_verified_at IS NOT NULL",
            &[&USER]
        ),
        1
    );

    // An expired token: 401, the password unchanged.
    const LATE: &str = "reset-too-late";
    const LATE_EMAIL: &str = "too.late@example.com";
    add_user_with_email(&mut db, LATE, OLD, Some(LATE_EMAIL));
    call(
        s,
        "request_password_reset",
        json!({"username_or_email": LATE}),
    )
    .expect(204);
    let late_token = token_of(&sink.wait_for(LATE_EMAIL, MAIL_WAIT), "Reset your password");
    db.execute(
        "UPDATE auth.one_time_tokens SET expires_at = now() - interval '1 second'
         WHERE username = $1 AND purpose = 'password_reset'",
        &[&LATE],
    )
    .unwrap();
    call(
        s,
        "reset_password",
        json!({"token": late_token, "new_password": NEW}),
    )
    .expect_error(401, "PT401", BAD_TOKEN);
    logged_in(&login(s, &s.postgrest_url, LATE, OLD, &[]));

    // A password the policy refuses (auth.password_min_length, 8): 400, and the token still works.
    const WEAK: &str = "reset-weak";
    const WEAK_EMAIL: &str = "weak.password@example.com";
    add_user_with_email(&mut db, WEAK, OLD, Some(WEAK_EMAIL));
    call(
        s,
        "request_password_reset",
        json!({"username_or_email": WEAK_EMAIL}),
    )
    .expect(204);
    let weak_token = token_of(&sink.wait_for(WEAK_EMAIL, MAIL_WAIT), "Reset your password");
    let r = call(
        s,
        "reset_password",
        json!({"token": weak_token, "new_password": "short"}),
    );
    r.expect(400);
    assert_eq!(r.json()["code"], "22023", "{r}");
    assert!(
        !r.body.contains(&weak_token) && !r.body.contains("\"short\""),
        "{r}"
    );
    logged_in(&login(s, &s.postgrest_url, WEAK, OLD, &[]));
    let r = call(
        s,
        "reset_password",
        json!({"token": weak_token, "new_password": NEW}),
    );
    r.expect(200);
    assert_eq!(r.json()["username"], WEAK, "{r}");
    logged_in(&login(s, &s.postgrest_url, WEAK, NEW, &[]));

    // Malformed calls.
    call(
        s,
        "reset_password",
        json!({"token": null, "new_password": NEW}),
    )
    .expect(400);
    call(
        s,
        "request_password_reset",
        json!({"username_or_email": null}),
    )
    .expect(400);

    // Per client address (auth.client_ip_header): past auth.max_account_requests_per_ip requests
    // within auth.lockout_window, 429 with Retry-After; another address is not concerned.
    let mut settings = SystemSettings::new(s);
    settings.set(&[
        ("auth.client_ip_header", "x-forwarded-for"),
        ("auth.max_account_requests_per_ip", "2"),
    ]);
    let from = |ip: &str| {
        rpc(
            s,
            &s.postgrest_url,
            "request_password_reset",
            &[("X-Forwarded-For", ip)],
            &json!({ "username_or_email": UNKNOWN }),
        )
    };
    from("203.0.113.7").expect(204);
    from("203.0.113.7").expect(204);
    let r = from("203.0.113.7");
    r.expect_error(429, "PT429", "Too many requests, try again later");
    let retry: u64 = r
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("Retry-After in {r}"));
    assert!((1..=900).contains(&retry), "{r}");
    from("203.0.113.8").expect(204);
    drop(settings);

    assert_no_token_logged(&mailer, &[&token, &late_token, &weak_token]);
    mailer.assert_alive();
}

pub fn email_verification_request(s: &mut Stack) {
    let mut db = s.db();
    mailer_role(&mut db);
    const USER: &str = "verify-later";
    const EMAIL: &str = "verify.later@example.com";
    const PASSWORD: &str = "verify later password";
    const NO_EMAIL: &str = "verify-no-address";
    add_user_with_email(&mut db, USER, PASSWORD, Some(EMAIL));
    add_user_with_email(&mut db, NO_EMAIL, PASSWORD, None);

    // Anonymous: refused, nothing queued.
    call(s, "request_email_verification", json!({})).expect_error(401, "PT401", "Not logged in");
    assert_eq!(outbox_rows(&mut db, USER, "email_verification"), 0);

    // With the access token as bearer: 204 and a row; again with the cookie through Caddy within
    // 60 s: 204 (logged in, not refused) and nothing new.
    let session = logged_in(&login(s, &s.postgrest_url, USER, PASSWORD, &[]));
    let r = rpc(
        s,
        &s.postgrest_url,
        "request_email_verification",
        &[("Authorization", &bearer(&session.access))],
        &json!({}),
    );
    r.expect(204);
    assert_eq!(outbox_rows(&mut db, USER, "email_verification"), 1);
    let r = rpc(
        s,
        &s.caddy_url,
        "request_email_verification",
        &[("Cookie", &format!("access_token={}", session.access))],
        &json!({}),
    );
    r.expect(204);
    assert_eq!(outbox_rows(&mut db, USER, "email_verification"), 1);

    // A user without an address: 400.
    let bare = logged_in(&login(s, &s.postgrest_url, NO_EMAIL, PASSWORD, &[]));
    rpc(
        s,
        &s.postgrest_url,
        "request_email_verification",
        &[("Authorization", &bearer(&bare.access))],
        &json!({}),
    )
    .expect_error(400, "22023", "No email address to verify");

    // Over GET (a read-only transaction): 405, nothing queued.
    let rows = int(&mut db, "SELECT count(*) FROM auth.outbox", &[]);
    for path in [
        "/rpc/request_password_reset?username_or_email=verify-later",
        "/rpc/signup?username=by-get&password=by-get-password&email=get@example.com",
        "/rpc/verify_email?token=AAAA",
        "/rpc/reset_password?token=AAAA&new_password=by-get-password",
    ] {
        let r = s.http.get(&pgrst(s, path), &[("Accept-Profile", "auth")]);
        r.expect(405);
        assert_eq!(r.json()["code"], "25006", "{r}");
    }
    let auth = bearer(&session.access);
    let r = s.http.get(
        &pgrst(s, "/rpc/request_email_verification"),
        &[("Accept-Profile", "auth"), ("Authorization", &auth)],
    );
    r.expect(405);
    assert_eq!(r.json()["code"], "25006", "{r}");
    assert_eq!(int(&mut db, "SELECT count(*) FROM auth.outbox", &[]), rows);

    // Two mailers on one outbox (FOR UPDATE SKIP LOCKED): the verification mail and a burst of
    // reset mails, each sent exactly once. The first message queued goes to an address the SMTP
    // server refuses: it stays pending (its token kept for a retry) and holds up nothing.
    const BOUNCE: &str = "verify-bounce";
    const BOUNCE_EMAIL: &str = "no.such.mailbox@example.com";
    add_user_with_email(&mut db, BOUNCE, PASSWORD, Some(BOUNCE_EMAIL));
    call(
        s,
        "request_password_reset",
        json!({ "username_or_email": BOUNCE }),
    )
    .expect(204);
    let burst: Vec<(String, String)> = (0..6)
        .map(|i| (format!("burst-{i}"), format!("burst.{i}@example.com")))
        .collect();
    for (user, email) in &burst {
        add_user_with_email(&mut db, user, PASSWORD, Some(email));
    }
    let sink = SmtpSink::refusing(&[BOUNCE_EMAIL]);
    let mut first = Mailer::start(s, "mailer-one", MAILER_ROLE, &sink);
    let mut second = Mailer::start(s, "mailer-two", MAILER_ROLE, &sink);
    let handles: Vec<_> = burst
        .iter()
        .map(|(user, _)| user.clone())
        .map(|user| {
            let http = s.http.clone();
            let url = pgrst(s, "/rpc/request_password_reset");
            thread::spawn(move || {
                http.post_json(
                    &url,
                    &[("Content-Profile", "auth")],
                    &json!({ "username_or_email": user }).to_string(),
                )
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap().expect(204);
    }
    let mail = sink.wait_for(EMAIL, MAIL_WAIT);
    let token = token_of(&mail, "Confirm your email address");
    let mut tokens = vec![token.clone()];
    for (user, email) in &burst {
        tokens.push(token_of(
            &sink.wait_for(email, MAIL_WAIT),
            "Reset your password",
        ));
        wait_consumed(&mut db, user);
    }
    wait_consumed(&mut db, USER);
    // Give a duplicate time to show up, then count.
    thread::sleep(Duration::from_millis(300));
    for email in burst.iter().map(|(_, e)| e.as_str()).chain([EMAIL]) {
        assert_eq!(sink.count_to(email), 1, "mails to {email}");
    }
    let lines = |m: &Mailer, end: &str| m.output().lines().filter(|l| l.ends_with(end)).count();
    assert!(
        lines(&first, ": sent") + lines(&second, ": sent") >= 7,
        "{}\n{}",
        first.output(),
        second.output()
    );
    assert!(
        lines(&first, "not sent (SMTPRecipientsRefused)")
            + lines(&second, "not sent (SMTPRecipientsRefused)")
            >= 1,
        "{}\n{}",
        first.output(),
        second.output()
    );
    assert_eq!(sink.count_to(BOUNCE_EMAIL), 0);
    assert_eq!(
        int(
            &mut db,
            "SELECT count(*) FROM auth.outbox WHERE username = $1 AND NOT consumed AND token IS NOT NULL",
            &[&BOUNCE]
        ),
        1,
        "the refused message stays pending"
    );

    // The mailed token verifies the address; another request then (its 60 s moved back) is 204 and
    // queues nothing.
    let r = call(s, "verify_email", json!({ "token": token }));
    r.expect(200);
    assert_eq!(r.json()["email"], EMAIL, "{r}");
    db.batch_execute(&format!(
        "UPDATE auth.one_time_tokens SET created_at = created_at - interval '2 minutes'
             WHERE username = '{USER}';
         UPDATE auth.outbox SET at = at - interval '2 minutes' WHERE username = '{USER}';"
    ))
    .unwrap();
    rpc(
        s,
        &s.postgrest_url,
        "request_email_verification",
        &[("Authorization", &bearer(&session.access))],
        &json!({}),
    )
    .expect(204);
    assert_eq!(outbox_rows(&mut db, USER, "email_verification"), 1);

    let bounce_token = text(
        &mut db,
        "SELECT token FROM auth.outbox WHERE username = $1",
        &[&BOUNCE],
    );
    tokens.push(bounce_token);
    let refs: Vec<&str> = tokens.iter().map(String::as_str).collect();
    assert_no_token_logged(&first, &refs);
    assert_no_token_logged(&second, &refs);
    first.assert_alive();
    second.assert_alive();
    // No message left pending for later scenarios' mailers.
    db.execute("DELETE FROM auth.users WHERE username = $1", &[&BOUNCE])
        .unwrap();
}
