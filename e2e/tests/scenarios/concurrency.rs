//! Concurrency against the scratch cluster, from many connections at once (each call replays the
//! transaction PostgREST runs, see e2e::db::postgrest_call), plus one race over HTTP:
//! - N concurrent refreshes of one refresh token: at most one live successor; the others get the
//!   documented grace answer (an access token, no refresh token); reuse after the grace window
//!   revokes the session;
//! - N concurrent logins of one user: N independent sessions; N concurrent wrong guesses are
//!   throttled exactly at auth.max_failed_logins, the same for an unknown user;
//! - revocation racing with use: API token revoked while requests fly (HTTP), logout racing a
//!   refresh, an API key disabled while it is being exchanged.

use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use e2e::db::{postgrest_call, Outcome, PgAddr, RequestCtx};
use e2e::jwt_claims;
use e2e::stack::{Stack, ANON};
use postgres::Client;
use serde_json::Value;

use super::common::*;

const N: usize = 8;

/// Runs `f(i, client)` on N threads, each with its own connection, released together.
fn race<T: Send + 'static>(
    pg: &PgAddr,
    n: usize,
    f: impl Fn(usize, &mut Client) -> T + Send + Sync + 'static,
) -> Vec<T> {
    let clients: Vec<Client> = (0..n).map(|_| pg.connect("postgres")).collect();
    let barrier = Arc::new(Barrier::new(n));
    let f = Arc::new(f);
    let handles: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(i, mut c)| {
            let b = barrier.clone();
            let f = f.clone();
            thread::spawn(move || {
                b.wait();
                f(i, &mut c)
            })
        })
        .collect();
    handles
        .into_iter()
        .map(|h| h.join().expect("a racing thread panicked"))
        .collect()
}

fn login(c: &mut Client, user: &str, password: &str, ctx: RequestCtx) -> Outcome {
    postgrest_call(c, &ctx, ANON, "auth.login($1, $2)", &[&user, &password])
}

fn refresh(c: &mut Client, token: &str, ctx: RequestCtx) -> Outcome {
    postgrest_call(
        c,
        &ctx.cookie("refresh_token", token),
        ANON,
        "auth.refresh_token()",
        &[],
    )
}

/// A successful login's (access token, refresh token, sid).
#[track_caller]
fn logged_in(o: &Outcome) -> (String, String, String) {
    assert_eq!((o.status, &o.error), (200, &None), "login failed: {o:?}");
    let access = o.set_cookie("access_token").expect("access cookie").value;
    let refresh = o.set_cookie("refresh_token").expect("refresh cookie").value;
    let sid = jwt_claims(&access)["sid"].as_str().unwrap().to_string();
    (access, refresh, sid)
}

fn add_user(db: &mut Client, user: &str, password: &str) {
    db.execute(
        "INSERT INTO auth.users (username, password, role) VALUES ($1, $2, 'member')",
        &[&user, &password],
    )
    .unwrap();
}

fn anon(function: &str) -> RequestCtx {
    RequestCtx::anon_rpc(ANON, function)
}

/// Whether auth.check_request lets a request with these claims through.
fn passes_check(c: &mut Client, claims: &Value, proxy_secret: &str) -> Result<(), String> {
    let ctx = RequestCtx::anon_rpc(ANON, "whoami")
        .with_claims(claims.clone())
        .header("x-proxy-secret", proxy_secret);
    let o = postgrest_call(c, &ctx, ANON, "true", &[]);
    match o.error {
        None => Ok(()),
        Some((code, msg)) => Err(format!("{code}: {msg}")),
    }
}

fn live_refresh_tokens(db: &mut Client, sid: &str) -> i64 {
    int(
        db,
        "SELECT count(*) FROM auth.refresh_tokens rt JOIN auth.sessions s ON s.id = rt.session_id
         WHERE s.id = $1::text::uuid AND rt.spent_at IS NULL AND s.revoked_at IS NULL",
        &[&sid],
    )
}

fn session_revoked(db: &mut Client, sid: &str) -> bool {
    db.query_one(
        "SELECT revoked_at IS NOT NULL FROM auth.sessions WHERE id = $1::text::uuid",
        &[&sid],
    )
    .unwrap()
    .get(0)
}

pub fn concurrent_refresh(s: &mut Stack) {
    let mut db = s.db();
    add_user(&mut db, "racer", "racer password");
    let (_, token, sid) = logged_in(&login(&mut db, "racer", "racer password", anon("login")));

    // N refreshes of one token at once, within the grace window (auth.refresh_reuse_interval,
    // 10 s by default): exactly one rotates it; the others wait for its row lock, see it spent,
    // and get a fresh access token without a refresh token.
    let t = token.clone();
    let outcomes = race(&s.pg, N, move |_, c| refresh(c, &t, anon("refresh_token")));
    let successors: Vec<String> = outcomes
        .iter()
        .filter_map(|o| o.set_cookie("refresh_token").map(|c| c.value))
        .collect();
    assert_eq!(successors.len(), 1, "exactly one successor: {outcomes:#?}");
    let successor = successors[0].clone();
    assert!(!successor.is_empty() && successor != token);
    for o in &outcomes {
        assert_eq!((o.status, &o.error), (200, &None), "{o:?}");
        let access = o
            .set_cookie("access_token")
            .expect("every answer has an access token");
        assert_eq!(jwt_claims(&access.value)["sid"], sid.as_str());
    }
    assert_eq!(
        live_refresh_tokens(&mut db, &sid),
        1,
        "one live refresh token in the session"
    );

    // The successor works (and rotates again).
    let o = refresh(&mut db, &successor, anon("refresh_token"));
    let next = o
        .set_cookie("refresh_token")
        .unwrap_or_else(|| panic!("the successor refreshes: {o:?}"))
        .value;
    assert_eq!(live_refresh_tokens(&mut db, &sid), 1);

    // Reuse of the first token after the grace window (0 s here): the whole session is revoked,
    // the answer is 401 and clears the cookies, and the live token dies with the session.
    let o = refresh(
        &mut db,
        &token,
        anon("refresh_token").setting("auth.refresh_reuse_interval", "0"),
    );
    assert_eq!(o.status, 401, "{o:?}");
    assert_eq!(
        o.error, None,
        "answered, not raised, so that the revocation commits"
    );
    assert_eq!(o.body["message"], "Invalid or expired refresh token");
    assert_eq!(
        o.set_cookie("refresh_token").unwrap().attr("max-age"),
        Some("0")
    );
    assert!(session_revoked(&mut db, &sid), "reuse revokes the session");
    let o = refresh(&mut db, &next, anon("refresh_token"));
    assert_eq!(
        o.status, 401,
        "the live token of a revoked session is refused: {o:?}"
    );

    // Without a grace window, N at once: still one successor at most; a late racer is reuse and
    // revokes the session, so the successor ends up dead too. (A racer whose transaction began
    // before the winner's rotation counts as within the window and gets an access token only.)
    let (_, token, sid) = logged_in(&login(&mut db, "racer", "racer password", anon("login")));
    let t = token.clone();
    let outcomes = race(&s.pg, N, move |_, c| {
        refresh(
            c,
            &t,
            anon("refresh_token").setting("auth.refresh_reuse_interval", "0"),
        )
    });
    let winners: Vec<&Outcome> = outcomes
        .iter()
        .filter(|o| {
            o.set_cookie("refresh_token")
                .is_some_and(|c| !c.value.is_empty())
        })
        .collect();
    assert_eq!(winners.len(), 1, "one rotation: {outcomes:#?}");
    let refused = outcomes.iter().filter(|o| o.status == 401).count();
    for o in &outcomes {
        assert!(
            o.error.is_none() && (o.status == 200 || o.status == 401),
            "{o:?}"
        );
    }
    assert_eq!(
        session_revoked(&mut db, &sid),
        refused > 0,
        "a detected reuse (401) revokes the session, nothing else does"
    );
    let successor = winners[0].set_cookie("refresh_token").unwrap().value;
    let o = refresh(&mut db, &successor, anon("refresh_token"));
    assert_eq!(o.status, if refused > 0 { 401 } else { 200 }, "{o:?}");
    assert!(live_refresh_tokens(&mut db, &sid) <= 1);
}

pub fn concurrent_logins(s: &mut Stack) {
    let mut db = s.db();
    add_user(&mut db, "crowd", "crowd password");
    let outcomes = race(&s.pg, N, |_, c| {
        login(c, "crowd", "crowd password", anon("login"))
    });
    let sessions: Vec<(String, String, String)> = outcomes.iter().map(logged_in).collect();
    let mut sids: Vec<&str> = sessions.iter().map(|(_, _, sid)| sid.as_str()).collect();
    sids.sort();
    sids.dedup();
    assert_eq!(sids.len(), N, "N logins, N sessions");
    let mut refresh_tokens: Vec<&str> = sessions.iter().map(|(_, r, _)| r.as_str()).collect();
    refresh_tokens.sort();
    refresh_tokens.dedup();
    assert_eq!(refresh_tokens.len(), N, "N distinct refresh tokens");
    assert_eq!(
        int(
            &mut db,
            "SELECT count(*) FROM auth.sessions WHERE username = 'crowd' AND revoked_at IS NULL",
            &[]
        ),
        N as i64
    );
    // Each session is independent: refreshing one leaves the others alone.
    for (_, r, sid) in &sessions {
        let o = refresh(&mut db, r, anon("refresh_token"));
        assert!(
            o.set_cookie("refresh_token")
                .is_some_and(|c| !c.value.is_empty()),
            "{o:?}"
        );
        assert_eq!(live_refresh_tokens(&mut db, sid), 1);
    }

    // N wrong guesses at once, for an existing and for an unknown user: exactly
    // auth.max_failed_logins (5) get 401, the rest 429 with Retry-After, whoever comes first.
    add_user(&mut db, "guessme", "the real password");
    let mut per_user = Vec::new();
    for user in ["guessme", "ghost-user"] {
        let outcomes = race(&s.pg, N, move |_, c| {
            login(c, user, "a wrong guess", anon("login"))
        });
        let mut statuses: Vec<u16> = outcomes.iter().map(|o| o.status).collect();
        statuses.sort();
        assert_eq!(
            statuses,
            [401, 401, 401, 401, 401, 429, 429, 429],
            "{user}: {outcomes:#?}"
        );
        for o in &outcomes {
            assert!(
                o.error.is_none() && o.set_cookie("access_token").is_none(),
                "{o:?}"
            );
            let message = o.body["message"].as_str().unwrap();
            if o.status == 429 {
                assert_eq!(message, "Too many failed logins, try again later");
                let retry: i64 = o
                    .headers
                    .iter()
                    .find(|(k, _)| k == "Retry-After")
                    .map(|(_, v)| v.parse().unwrap())
                    .unwrap_or_else(|| panic!("429 has Retry-After: {o:?}"));
                // Seconds until the window (900 s) frees an attempt; under contention the
                // transaction-start clock can make it one more.
                assert!((1..=901).contains(&retry), "Retry-After {retry}");
            } else {
                assert_eq!(message, "Invalid user or password");
            }
        }
        per_user.push(statuses);
    }
    assert_eq!(
        per_user[0], per_user[1],
        "throttling does not reveal whether a user exists"
    );
    // Throttled means throttled: the right password gets 429 too, until the window passes (1 s
    // here, set for these transactions as a superuser would with ALTER ROLE ... SET).
    let o = login(&mut db, "guessme", "the real password", anon("login"));
    assert_eq!(o.status, 429, "{o:?}");
    thread::sleep(Duration::from_millis(1100));
    let o = login(
        &mut db,
        "guessme",
        "the real password",
        anon("login").setting("auth.lockout_window", "1"),
    );
    logged_in(&o);
}

pub fn revocation_races(s: &mut Stack) {
    let mut db = s.db();

    // (1) An API token revoked while requests fly over HTTP: every request that starts after the
    // revocation committed gets 401, every one that ended before it began got 200, and no thread
    // sees a 200 after a 401.
    let token = text(
        &mut db,
        "SELECT auth.create_api_token('racing', 'tokenauthed', NULL, '{\"sub\": \"org-a\"}')",
        &[],
    );
    let tid = jwt_claims(&token)["tid"].as_str().unwrap().to_string();
    let revoked_at: Arc<std::sync::OnceLock<(Instant, Instant)>> = Arc::default();
    let url = pgrst(s, "/contact?select=id");
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let (http, url, token, secret, revoked_at) = (
                s.http.clone(),
                url.clone(),
                token.clone(),
                s.proxy_secret.clone(),
                revoked_at.clone(),
            );
            thread::spawn(move || {
                let auth = bearer(&token);
                let mut seen = Vec::new();
                let deadline = Instant::now() + Duration::from_secs(10);
                let mut after = 0;
                while after < 5 && Instant::now() < deadline && seen.len() < 20_000 {
                    let start = Instant::now();
                    let r = http.get(
                        &url,
                        &[("Authorization", &auth), ("X-Proxy-Secret", &secret)],
                    );
                    let end = Instant::now();
                    if revoked_at.get().is_some_and(|(_, done)| start > *done) {
                        after += 1;
                    }
                    seen.push((start, end, r.status));
                }
                seen
            })
        })
        .collect();
    thread::sleep(Duration::from_millis(200));
    let begin = Instant::now();
    db.execute("SELECT auth.revoke_api_token($1::text::uuid)", &[&tid])
        .unwrap();
    revoked_at.set((begin, Instant::now())).unwrap();
    let (begin, done) = *revoked_at.get().unwrap();
    let (mut before, mut after) = (0, 0);
    for h in handles {
        let seen = h.join().unwrap();
        let mut refused = false;
        for (start, end, status) in seen {
            assert!(status == 200 || status == 401, "{status}");
            if refused {
                assert_eq!(status, 401, "a 200 after a 401: revocation must stick");
            }
            refused |= status == 401;
            if start > done {
                assert_eq!(
                    status, 401,
                    "a request started after the revocation got through"
                );
                after += 1;
            }
            if end < begin {
                assert_eq!(status, 200, "a request before the revocation was refused");
                before += 1;
            }
        }
    }
    assert!(
        before > 0 && after >= 4,
        "the race ran on both sides ({before} before, {after} after)"
    );

    // (2) Logout racing a refresh of the same session, 10 times: whichever wins, the session ends
    // revoked, the access token is refused and no refresh token of it works.
    add_user(&mut db, "leaver", "leaver password");
    for round in 0..10 {
        let (access, token, sid) =
            logged_in(&login(&mut db, "leaver", "leaver password", anon("login")));
        let claims = jwt_claims(&access);
        let (t, c) = (token.clone(), claims.clone());
        let outcomes = race(&s.pg, 2, move |i, client| {
            if i == 0 {
                refresh(client, &t, anon("refresh_token"))
            } else {
                let ctx = anon("logout")
                    .with_claims(c.clone())
                    .cookie("refresh_token", &t);
                postgrest_call(client, &ctx, ANON, "auth.logout()", &[])
            }
        });
        assert_eq!(
            outcomes[1].error, None,
            "logout succeeds: {:?}",
            outcomes[1]
        );
        assert!(
            session_revoked(&mut db, &sid),
            "round {round}: session revoked"
        );
        if let Some(successor) = outcomes[0]
            .set_cookie("refresh_token")
            .filter(|c| !c.value.is_empty())
        {
            let o = refresh(&mut db, &successor.value, anon("refresh_token"));
            assert_eq!(
                o.status, 401,
                "round {round}: a successor outlived the logout: {o:?}"
            );
        }
        assert_eq!(
            passes_check(&mut db, &claims, &s.proxy_secret),
            Err("PT401: session ended: log in again".to_string()),
            "round {round}"
        );
    }

    // (3) An API key disabled while it is being exchanged: after the disable commits, no JWT ever
    // obtained from it passes auth.check_request, and new exchanges are refused.
    let key = text(
        &mut db,
        "SELECT auth.create_api_key('web_paid', 'pro')",
        &[],
    );
    let secret = s.proxy_secret.clone();
    let k = key.clone();
    let exchanging = {
        let pg = s.pg.clone();
        thread::spawn(move || {
            let mut c = pg.connect("postgres");
            let mut tokens = Vec::new();
            let mut refused = 0;
            for _ in 0..400 {
                let ctx = anon("exchange_api_key")
                    .header("x-api-key", &k)
                    .header("x-proxy-secret", &secret);
                let o = postgrest_call(&mut c, &ctx, ANON, "auth.exchange_api_key()", &[]);
                match o.error {
                    None => tokens.push(o.body["access_token"].as_str().unwrap().to_string()),
                    Some((code, msg)) => {
                        assert_eq!((code.as_str(), msg.as_str()), ("PT401", "Invalid API key"));
                        refused += 1;
                        if refused >= 5 {
                            break;
                        }
                    }
                }
            }
            (tokens, refused)
        })
    };
    thread::sleep(Duration::from_millis(150));
    db.execute(
        "SELECT auth.disable_api_key(id) FROM auth.api_keys WHERE key_hash = sha256(convert_to($1, 'UTF8'))",
        &[&key],
    )
    .unwrap();
    let (tokens, refused) = exchanging.join().unwrap();
    assert!(
        !tokens.is_empty() && refused >= 5,
        "{} exchanged, {refused} refused",
        tokens.len()
    );
    for t in &tokens {
        assert_eq!(
            passes_check(&mut db, &jwt_claims(t), &s.proxy_secret),
            Err("PT401: API key disabled, expired or unknown".to_string())
        );
    }
}
