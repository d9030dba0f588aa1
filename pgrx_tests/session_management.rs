//! Sessions as users and operators see them: what a session records (user agent, client
//! address, method, last_seen_at), the idle and absolute timeouts in the one liveness rule,
//! `my_sessions`, `end_my_session`, `logout('others')`, throttling by client address, and the
//! audit log (every event, never a secret, never a write in a READ ONLY transaction). Every
//! request goes through the one emulator of PostgREST (`tests.request`, [`Request`]).

use pgrx::prelude::*;

extension_sql!(
    r#"
-- Runs `stmt` while this transaction holds session `sid`'s row locked (FOR NO KEY UPDATE, as a
-- refresh in flight does), then releases the lock (the subtransaction rolls back) and returns
-- what `stmt` returned.
CREATE FUNCTION tests.with_session_locked(sid uuid, stmt text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    result text;
BEGIN
    BEGIN
        PERFORM FROM auth.sessions WHERE id = sid FOR NO KEY UPDATE;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'session % is not visible', sid;
        END IF;
        EXECUTE stmt INTO result;
        RAISE SQLSTATE 'TS000';
    EXCEPTION WHEN SQLSTATE 'TS000' THEN
        NULL;
    END;
    RETURN result;
END
$$;
"#,
    name = "tests_session_management",
    requires = ["tests_common"]
);

#[pgrx::pg_schema]
mod tests {
    use crate::pgrx_tests::common::{
        assert_error, hold_committed_rows_lock, lit, one, postgrest_roles, run, text, Request,
        Response,
    };
    use pgrx::prelude::*;
    use serde_json::{json, Value};

    const PASSWORD: &str = "session password 1";
    const NEW_PASSWORD: &str = "session password 2";

    fn count(sql: &str) -> i64 {
        one::<i64>(sql).unwrap_or_else(|| panic!("{sql} returned NULL"))
    }

    fn truth(sql: &str) -> bool {
        one::<bool>(sql).unwrap_or_else(|| panic!("{sql} returned NULL"))
    }

    /// Roles `<tag>_anon` and `<tag>_web` granted by auth.grant_session_access, users `<tag>_a`
    /// and `<tag>_b` with [`PASSWORD`]. Cheap bcrypt.
    fn setup(tag: &str) {
        postgrest_roles(tag, true);
        for u in ["a", "b"] {
            run(&format!(
                "INSERT INTO auth.users (username, password, role) VALUES ('{tag}_{u}', {}, '{tag}_web')",
                lit(PASSWORD)
            ));
        }
    }

    fn anon(tag: &str) -> Request {
        Request::post(&format!("{tag}_anon")).claims(json!({ "role": format!("{tag}_anon") }))
    }

    fn login_with(tag: &str, user: &str, password: &str, headers: Value) -> Response {
        anon(tag)
            .headers(headers)
            .call(&format!(
                "SELECT auth.login({}, {})::text",
                lit(user),
                lit(password)
            ))
            .ok()
    }

    /// A session of `user`: (sid, access token, refresh token).
    struct Session {
        sid: String,
        access: String,
        refresh: String,
    }

    fn login(tag: &str, user: &str, headers: Value) -> Session {
        let r = login_with(tag, user, PASSWORD, headers);
        assert_eq!(r.status, None, "{r:?}");
        let access = r.cookie("access_token").expect("access cookie");
        let claims: Value = serde_json::from_str(&text(&format!(
            "SELECT auth.jwt_verify({})::text",
            lit(&access)
        )))
        .unwrap();
        Session {
            sid: claims["sid"].as_str().unwrap().to_string(),
            access,
            refresh: r.cookie("refresh_token").expect("refresh cookie"),
        }
    }

    /// A request as PostgREST runs it for a client holding `s`'s access token in Authorization.
    fn as_user(tag: &str, s: &Session) -> Request {
        let claims = text(&format!("SELECT auth.jwt_verify({})::text", lit(&s.access)));
        Request::post(&format!("{tag}_web"))
            .claims(claims)
            .headers(json!({ "authorization": format!("Bearer {}", s.access) }))
    }

    fn refresh(tag: &str, token: &str) -> Response {
        anon(tag)
            .cookies(json!({ "refresh_token": token }))
            .call("SELECT auth.refresh_token()::text")
            .ok()
    }

    fn live(sid: &str) -> bool {
        truth(&format!(
            "SELECT auth_private._live(s) FROM auth.sessions s WHERE s.id = '{sid}'"
        ))
    }

    fn ended_reason(sid: &str) -> Option<String> {
        one::<String>(&format!(
            "SELECT ended_reason FROM auth.sessions WHERE id = '{sid}'"
        ))
    }

    fn audit_rows(filter: &str) -> i64 {
        count(&format!(
            "SELECT count(*) FROM auth.audit_log WHERE {filter}"
        ))
    }

    fn my_sessions(req: Request) -> Vec<Value> {
        let r = req
            .call("SELECT coalesce(json_agg(m ORDER BY m.created_at, m.id), '[]')::text FROM auth.my_sessions() m")
            .ok();
        r.body().as_array().unwrap().clone()
    }

    #[pg_test]
    fn session_management_records_agent_address_and_method() {
        setup("smrec");
        // The setting unset: no address, whatever the headers say.
        let s0 = login(
            "smrec",
            "smrec_a",
            json!({ "user-agent": "Browser/1.0", "x-forwarded-for": "203.0.113.7" }),
        );
        let row = |sid: &str| {
            text(&format!(
                "SELECT json_build_array(user_agent, host(client_ip), method, last_seen_at = now(), created_at = now())::text FROM auth.sessions WHERE id = '{sid}'"
            ))
        };
        assert_eq!(
            row(&s0.sid),
            r#"["Browser/1.0", null, "password", true, true]"#
        );

        run("SET LOCAL auth.client_ip_header = 'X-Forwarded-For'");
        // The rightmost element: what the proxy in front appended.
        let s1 = login(
            "smrec",
            "smrec_a",
            json!({ "user-agent": "Browser/2.0", "x-forwarded-for": "10.9.9.9, 203.0.113.7" }),
        );
        assert_eq!(
            row(&s1.sid),
            r#"["Browser/2.0", "203.0.113.7", "password", true, true]"#
        );
        let s2 = login(
            "smrec",
            "smrec_a",
            json!({ "x-forwarded-for": "2001:db8::1" }),
        );
        assert_eq!(
            row(&s2.sid),
            r#"[null, "2001:db8::1", "password", true, true]"#
        );
        // Absent or invalid: NULL, and the login works all the same.
        for headers in [
            json!({}),
            json!({ "x-forwarded-for": "203.0.113.7, not-an-address" }),
            json!({ "x-forwarded-for": "203.0.113.7:443" }),
            json!({ "x-forwarded-for": 7 }),
        ] {
            let s = login("smrec", "smrec_a", headers.clone());
            assert_eq!(
                one::<bool>(&format!(
                    "SELECT client_ip IS NULL FROM auth.sessions WHERE id = '{}'",
                    s.sid
                )),
                Some(true),
                "{headers}"
            );
        }
        // A long user agent is cut to 512 characters.
        let long = "x".repeat(5000);
        let s3 = login("smrec", "smrec_a", json!({ "user-agent": long }));
        assert_eq!(
            count(&format!(
                "SELECT length(user_agent) FROM auth.sessions WHERE id = '{}'",
                s3.sid
            )),
            512
        );

        // Refresh records activity (it writes the row anyway).
        run(&format!(
            "UPDATE auth.sessions SET last_seen_at = now() - interval '10 minutes' WHERE id = '{}'",
            s1.sid
        ));
        assert_eq!(refresh("smrec", &s1.refresh).status, None);
        assert!(truth(&format!(
            "SELECT last_seen_at = now() FROM auth.sessions WHERE id = '{}'",
            s1.sid
        )));
    }

    #[pg_test]
    fn session_management_last_seen_by_the_hook() {
        setup("smseen");
        let s = login("smseen", "smseen_a", json!({}));
        let seen = |sid: &str| {
            text(&format!(
                "SELECT (now() - last_seen_at)::text FROM auth.sessions WHERE id = '{sid}'"
            ))
        };
        let set_seen = |ago: &str| {
            run(&format!(
                "UPDATE auth.sessions SET last_seen_at = now() - interval '{ago}' WHERE id = '{}'",
                s.sid
            ))
        };
        // Seen less than a minute ago: not written again.
        set_seen("30 seconds");
        assert_eq!(as_user("smseen", &s).pre_request(), "ok");
        assert_eq!(seen(&s.sid), "00:00:30");
        // Older: recorded by a read-write request ...
        set_seen("61 seconds");
        assert_eq!(as_user("smseen", &s).pre_request(), "ok");
        assert_eq!(seen(&s.sid), "00:00:00");
        // ... never by a READ ONLY one (GET, HEAD), which still passes.
        set_seen("5 minutes");
        assert_eq!(as_user("smseen", &s).method("GET").pre_request(), "ok");
        assert_eq!(seen(&s.sid), "00:05:00");
    }

    /// The hook never waits for a session row another transaction holds (a refresh in flight):
    /// it passes and leaves last_seen_at to the next request. The user and session are committed
    /// through dblink (rows the bad-input table must not count), and removed at the end.
    #[pg_test]
    fn session_management_last_seen_never_waits_for_a_row_lock() {
        hold_committed_rows_lock();
        run("CREATE EXTENSION IF NOT EXISTS dblink");
        let conn = text("SELECT format('dbname=%s port=%s host=%s', current_database(), current_setting('port'), split_part(current_setting('unix_socket_directories'), ',', 1))");
        let remote = |stmt: &str| {
            text(&format!(
                "SELECT v FROM dblink({}, {}) AS r(v text)",
                lit(&conn),
                lit(stmt)
            ))
        };
        let sid = remote(
            "WITH u AS (INSERT INTO auth.users (username, password, role) VALUES ('smlock_u', 'smlock password', 'pg_monitor') RETURNING username) \
             INSERT INTO auth.sessions (username, expires_at, last_seen_at) SELECT username, now() + interval '1 hour', now() - interval '5 min' FROM u RETURNING id::text",
        );
        let hook = format!(
            "SET lock_timeout = '2s'; SELECT set_config('request.jwt.claims', {}, false), auth.check_request()::text, 'ok'",
            lit(&json!({ "role": "pg_monitor", "sid": sid }).to_string())
        );
        let remote_hook = format!(
            "SELECT r.ok FROM dblink({}, {}) AS r(c text, h text, ok text)",
            lit(&conn),
            lit(&hook)
        );
        // Read in a statement of its own: the hook's statement cannot see its own write.
        let stale = format!(
            "SELECT (now() - last_seen_at >= interval '5 min')::text FROM auth.sessions WHERE id = '{sid}'"
        );
        let while_locked = text(&format!(
            "SELECT tests.with_session_locked('{sid}', {})",
            lit(&remote_hook)
        ));
        let stale_after_locked = remote(&stale);
        // Once the lock is gone, the same request records it.
        let unlocked = text(&remote_hook);
        let stale_after_unlocked = remote(&stale);
        remote("DELETE FROM auth.users WHERE username = 'smlock_u' RETURNING 'x'");
        assert_eq!(while_locked, "ok", "the hook passed without waiting");
        assert_eq!(stale_after_locked, "true", "and skipped the locked row");
        assert_eq!(unlocked, "ok");
        assert_eq!(
            stale_after_unlocked, "false",
            "recorded once the row was free"
        );
    }

    #[pg_test]
    fn session_management_idle_and_absolute_timeouts() {
        setup("smtime");
        // Defaults: both off, so an old, long-idle session lives as in 0.1.0.
        assert_eq!(text("SHOW auth.session_idle_timeout"), "0");
        assert_eq!(text("SHOW auth.session_max_lifetime"), "0");
        let old = login("smtime", "smtime_a", json!({}));
        run(&format!(
            "UPDATE auth.sessions SET created_at = now() - interval '300 days', last_seen_at = now() - interval '20 days' WHERE id = '{}'",
            old.sid
        ));
        assert!(live(&old.sid));
        assert_eq!(as_user("smtime", &old).pre_request(), "ok");

        // Idle timeout: live just before, ended at the deadline, on every path.
        run("SET LOCAL auth.session_idle_timeout = '10min'");
        let s = login("smtime", "smtime_a", json!({}));
        let seen = |ago: i32| {
            run(&format!(
                "UPDATE auth.sessions SET last_seen_at = now() - make_interval(secs => {ago}) WHERE id = '{}'",
                s.sid
            ))
        };
        seen(599);
        assert!(live(&s.sid));
        assert_eq!(as_user("smtime", &s).pre_request(), "ok");
        seen(600);
        assert!(!live(&s.sid));
        assert_eq!(
            as_user("smtime", &s).pre_request(),
            "PT401: session ended: log in again"
        );
        let (state, message) = as_user("smtime", &s)
            .call("SELECT count(*) FROM auth.my_sessions()")
            .failure();
        assert_eq!(
            (state.as_str(), message.as_str()),
            ("PT401", "Not logged in")
        );
        // The hook could not record the end (its refusal rolls back); refresh does, with why.
        assert_eq!(ended_reason(&s.sid), None);
        let r = refresh("smtime", &s.refresh);
        assert_eq!(r.status.as_deref(), Some("401"), "{r:?}");
        assert_eq!(ended_reason(&s.sid).as_deref(), Some("idle_timeout"));
        assert!(truth(&format!(
            "SELECT revoked_at = now() FROM auth.sessions WHERE id = '{}'",
            s.sid
        )));
        assert_eq!(
            audit_rows(&format!(
                "event = 'session_timed_out' AND session_id = '{}' AND detail = '{{\"reason\": \"idle_timeout\"}}'",
                s.sid
            )),
            1
        );
        // Making the timeout longer does not bring an ended session back.
        run("SET LOCAL auth.session_idle_timeout = 0");
        assert!(!live(&s.sid));

        // Absolute lifetime: counted from login, however active.
        run("SET LOCAL auth.session_max_lifetime = '1h'");
        let m = login("smtime", "smtime_a", json!({}));
        run(&format!(
            "UPDATE auth.sessions SET created_at = now() - interval '3599 seconds' WHERE id = '{}'",
            m.sid
        ));
        let m_refresh = refresh("smtime", &m.refresh)
            .cookie("refresh_token")
            .expect("rotated");
        run(&format!(
            "UPDATE auth.sessions SET created_at = now() - interval '3600 seconds' WHERE id = '{}'",
            m.sid
        ));
        assert!(!live(&m.sid));
        assert_eq!(
            as_user("smtime", &m).pre_request(),
            "PT401: session ended: log in again"
        );
        // A spent token in the grace window takes the same rule.
        let r = refresh("smtime", &m.refresh);
        assert_eq!(r.status.as_deref(), Some("401"), "{r:?}");
        assert_eq!(ended_reason(&m.sid).as_deref(), Some("max_lifetime"));
        assert_eq!(refresh("smtime", &m_refresh).status.as_deref(), Some("401"));
        assert_eq!(
            audit_rows(&format!(
                "event = 'session_timed_out' AND session_id = '{}'",
                m.sid
            )),
            1,
            "recorded once"
        );
        // The old session of the start is past the lifetime too.
        assert!(!live(&old.sid));

        // purge_sessions ends what timed out unnoticed, recording why, then purges as before.
        assert_eq!(ended_reason(&old.sid), None);
        run("SELECT auth.purge_sessions()");
        assert_eq!(ended_reason(&old.sid).as_deref(), Some("max_lifetime"));
        assert_eq!(
            audit_rows(&format!(
                "event = 'session_timed_out' AND session_id = '{}'",
                old.sid
            )),
            1
        );

        // Ranges: 0 (off) to the documented maximum; only superusers set them.
        assert_error("SET auth.session_idle_timeout = -1", "22023", "");
        assert_error("SET auth.session_max_lifetime = -1", "22023", "");
        run("CREATE ROLE smtime_plain");
        run("SET LOCAL ROLE smtime_plain");
        assert_error(
            "SET auth.session_idle_timeout = 60",
            "42501",
            "permission denied",
        );
        run("RESET ROLE");
    }

    #[pg_test]
    fn session_management_my_sessions() {
        setup("smmine");
        run("SET LOCAL auth.client_ip_header = 'x-forwarded-for'");
        let a1 = login(
            "smmine",
            "smmine_a",
            json!({ "user-agent": "Phone", "x-forwarded-for": "198.51.100.1" }),
        );
        let a2 = login("smmine", "smmine_a", json!({ "user-agent": "Laptop" }));
        let ended = login("smmine", "smmine_a", json!({}));
        let b1 = login("smmine", "smmine_b", json!({}));
        as_user("smmine", &ended)
            .call("SELECT auth.logout()::text")
            .ok();

        let rows = my_sessions(as_user("smmine", &a1));
        assert_eq!(rows.len(), 2, "live sessions of the caller only: {rows:?}");
        // Logged in within one transaction, so created_at ties: find each by id.
        let row = |sid: &str| {
            rows.iter()
                .find(|r| r["id"] == sid)
                .unwrap_or_else(|| panic!("{sid} not listed: {rows:?}"))
                .clone()
        };
        let (r1, r2) = (row(&a1.sid), row(&a2.sid));
        assert_eq!(r1["current"], true);
        assert_eq!(r2["current"], false);
        assert_eq!(r1["user_agent"], "Phone");
        assert_eq!(r1["client_ip"], "198.51.100.1");
        assert_eq!(r2["client_ip"], Value::Null);
        assert_eq!(r2["user_agent"], "Laptop");
        assert_eq!(r1["method"], "password");
        let mut keys: Vec<&str> = r1.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            vec![
                "client_ip",
                "created_at",
                "current",
                "expires_at",
                "id",
                "last_seen_at",
                "method",
                "user_agent"
            ]
        );
        // No secret in the answer.
        let body = serde_json::to_string(&rows).unwrap();
        for secret in [&a1.access, &a1.refresh, &a2.refresh, &b1.refresh] {
            assert!(!body.contains(secret.as_str()));
        }
        // The other user sees only theirs; over GET too (it writes nothing).
        let rows = my_sessions(as_user("smmine", &b1).method("GET"));
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0]["id"], b1.sid.as_str());

        // Not proven by the caller's own verified token: 401, whatever request.jwt.claims says.
        let claims = text(&format!(
            "SELECT auth.jwt_verify({})::text",
            lit(&a1.access)
        ));
        let refused = [
            Request::post("smmine_web").claims(&claims).headers("{}"),
            as_user("smmine", &ended),
            Request::post("smmine_web")
                .claims(&claims)
                .headers(json!({ "authorization": "Bearer not.a.token" })),
        ];
        for req in refused {
            let (state, message) = req
                .call("SELECT count(*) FROM auth.my_sessions()")
                .failure();
            assert_eq!(
                (state.as_str(), message.as_str()),
                ("PT401", "Not logged in")
            );
        }
        // The anonymous role was not granted it.
        let (state, _) = anon("smmine")
            .call("SELECT count(*) FROM auth.my_sessions()")
            .failure();
        assert_eq!(state, "42501");
    }

    #[pg_test]
    fn session_management_end_my_session() {
        setup("smend");
        let a1 = login("smend", "smend_a", json!({}));
        let a2 = login("smend", "smend_a", json!({}));
        let b1 = login("smend", "smend_b", json!({}));
        let end =
            |req: Request, id: &str| req.call(&format!("SELECT auth.end_my_session({id})::text"));
        let before = |f: &str| audit_rows(f);

        // Another user's session, an unknown id: the same answer as an ended one of mine, nothing
        // ended, nothing recorded.
        let audit_before = before("true");
        for id in [
            format!("'{}'", b1.sid),
            "'00000000-0000-0000-0000-000000000000'".to_string(),
        ] {
            let r = end(as_user("smend", &a1), &id).ok();
            assert_eq!(r.result.as_deref(), Some("false"), "{id}");
        }
        assert!(live(&b1.sid));
        assert_eq!(before("true"), audit_before);

        // One of mine: ended, why recorded, audited; the current session goes on.
        let r = end(as_user("smend", &a1), &format!("'{}'", a2.sid)).ok();
        assert_eq!(r.result.as_deref(), Some("true"));
        assert!(r.set_cookies().is_empty());
        assert!(!live(&a2.sid) && live(&a1.sid));
        assert_eq!(ended_reason(&a2.sid).as_deref(), Some("ended_by_user"));
        assert_eq!(
            before(&format!(
                "event = 'session_ended' AND session_id = '{}' AND username = 'smend_a' AND detail ->> 'by_session' = '{}'",
                a2.sid, a1.sid
            )),
            1
        );
        // Its tokens are refused at once.
        assert_eq!(
            as_user("smend", &a2).pre_request(),
            "PT401: session ended: log in again"
        );
        assert_eq!(refresh("smend", &a2.refresh).status.as_deref(), Some("401"));
        // Ended already: false.
        let r = end(as_user("smend", &a1), &format!("'{}'", a2.sid)).ok();
        assert_eq!(r.result.as_deref(), Some("false"));

        // Refusals, typed, nothing written.
        let audit_before = before("true");
        let (state, message) = end(as_user("smend", &a1), "NULL").failure();
        assert_eq!(
            (state.as_str(), message.as_str()),
            ("22023", "id must not be NULL")
        );
        let (state, _) = end(
            as_user("smend", &a1).method("GET"),
            &format!("'{}'", b1.sid),
        )
        .failure();
        assert_eq!(state, "25006");
        let (state, message) = end(as_user("smend", &a2), &format!("'{}'", a1.sid)).failure();
        assert_eq!(
            (state.as_str(), message.as_str()),
            ("PT401", "Not logged in")
        );
        let (state, _) = end(anon("smend"), &format!("'{}'", a1.sid)).failure();
        assert_eq!(state, "42501");
        assert!(live(&a1.sid) && live(&b1.sid));
        assert_eq!(before("true"), audit_before);

        // The current session itself may be ended.
        let r = end(as_user("smend", &a1), &format!("'{}'", a1.sid)).ok();
        assert_eq!(r.result.as_deref(), Some("true"));
        assert!(!live(&a1.sid));
    }

    #[pg_test]
    fn session_management_logout_others() {
        setup("smoth");
        let a1 = login("smoth", "smoth_a", json!({}));
        let a2 = login("smoth", "smoth_a", json!({}));
        let a3 = login("smoth", "smoth_a", json!({}));
        let b1 = login("smoth", "smoth_b", json!({}));
        let r = as_user("smoth", &a1)
            .call("SELECT auth.logout('others')::text")
            .ok();
        // The current session goes on: its cookies are not cleared.
        assert!(r.set_cookies().is_empty(), "{r:?}");
        assert!(live(&a1.sid));
        assert!(!live(&a2.sid) && !live(&a3.sid));
        assert!(live(&b1.sid));
        assert_eq!(ended_reason(&a2.sid).as_deref(), Some("logout"));
        assert_eq!(
            audit_rows(
                "event = 'logout' AND username = 'smoth_a' AND detail = '{\"scope\": \"others\"}'"
            ),
            2
        );
        assert_eq!(refresh("smoth", &a1.refresh).status, None);
        // A bad scope names the three.
        let (state, message) = as_user("smoth", &a1)
            .call("SELECT auth.logout('all')::text")
            .failure();
        assert_eq!(state, "22023");
        assert_eq!(message, "scope must be 'local', 'global' or 'others'");
    }

    #[pg_test]
    fn session_management_throttling_by_client_address() {
        setup("smip");
        run("SET LOCAL auth.client_ip_header = 'x-forwarded-for'");
        run("SET LOCAL auth.max_failed_logins = 3");
        run("SET LOCAL auth.max_failed_logins_per_ip = 5");
        run("SET LOCAL auth.lockout_window = 60");
        assert_eq!(text("SHOW auth.max_failed_logins_per_ip"), "5");
        let from = |ip: &str| json!({ "x-forwarded-for": format!("10.0.0.1, {ip}") });
        let try_login =
            |user: &str, password: &str, ip: &str| login_with("smip", user, password, from(ip));

        // Three failures of smip_a from one address lock smip_a out from that address only.
        for _ in 0..3 {
            assert_eq!(
                try_login("smip_a", "guess", "192.0.2.1").status.as_deref(),
                Some("401")
            );
        }
        assert_eq!(
            count("SELECT count(*) FROM auth.login_failures WHERE username = 'smip_a' AND client_ip = '192.0.2.1'"),
            3
        );
        let r = try_login("smip_a", PASSWORD, "192.0.2.1");
        assert_eq!(r.status.as_deref(), Some("429"), "{r:?}");
        assert_eq!(r.header("Retry-After").as_deref(), Some("60"));
        assert_eq!(r.message(), "Too many failed logins, try again later");
        assert_eq!(
            audit_rows("event = 'login_throttled' AND username = 'smip_a' AND client_ip = '192.0.2.1' AND detail ->> 'scope' = 'username'"),
            1
        );
        // The user still logs in from elsewhere.
        let r = try_login("smip_a", PASSWORD, "192.0.2.2");
        assert_eq!(r.status, None, "{r:?}");
        // A success clears the failures from its own address only.
        assert_eq!(
            count("SELECT count(*) FROM auth.login_failures WHERE username = 'smip_a'"),
            3
        );
        // Requests without a usable address share one count per username, as without the setting.
        for _ in 0..3 {
            assert_eq!(
                login_with(
                    "smip",
                    "smip_b",
                    "guess",
                    json!({ "x-forwarded-for": "junk" })
                )
                .status
                .as_deref(),
                Some("401")
            );
        }
        assert_eq!(
            login_with("smip", "smip_b", PASSWORD, json!({}))
                .status
                .as_deref(),
            Some("429")
        );

        // Spraying: one password over many usernames from one address. After 5 failures from it
        // (whatever the usernames, existing or not) the address gets 429 for every username, the
        // right password included; other addresses are not affected.
        for user in ["smip_x1", "smip_x2", "smip_x3", "smip_x4", "smip_x5"] {
            assert_eq!(
                try_login(user, "Winter2024!", "198.51.100.9")
                    .status
                    .as_deref(),
                Some("401")
            );
        }
        run("UPDATE auth.login_failures SET failed_at = now() - interval '20 seconds' WHERE client_ip = '198.51.100.9' AND username = 'smip_x1'");
        let r = try_login("smip_b", PASSWORD, "198.51.100.9");
        assert_eq!(r.status.as_deref(), Some("429"), "{r:?}");
        assert_eq!(r.header("Retry-After").as_deref(), Some("40"));
        assert!(r.set_cookies().is_empty());
        assert_eq!(
            audit_rows("event = 'login_throttled' AND username = 'smip_b' AND detail = '{\"scope\": \"client_ip\", \"retry_after\": 40}'"),
            1
        );
        assert_eq!(try_login("smip_b", PASSWORD, "198.51.100.10").status, None);
        // Throttled attempts are not counted; once the oldest leaves the window, one more.
        assert_eq!(
            count("SELECT count(*) FROM auth.login_failures WHERE client_ip = '198.51.100.9'"),
            5
        );
        run("UPDATE auth.login_failures SET failed_at = now() - interval '60 seconds' WHERE client_ip = '198.51.100.9' AND username = 'smip_x1'");
        assert_eq!(try_login("smip_b", PASSWORD, "198.51.100.9").status, None);

        // change_password shares both counts.
        let s = login("smip", "smip_a", from("203.0.113.50"));
        for _ in 0..3 {
            let r = as_user("smip", &s)
                .headers(json!({ "authorization": format!("Bearer {}", s.access), "x-forwarded-for": "203.0.113.50" }))
                .call("SELECT auth.change_password('wrong guess', 'whatever else')::text")
                .ok();
            assert_eq!(r.status.as_deref(), Some("401"));
        }
        let r = try_login("smip_a", PASSWORD, "203.0.113.50");
        assert_eq!(r.status.as_deref(), Some("429"));
        // The setting's range.
        assert_error("SET auth.max_failed_logins_per_ip = 0", "22023", "");
    }

    /// Every event the log documents, each recorded once with its fields, and none of the
    /// passwords, tokens or keys used anywhere in the log.
    #[pg_test]
    fn session_management_audit_log_events_and_no_secrets() {
        setup("smaud");
        run("SET LOCAL auth.client_ip_header = 'x-forwarded-for'");
        run("SET LOCAL auth.tokens_in_body = on");
        let mut secrets: Vec<String> = vec![PASSWORD.into(), NEW_PASSWORD.into()];
        let headers = json!({ "user-agent": "AuditAgent/1", "x-forwarded-for": "192.0.2.44" });

        // Logins: failed (known and unknown user), succeeded, throttled.
        assert_eq!(
            login_with("smaud", "smaud_a", "wrong password 1", headers.clone())
                .status
                .as_deref(),
            Some("401")
        );
        assert_eq!(
            login_with("smaud", "smaud_nobody", "wrong password 2", headers.clone())
                .status
                .as_deref(),
            Some("401")
        );
        secrets.extend(["wrong password 1".into(), "wrong password 2".into()]);
        let s1 = login("smaud", "smaud_a", headers.clone());
        let s2 = login("smaud", "smaud_a", headers.clone());
        run("SET LOCAL auth.max_failed_logins = 1");
        assert_eq!(
            login_with("smaud", "smaud_nobody", PASSWORD, headers.clone())
                .status
                .as_deref(),
            Some("429")
        );
        run("RESET auth.max_failed_logins");

        // Refresh, the grace answer, reuse.
        let r = refresh("smaud", &s1.refresh);
        let t1 = r.cookie("refresh_token").unwrap();
        secrets.push(r.cookie("access_token").unwrap());
        refresh("smaud", &s1.refresh);
        run(&format!(
            "UPDATE auth.refresh_tokens SET spent_at = now() - interval '1 hour' WHERE token_hash = sha256(convert_to({}, 'UTF8'))",
            lit(&s1.refresh)
        ));
        assert_eq!(refresh("smaud", &s1.refresh).status.as_deref(), Some("401"));
        secrets.extend([s1.access.clone(), s1.refresh.clone(), t1]);

        // Logout, password change (failed and done), sessions revoked by an administrator,
        // a session ended by its user, a timeout.
        let s3 = login("smaud", "smaud_a", headers.clone());
        let s4 = login("smaud", "smaud_a", headers.clone());
        as_user("smaud", &s2)
            .call("SELECT auth.logout()::text")
            .ok();
        let r = as_user("smaud", &s3)
            .call(&format!(
                "SELECT auth.change_password('not it', {})::text",
                lit(NEW_PASSWORD)
            ))
            .ok();
        assert_eq!(r.status.as_deref(), Some("401"));
        secrets.push("not it".into());
        let s5 = login("smaud", "smaud_b", headers.clone());
        let s6 = login("smaud", "smaud_b", headers.clone());
        as_user("smaud", &s5)
            .call(&format!("SELECT auth.end_my_session('{}')::text", s6.sid))
            .ok();
        let r = as_user("smaud", &s3)
            .call(&format!(
                "SELECT auth.change_password({}, {})::text",
                lit(PASSWORD),
                lit(NEW_PASSWORD)
            ))
            .ok();
        assert_eq!(r.status, None, "{r:?}");
        run("SELECT auth.revoke_user_sessions('smaud_b')");
        run("SET LOCAL auth.session_idle_timeout = 600");
        let s7 = login_with("smaud", "smaud_a", NEW_PASSWORD, headers.clone());
        let s7_refresh = s7.cookie("refresh_token").unwrap();
        run(&format!(
            "UPDATE auth.sessions SET last_seen_at = now() - interval '1 hour' WHERE id = (SELECT session_id FROM auth.refresh_tokens WHERE token_hash = sha256(convert_to({}, 'UTF8')))",
            lit(&s7_refresh)
        ));
        refresh("smaud", &s7_refresh);
        run("RESET auth.session_idle_timeout");
        for s in [&s2, &s3, &s4, &s5, &s6] {
            secrets.extend([s.access.clone(), s.refresh.clone()]);
        }
        secrets.extend([s7.cookie("access_token").unwrap(), s7_refresh]);

        // API tokens and keys.
        let api_token = text("SELECT auth.create_api_token('audit token', 'smaud_web')");
        let tid = claims_of(&api_token)["tid"].as_str().unwrap().to_string();
        run(&format!("SELECT auth.revoke_api_token('{tid}')"));
        let key = text("SELECT auth.create_api_key('smaud_web', 'pro', NULL, 'audit key')");
        let key_id = text("SELECT id::text FROM auth.api_keys WHERE name = 'audit key'");
        let exchanged = text(&format!(
            "SELECT auth.exchange_api_key({})::text",
            lit(&key)
        ));
        let exchanged: Value = serde_json::from_str(&exchanged).unwrap();
        run(&format!("SELECT auth.disable_api_key('{key_id}')"));
        run(&format!("SELECT auth.enable_api_key('{key_id}')"));
        run(&format!("SELECT auth.revoke_api_key('{key_id}')"));
        secrets.extend([
            api_token,
            key.clone(),
            exchanged["access_token"].as_str().unwrap().to_string(),
        ]);

        // Signing keys: created, activated (the one before becomes previous), retired, imported.
        let k1 = text("SELECT auth.create_signing_key('ES256')");
        run(&format!("SELECT auth.activate_signing_key({})", lit(&k1)));
        let k2 = text("SELECT auth.create_signing_key('HS256')");
        run(&format!("SELECT auth.activate_signing_key({})", lit(&k2)));
        run(&format!("SELECT auth.retire_signing_key({})", lit(&k1)));
        let k3 = text("SELECT auth.create_signing_key('EdDSA')");
        let public = text(&format!(
            "SELECT (k - 'kid')::text FROM jsonb_array_elements((SELECT auth.jwks()) -> 'keys') k WHERE k ->> 'kid' = {}",
            lit(&k3)
        ));
        run(&format!(
            "SELECT auth.import_verification_key({}, 'smaud-imported')",
            lit(&public)
        ));

        // Each event, as documented.
        let expect = [
            ("login_failed", "username = 'smaud_a' AND detail = '{\"user_exists\": true}'".to_string(), 1),
            ("login_failed", "username = 'smaud_nobody' AND detail = '{\"user_exists\": false}'".to_string(), 1),
            ("login_succeeded", format!("session_id = '{}' AND detail = '{{\"method\": \"password\"}}'", s1.sid), 1),
            ("login_throttled", "username = 'smaud_nobody' AND detail ->> 'scope' = 'username'".to_string(), 1),
            ("refresh", format!("session_id = '{}' AND detail = '{{}}'", s1.sid), 1),
            ("refresh", format!("session_id = '{}' AND detail = '{{\"grace\": true}}'", s1.sid), 1),
            ("refresh_reuse_detected", format!("session_id = '{}' AND username = 'smaud_a'", s1.sid), 1),
            ("logout", format!("session_id = '{}' AND detail = '{{\"scope\": \"local\"}}'", s2.sid), 1),
            ("password_change_failed", format!("session_id = '{}'", s3.sid), 1),
            ("password_changed", format!("session_id = '{}' AND detail = '{{\"revoked_sessions\": 1}}'", s3.sid), 1),
            ("session_ended", format!("session_id = '{}'", s6.sid), 1),
            ("sessions_revoked", "username = 'smaud_b' AND detail ->> 'revoked_sessions' = '1' AND detail ? 'by'".to_string(), 1),
            ("session_timed_out", "username = 'smaud_a' AND detail = '{\"reason\": \"idle_timeout\"}'".to_string(), 1),
            ("api_token_created", format!("credential_id = '{tid}' AND detail ->> 'role' = 'smaud_web' AND detail ->> 'name' = 'audit token'"), 1),
            ("api_token_revoked", format!("credential_id = '{tid}'"), 1),
            ("api_key_created", format!("credential_id = '{key_id}' AND detail ->> 'plan' = 'pro'"), 1),
            ("api_key_exchanged", format!("credential_id = '{key_id}'"), 1),
            ("api_key_disabled", format!("credential_id = '{key_id}'"), 1),
            ("api_key_enabled", format!("credential_id = '{key_id}'"), 1),
            ("api_key_revoked", format!("credential_id = '{key_id}'"), 1),
            ("signing_key_created", format!("detail ->> 'kid' = {} AND detail ->> 'alg' = 'ES256'", lit(&k1)), 1),
            ("signing_key_activated", format!("detail ->> 'kid' = {} AND detail ->> 'previous_kid' = {}", lit(&k2), lit(&k1)), 1),
            ("signing_key_retired", format!("detail ->> 'kid' = {} AND detail ->> 'from_state' = 'previous'", lit(&k1)), 1),
            ("verification_key_imported", "detail ->> 'kid' = 'smaud-imported'".to_string(), 1),
        ];
        let mut missing = Vec::new();
        for (event, filter, n) in expect {
            let got = audit_rows(&format!("event = '{event}' AND {filter}"));
            if got != n {
                missing.push(format!("{event} where {filter}: {got} rows, expected {n}"));
            }
        }
        assert!(missing.is_empty(), "{}", missing.join("\n"));
        // The request's address and user agent are on the rows of requests.
        assert_eq!(
            audit_rows("event = 'login_succeeded' AND username = 'smaud_a' AND (client_ip IS DISTINCT FROM '192.0.2.44' OR user_agent IS DISTINCT FROM 'AuditAgent/1')"),
            0
        );
        assert!(audit_rows("event = 'login_succeeded'") >= 4);

        // No secret anywhere in the log, in any column.
        let log = text("SELECT string_agg(a::text, E'\\n' ORDER BY a.id) FROM auth.audit_log a");
        for secret in &secrets {
            assert!(
                !log.contains(secret.as_str()),
                "a secret of {} characters is in the audit log",
                secret.len()
            );
        }
        // Nor the stored forms of credentials.
        for (table, column) in [
            ("auth.refresh_tokens", "token_hash"),
            ("auth.api_keys", "key_hash"),
            ("auth.users", "password"),
        ] {
            assert_eq!(
                count(&format!(
                    "SELECT count(*) FROM {table} t, auth.audit_log a WHERE strpos(a::text, encode(t.{column}::bytea, 'hex')) > 0 OR strpos(a::text, t.{column}::text) > 0"
                )),
                0,
                "{table}.{column}"
            );
        }
    }

    fn claims_of(token: &str) -> Value {
        serde_json::from_str(&text(&format!(
            "SELECT auth.jwt_verify({})::text",
            lit(token)
        )))
        .unwrap()
    }

    #[pg_test]
    fn session_management_audit_never_writes_read_only() {
        setup("smro");
        let s = login("smro", "smro_a", json!({}));
        let rows = || count("SELECT count(*) FROM auth.audit_log");
        let before = rows();
        // The helper itself, in a READ ONLY transaction: nothing written, nothing raised.
        let r = Request::sql()
            .method("GET")
            .call("SELECT auth_private._audit('login_failed', 'smro_a')::text")
            .ok();
        assert_eq!(r.error, None);
        assert_eq!(rows(), before);
        // GET of the flows: refused before anything (25006), nothing recorded.
        for (req, call) in [
            (
                anon("smro"),
                format!("auth.login('smro_a', {})", lit(PASSWORD)),
            ),
            (anon("smro"), "auth.login('smro_a', 'wrong')".to_string()),
            (
                anon("smro"),
                format!("auth.refresh_token({})", lit(&s.refresh)),
            ),
            (as_user("smro", &s), "auth.logout('others')".to_string()),
            (
                as_user("smro", &s),
                format!("auth.end_my_session('{}')", s.sid),
            ),
        ] {
            let (state, _) = req
                .method("GET")
                .call(&format!("SELECT ({call})::text"))
                .failure();
            assert_eq!(state, "25006", "{call}");
        }
        // my_sessions and the hook over GET work and write nothing.
        run(&format!(
            "UPDATE auth.sessions SET last_seen_at = now() - interval '5 minutes' WHERE id = '{}'",
            s.sid
        ));
        assert_eq!(my_sessions(as_user("smro", &s).method("GET")).len(), 1);
        assert_eq!(as_user("smro", &s).method("GET").pre_request(), "ok");
        assert_eq!(rows(), before);
        assert!(truth(&format!(
            "SELECT last_seen_at = now() - interval '5 minutes' FROM auth.sessions WHERE id = '{}'",
            s.sid
        )));
        // A refused login over POST commits its failure, its audit row and answers 401.
        let r = login_with("smro", "smro_a", "wrong", json!({}));
        assert_eq!(r.status.as_deref(), Some("401"));
        assert_eq!(rows(), before + 1);
        assert_eq!(
            count("SELECT count(*) FROM auth.login_failures WHERE username = 'smro_a'"),
            1
        );
    }

    #[pg_test]
    fn session_management_audit_retention_and_privileges() {
        setup("smret");
        assert_eq!(text("SHOW auth.audit_retention"), "90d");
        run("INSERT INTO auth.audit_log (at, event) VALUES (now() - interval '91 days', 'smret_old'), (now() - interval '89 days', 'smret_recent')");
        run("SELECT auth.purge_sessions()");
        assert_eq!(audit_rows("event = 'smret_old'"), 0);
        assert_eq!(audit_rows("event = 'smret_recent'"), 1);
        // 0 keeps every row.
        run("SET LOCAL auth.audit_retention = 0");
        run("INSERT INTO auth.audit_log (at, event) VALUES (now() - interval '20 years', 'smret_ancient')");
        run("SELECT auth.purge_sessions()");
        assert_eq!(audit_rows("event = 'smret_ancient'"), 1);
        // Readable by the owner and by roles granted SELECT, by no one else.
        for role in ["smret_anon", "smret_web"] {
            run(&format!("SET LOCAL ROLE {role}"));
            assert_error(
                "SELECT count(*) FROM auth.audit_log",
                "42501",
                "permission denied",
            );
            assert_error(
                "SELECT auth_private._audit('forged')",
                "42501",
                "permission denied",
            );
            run("RESET ROLE");
        }
        run("CREATE ROLE smret_auditor");
        run("GRANT SELECT ON auth.audit_log TO smret_auditor");
        run("SET LOCAL ROLE smret_auditor");
        assert_eq!(audit_rows("event = 'smret_recent'"), 1);
        assert_error(
            "INSERT INTO auth.audit_log (event) VALUES ('forged')",
            "42501",
            "permission denied",
        );
        run("RESET ROLE");
        // Registered for pg_dump, with its identity sequence.
        assert_eq!(
            count("SELECT count(*) FROM pg_extension e, unnest(e.extconfig) c WHERE e.extname = 'auth' AND c IN ('auth.audit_log'::regclass, 'auth.audit_log_id_seq'::regclass)"),
            2
        );
    }

    /// delete_my_account: refusals typed and writing nothing, a wrong password answered 401 and
    /// counted by the throttle (then 429), and the deletion: every session and self-made API token
    /// dead at once for the request hook, an admin's token for the role kept, cookies cleared,
    /// audited. A user cannot delete another.
    #[pg_test]
    fn session_management_delete_my_account() {
        setup("smdel");
        run("GRANT EXECUTE ON FUNCTION auth.create_my_api_token(text, timestamptz, text[]) TO smdel_web");
        let a1 = login("smdel", "smdel_a", json!({}));
        let a2 = login("smdel", "smdel_a", json!({}));
        let b1 = login("smdel", "smdel_b", json!({}));
        let delete = |req: Request, password: &str| {
            req.call(&format!("SELECT auth.delete_my_account({password})::text"))
        };
        let bearer = |token: &str| {
            let claims = text(&format!("SELECT auth.jwt_verify({})::text", lit(token)));
            let role = serde_json::from_str::<Value>(&claims).unwrap()["role"]
                .as_str()
                .unwrap()
                .to_string();
            Request::post(&role)
                .claims(claims)
                .headers(json!({ "authorization": format!("Bearer {token}") }))
        };
        let mine = as_user("smdel", &a1)
            .call("SELECT auth.create_my_api_token('mine', now() + interval '1 day')::text")
            .ok()
            .result
            .unwrap();
        let admins = text("SELECT auth.create_api_token('for the role', 'smdel_web')");
        assert_eq!(bearer(&mine).pre_request(), "ok");
        assert_eq!(bearer(&admins).pre_request(), "ok");
        let users = |name: &str| {
            count(&format!(
                "SELECT count(*) FROM auth.users WHERE username = '{name}'"
            ))
        };

        // Refusals, typed, nothing written: READ ONLY and tx=rollback first (even with no
        // argument), NULL, no proof of who the caller is.
        let audit_before = audit_rows("true");
        let (state, _) = delete(as_user("smdel", &a1).method("GET"), "NULL").failure();
        assert_eq!(state, "25006");
        let (state, _) = delete(
            as_user("smdel", &a1).headers(json!({
                "authorization": format!("Bearer {}", a1.access),
                "prefer": "tx=rollback"
            })),
            &lit(PASSWORD),
        )
        .failure();
        assert_eq!(state, "25006");
        let (state, message) = delete(as_user("smdel", &a1), "NULL").failure();
        assert_eq!(
            (state.as_str(), message.as_str()),
            ("22023", "password must not be NULL")
        );
        let (state, message) = delete(
            Request::post("smdel_web").claims(json!({ "role": "smdel_web", "sub": "smdel_a" })),
            &lit(PASSWORD),
        )
        .failure();
        assert_eq!(
            (state.as_str(), message.as_str()),
            ("PT401", "Not logged in")
        );
        assert_eq!(audit_rows("true"), audit_before);
        assert_eq!(users("smdel_a"), 1);

        // Wrong password: 401 through response.status, recorded, nothing deleted; the throttle
        // then answers 429 with Retry-After, also for the right password.
        run("SET LOCAL auth.max_failed_logins = 2");
        for _ in 0..2 {
            let r = delete(as_user("smdel", &a1), "'not the password'").ok();
            assert_eq!(r.status.as_deref(), Some("401"), "{r:?}");
            assert_eq!(r.body()["message"], "Wrong password");
        }
        assert_eq!(
            audit_rows("event = 'account_delete_failed' AND username = 'smdel_a'"),
            2
        );
        let r = delete(as_user("smdel", &a1), &lit(PASSWORD)).ok();
        assert_eq!(r.status.as_deref(), Some("429"), "{r:?}");
        assert!(r.header("Retry-After").is_some());
        assert_eq!(users("smdel_a"), 1);
        assert!(live(&a1.sid) && live(&a2.sid));
        run("DELETE FROM auth.login_failures WHERE username = 'smdel_a'");

        // Deleted: the user, every session, the self-made token; the admin's token stays.
        let r = delete(as_user("smdel", &a1), &lit(PASSWORD)).ok();
        assert_eq!(r.status, None, "{r:?}");
        assert_eq!(
            r.body(),
            json!({ "username": "smdel_a", "ended_sessions": 2, "deleted_api_tokens": 1 })
        );
        for name in ["access_token", "refresh_token"] {
            let c = r
                .set_cookie(name)
                .unwrap_or_else(|| panic!("{name} cleared"));
            assert!(c.contains("Max-Age=0"), "{c}");
        }
        assert_eq!(users("smdel_a"), 0);
        assert_eq!(
            count("SELECT count(*) FROM auth.sessions WHERE username = 'smdel_a'"),
            0
        );
        assert_eq!(
            count("SELECT count(*) FROM auth.api_tokens WHERE username = 'smdel_a'"),
            0
        );
        assert_eq!(
            as_user("smdel", &a1).pre_request(),
            "PT401: session ended: log in again"
        );
        assert_eq!(
            as_user("smdel", &a2).pre_request(),
            "PT401: session ended: log in again"
        );
        assert_eq!(refresh("smdel", &a2.refresh).status.as_deref(), Some("401"));
        assert_ne!(bearer(&mine).pre_request(), "ok");
        assert_eq!(bearer(&admins).pre_request(), "ok");
        assert_eq!(
            audit_rows(&format!(
                "event = 'account_deleted' AND username = 'smdel_a' AND session_id = '{}' \
                 AND detail = '{{\"by\": \"self\", \"ended_sessions\": 2, \"deleted_api_tokens\": 1}}'",
                a1.sid
            )),
            1
        );
        // The dead token proves nothing now; b is untouched.
        let (state, _) = delete(as_user("smdel", &a1), &lit(PASSWORD)).failure();
        assert_eq!(state, "PT401");
        assert_eq!(users("smdel_b"), 1);
        assert!(live(&b1.sid));
        // b's own token deletes b's own account, and only it.
        let r = delete(as_user("smdel", &b1), &lit(PASSWORD)).ok();
        assert_eq!(r.body()["username"], "smdel_b");
    }

    /// delete_user: for administrators only, typed refusals, false for an unknown user, the
    /// user's sessions and self-made tokens gone, audited with the invoking role.
    #[pg_test]
    fn session_management_delete_user() {
        setup("smdu");
        let a1 = login("smdu", "smdu_a", json!({}));
        let b1 = login("smdu", "smdu_b", json!({}));
        // Not granted to PUBLIC, nor by grant_session_access.
        let (state, _) = as_user("smdu", &b1)
            .call("SELECT auth.delete_user('smdu_a')::text")
            .failure();
        assert_eq!(state, "42501");
        let audit_before = audit_rows("true");
        assert_error(
            "SELECT auth.delete_user(NULL)",
            "22023",
            "username must not be NULL",
        );
        let (state, _) = Request::sql()
            .method("GET")
            .call("SELECT auth.delete_user('smdu_a')::text")
            .failure();
        assert_eq!(state, "25006");
        assert_eq!(
            one::<bool>("SELECT auth.delete_user('smdu_nobody')"),
            Some(false)
        );
        assert_eq!(audit_rows("true"), audit_before);

        run("CREATE ROLE smdu_admin NOLOGIN");
        run("GRANT EXECUTE ON FUNCTION auth.delete_user(text) TO smdu_admin");
        run("SET LOCAL ROLE smdu_admin");
        assert_eq!(one::<bool>("SELECT auth.delete_user('smdu_a')"), Some(true));
        assert_eq!(
            one::<bool>("SELECT auth.delete_user('smdu_a')"),
            Some(false)
        );
        run("RESET ROLE");
        assert_eq!(
            count("SELECT count(*) FROM auth.users WHERE username = 'smdu_a'"),
            0
        );
        assert_eq!(
            count("SELECT count(*) FROM auth.sessions WHERE username = 'smdu_a'"),
            0
        );
        assert_eq!(
            as_user("smdu", &a1).pre_request(),
            "PT401: session ended: log in again"
        );
        assert!(live(&b1.sid));
        assert_eq!(
            audit_rows(
                "event = 'user_deleted' AND username = 'smdu_a' \
                 AND detail ->> 'by' = 'smdu_admin' AND detail ->> 'ended_sessions' = '1'"
            ),
            1
        );
    }
}
