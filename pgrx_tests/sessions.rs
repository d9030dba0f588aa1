//! The session flow as PostgREST drives it: each "request" sets the request.* settings, switches
//! to the role PostgREST would use, calls the function, and reads response.headers and
//! response.status. A browser's curl session end to end, failures, throttling, rotation and reuse
//! detection, expiry, logout scopes, change_password, privileges, and a concurrent refresh from
//! two connections (dblink).

#[pgrx::pg_schema]
mod tests {
    use crate::pgrx_tests::common::{
        assert_error, error_of, hold_committed_rows_lock, lit, one, postgrest_roles, run, text,
        Request, Response,
    };
    use pgrx::prelude::*;
    use serde_json::Value;

    const PASSWORD: &str = "demo password";

    fn count(sql: &str) -> i64 {
        one::<i64>(sql).unwrap_or_else(|| panic!("{sql} returned NULL"))
    }

    /// Roles `<tag>_anon` (PostgREST's anonymous role) and `<tag>_web` (the users' role), granted
    /// with auth.grant_session_access, and user `<tag>_demo` with [`PASSWORD`]. Cheap bcrypt.
    fn setup(tag: &str) -> String {
        postgrest_roles(tag, false);
        // The test helper tests.sqlstate_of lives in schema tests.
        run(&format!(
            "GRANT USAGE ON SCHEMA tests TO {tag}_anon, {tag}_web"
        ));
        add_user(tag, &format!("{tag}_demo"));
        format!("{tag}_demo")
    }

    fn add_user(tag: &str, username: &str) {
        run(&format!(
            "INSERT INTO auth.users (username, password, role) VALUES ({}, {}, '{tag}_web')",
            lit(username),
            lit(PASSWORD)
        ));
    }

    /// One POST request (see [`Request`]): `call` is the SQL expression PostgREST would select;
    /// panics if it raised.
    fn request(role: &str, claims: &str, cookies: &str, call: &str) -> Response {
        request_with_headers(role, claims, cookies, "{}", call)
    }

    fn request_with_headers(
        role: &str,
        claims: &str,
        cookies: &str,
        headers: &str,
        call: &str,
    ) -> Response {
        Request::post(role)
            .claims(claims)
            .cookies(cookies)
            .headers(headers)
            .call(&format!("SELECT ({call})::text"))
            .ok()
    }

    /// The SQLSTATE and message a request fails with (PostgREST rolls it back).
    fn request_error(role: &str, claims: &str, cookies: &str, call: &str) -> (String, String) {
        Request::post(role)
            .claims(claims)
            .cookies(cookies)
            .headers("{}")
            .call(&format!("SELECT ({call})::text"))
            .failure()
    }

    fn anon_claims(tag: &str) -> String {
        format!(r#"{{"role":"{tag}_anon"}}"#)
    }

    fn login(tag: &str, username: &str, password: &str) -> Response {
        request(
            &format!("{tag}_anon"),
            &anon_claims(tag),
            "{}",
            &format!("auth.login({}, {})", lit(username), lit(password)),
        )
    }

    fn refresh_with_cookie(tag: &str, refresh: &str) -> Response {
        request(
            &format!("{tag}_anon"),
            &anon_claims(tag),
            &serde_json::json!({ "refresh_token": refresh }).to_string(),
            "auth.refresh_token()",
        )
    }

    fn verified_claims(token: &str) -> Value {
        one::<pgrx::JsonB>(&format!("SELECT auth.jwt_verify({})", lit(token)))
            .expect("claims")
            .0
    }

    fn session_live(sid: &str) -> bool {
        one::<bool>(&format!(
            "SELECT revoked_at IS NULL AND expires_at > now() FROM auth.sessions WHERE id = '{sid}'"
        ))
        .unwrap_or(false)
    }

    fn sha(token: &str) -> String {
        format!("sha256(convert_to({}, 'UTF8'))", lit(token))
    }

    fn live_refresh_tokens(sid: &str) -> i64 {
        count(&format!(
            "SELECT count(*) FROM auth.refresh_tokens WHERE session_id = '{sid}' AND spent_at IS NULL AND expires_at > now()"
        ))
    }

    fn assert_refused_refresh(r: &Response) {
        assert_eq!(r.status.as_deref(), Some("401"), "{r:?}");
        assert_eq!(r.body()["code"], "PT401");
        assert_eq!(r.message(), "Invalid or expired refresh token");
        assert_eq!(r.cookie("access_token").as_deref(), Some(""), "{r:?}");
        assert_eq!(r.cookie("refresh_token").as_deref(), Some(""), "{r:?}");
    }

    #[pg_test]
    fn sessions_browser_round_trip() {
        let user = setup("s001");
        run("CREATE TABLE tests.s001_task (title text)");
        run("INSERT INTO tests.s001_task VALUES ('write tests')");
        run("GRANT USAGE ON SCHEMA tests TO s001_web");
        run("GRANT SELECT ON tests.s001_task TO s001_web");

        // POST /rpc/login as the anonymous role.
        let r = login("s001", &user, PASSWORD);
        assert_eq!(r.status, None, "200: {r:?}");
        let body = r.body();
        assert_eq!(body["username"], user.as_str());
        assert_eq!(body["role"], "s001_web");
        assert_eq!(body["expires_in"], 3600);
        assert!(
            body.get("access_token").is_none() && body.get("refresh_token").is_none(),
            "no secret in the body by default: {body}"
        );
        assert_eq!(r.header("Cache-Control").as_deref(), Some("no-store"));
        let access = r.cookie("access_token").expect("access cookie");
        let refresh = r.cookie("refresh_token").expect("refresh cookie");
        assert_eq!(
            r.set_cookie("access_token").unwrap(),
            format!("access_token={access}; Path=/; Max-Age=3600; HttpOnly; SameSite=Lax; Secure")
        );
        assert_eq!(
            r.set_cookie("refresh_token").unwrap(),
            format!("refresh_token={refresh}; Path=/rpc/refresh_token; Max-Age=2592000; HttpOnly; SameSite=Lax; Secure")
        );
        assert_eq!(refresh.len(), 43, "256 bits of base64url");

        // The access token: our signature, the documented claims.
        let claims = verified_claims(&access);
        let now = one::<f64>("SELECT extract(epoch from now())::float8").unwrap() as i64;
        assert_eq!(claims["role"], "s001_web");
        assert_eq!(claims["sub"], user.as_str());
        assert_eq!(claims["username"], user.as_str());
        assert_eq!(claims["iat"], now);
        assert_eq!(claims["exp"], now + 3600);
        assert_eq!(body["expires_at"], claims["exp"]);
        let sid = claims["sid"].as_str().expect("sid").to_string();
        assert!(session_live(&sid));
        assert_eq!(
            text(&format!(
                "SELECT username FROM auth.sessions WHERE id = '{sid}'"
            )),
            user
        );
        // The refresh token is stored only as its SHA-256.
        assert_eq!(
            count(&format!(
                "SELECT count(*) FROM auth.refresh_tokens WHERE session_id = '{sid}' AND token_hash = {}",
                sha(&refresh)
            )),
            1
        );

        // GET /rest/task with the cookie's token (the proxy copies it into Authorization;
        // PostgREST verifies it and passes its claims).
        let get = |sql: &str| {
            Request::get("s001_web")
                .claims(&claims)
                .cookies("{}")
                .headers("{}")
                .call(sql)
                .ok()
                .result
        };
        assert_eq!(get("SELECT auth.uid()").as_deref(), Some(user.as_str()));
        assert_eq!(
            get("SELECT title FROM tests.s001_task").as_deref(),
            Some("write tests")
        );

        // POST /rpc/refresh_token with the refresh cookie.
        let r = refresh_with_cookie("s001", &refresh);
        assert_eq!(r.status, None, "{r:?}");
        let access2 = r.cookie("access_token").expect("new access cookie");
        let refresh2 = r.cookie("refresh_token").expect("new refresh cookie");
        assert_ne!(refresh2, refresh);
        let claims2 = verified_claims(&access2);
        assert_eq!(claims2["sid"], sid.as_str(), "same session");
        assert_eq!(claims2["role"], "s001_web");
        assert!(one::<bool>(&format!(
            "SELECT spent_at IS NOT NULL FROM auth.refresh_tokens WHERE token_hash = {}",
            sha(&refresh)
        ))
        .unwrap());
        assert_eq!(live_refresh_tokens(&sid), 1);

        // POST /rpc/logout: public in e2e/conf/Caddyfile, so it runs as the anonymous role and
        // finds the session from the access_token cookie (the refresh cookie's path is elsewhere).
        let r = request(
            "s001_anon",
            &anon_claims("s001"),
            &serde_json::json!({ "access_token": access2 }).to_string(),
            "auth.logout()",
        );
        assert_eq!(r.status, None);
        assert_eq!(r.json(), None, "void: 204 No Content");
        assert_eq!(
            r.set_cookies(),
            vec![
                "access_token=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax; Secure",
                "refresh_token=; Path=/rpc/refresh_token; Max-Age=0; HttpOnly; SameSite=Lax; Secure"
            ]
        );
        assert!(!session_live(&sid));

        // The refresh token no longer works.
        assert_refused_refresh(&refresh_with_cookie("s001", &refresh2));
    }

    #[pg_test]
    fn sessions_wrong_password_and_unknown_user_answer_alike() {
        let user = setup("swrong");
        let wrong = login("swrong", &user, "not the password");
        let unknown = login("swrong", "swrong_nobody", PASSWORD);
        for r in [&wrong, &unknown] {
            // Not raised: PostgREST commits, so the failure record survives.
            assert_eq!(r.status.as_deref(), Some("401"), "{r:?}");
            assert_eq!(
                r.body(),
                serde_json::json!({"code": "PT401", "message": "Invalid user or password", "details": null, "hint": null})
            );
            assert!(r.set_cookies().is_empty(), "{r:?}");
        }
        assert_eq!(wrong.header_list(), unknown.header_list());
        assert_eq!(
            count("SELECT count(*) FROM auth.login_failures WHERE username IN ('swrong_demo', 'swrong_nobody')"),
            2
        );
        assert_eq!(
            count(&format!(
                "SELECT count(*) FROM auth.sessions WHERE username = '{user}'"
            )),
            0
        );
        // Case matters; a password differing in its 72nd byte is another password.
        assert_eq!(
            login("swrong", &user.to_uppercase(), PASSWORD)
                .status
                .as_deref(),
            Some("401")
        );
        run(&format!(
            "UPDATE auth.users SET password = repeat('p', 72) WHERE username = '{user}'"
        ));
        let almost = format!("{}q", "p".repeat(71));
        assert_eq!(
            login("swrong", &user, &almost).status.as_deref(),
            Some("401")
        );
        assert_eq!(login("swrong", &user, &"p".repeat(72)).status, None);
        // Monstrous usernames are failures like any other, recorded under a bounded key.
        let huge = "u".repeat(100_000);
        assert_eq!(
            login("swrong", &huge, PASSWORD).status.as_deref(),
            Some("401")
        );
        assert_eq!(
            count("SELECT max(length(username))::bigint FROM auth.login_failures WHERE username LIKE 'uuu%'"),
            257
        );
    }

    #[pg_test]
    fn sessions_bad_login_arguments_raise_22023() {
        let user = setup("sargs");
        for (call, needle) in [
            ("auth.login(NULL, 'x')".to_string(), "must not be NULL"),
            (format!("auth.login('{user}', NULL)"), "must not be NULL"),
            (format!("auth.login('{user}', '')"), "must not be empty"),
            (
                format!("auth.login('{user}', repeat('x', 73))"),
                "never truncated",
            ),
        ] {
            let (state, message) = request_error("sargs_anon", &anon_claims("sargs"), "{}", &call);
            assert_eq!(state, "22023", "{call}: {message}");
            assert!(message.contains(needle), "{call}: {message}");
        }
        // Refused arguments are not guesses: nothing recorded.
        assert_eq!(
            count("SELECT count(*) FROM auth.login_failures WHERE username = 'sargs_demo'"),
            0
        );
    }

    #[pg_test]
    fn sessions_throttling_after_failures() {
        let user = setup("sthrottle");
        run("SET LOCAL auth.max_failed_logins = 3");
        run("SET LOCAL auth.lockout_window = 60");
        for name in [user.as_str(), "sthrottle_ghost"] {
            for _ in 0..3 {
                assert_eq!(
                    login("sthrottle", name, "guess").status.as_deref(),
                    Some("401")
                );
            }
            // The 4th attempt is refused before any password check, even the right password,
            // and the same way whether or not the user exists.
            for password in ["guess", PASSWORD] {
                let r = login("sthrottle", name, password);
                assert_eq!(r.status.as_deref(), Some("429"), "{name}: {r:?}");
                assert_eq!(r.body()["code"], "PT429");
                assert_eq!(r.message(), "Too many failed logins, try again later");
                assert_eq!(r.header("Retry-After").as_deref(), Some("60"));
                assert!(r.set_cookies().is_empty());
            }
        }
        // Refused attempts are not counted; other usernames are not affected.
        assert_eq!(
            count(&format!(
                "SELECT count(*) FROM auth.login_failures WHERE username = '{user}'"
            )),
            3
        );
        add_user("sthrottle", "sthrottle_other");
        assert_eq!(login("sthrottle", "sthrottle_other", PASSWORD).status, None);
        // The oldest failure leaves the window: one more attempt is allowed, and Retry-After
        // counts down to when the next one leaves.
        run(&format!("UPDATE auth.login_failures SET failed_at = now() - interval '61 seconds' WHERE id = (SELECT id FROM auth.login_failures WHERE username = '{user}' LIMIT 1)"));
        run(&format!("UPDATE auth.login_failures SET failed_at = now() - interval '45 seconds' WHERE username = '{user}' AND failed_at = now()"));
        let r = login("sthrottle", &user, "guess");
        assert_eq!(r.status.as_deref(), Some("401"), "{r:?}");
        let r = login("sthrottle", &user, PASSWORD);
        assert_eq!(r.status.as_deref(), Some("429"));
        assert_eq!(r.header("Retry-After").as_deref(), Some("15"));
        // After the window the right password logs in, and clears the record.
        run(&format!("UPDATE auth.login_failures SET failed_at = now() - interval '60 seconds' WHERE username = '{user}'"));
        let r = login("sthrottle", &user, PASSWORD);
        assert_eq!(r.status, None, "{r:?}");
        assert!(r.cookie("refresh_token").is_some());
        assert_eq!(
            count(&format!(
                "SELECT count(*) FROM auth.login_failures WHERE username = '{user}'"
            )),
            0
        );
        // Failures far outside the window are cleaned up as new ones come in.
        run("INSERT INTO auth.login_failures (username, failed_at) VALUES ('sthrottle_stale', now() - interval '1 hour')");
        login("sthrottle", "sthrottle_ghost2", "guess");
        assert_eq!(
            count("SELECT count(*) FROM auth.login_failures WHERE username = 'sthrottle_stale'"),
            0
        );
    }

    #[pg_test]
    fn sessions_refresh_reuse_detection() {
        let user = setup("sreuse");
        run("SET LOCAL auth.tokens_in_body = on");
        let r = login("sreuse", &user, PASSWORD);
        let t0 = r.cookie("refresh_token").unwrap();
        assert_eq!(r.body()["refresh_token"], t0.as_str());
        let sid = verified_claims(&r.cookie("access_token").unwrap())["sid"]
            .as_str()
            .unwrap()
            .to_string();

        let r1 = refresh_with_cookie("sreuse", &t0);
        assert_eq!(r1.status, None);
        let t1 = r1.cookie("refresh_token").unwrap();

        // t0 again inside the grace window (two tabs refreshing at once): a new access token,
        // no new refresh token, the refresh cookie left alone, t1 still the one live token.
        let again = refresh_with_cookie("sreuse", &t0);
        assert_eq!(again.status, None, "{again:?}");
        assert!(again.set_cookie("refresh_token").is_none(), "{again:?}");
        let access = again.cookie("access_token").expect("access cookie");
        assert_eq!(verified_claims(&access)["sid"], sid.as_str());
        assert_eq!(again.body()["refresh_token"], Value::Null);
        assert_eq!(again.body()["access_token"], access.as_str());
        assert_eq!(live_refresh_tokens(&sid), 1);
        assert!(session_live(&sid));

        // t0 after the grace window: reuse. The whole session is revoked (and that is not
        // raised: the revocation must commit), t1 dies with it.
        run(&format!(
            "UPDATE auth.refresh_tokens SET spent_at = now() - interval '11 seconds' WHERE token_hash = {}",
            sha(&t0)
        ));
        assert_refused_refresh(&refresh_with_cookie("sreuse", &t0));
        assert!(!session_live(&sid));
        assert_refused_refresh(&refresh_with_cookie("sreuse", &t1));

        // With no grace at all, the second presentation is already reuse.
        run("SET LOCAL auth.refresh_reuse_interval = 0");
        let r = login("sreuse", &user, PASSWORD);
        let u0 = r.cookie("refresh_token").unwrap();
        let sid2 = verified_claims(&r.cookie("access_token").unwrap())["sid"]
            .as_str()
            .unwrap()
            .to_string();
        let u1 = refresh_with_cookie("sreuse", &u0)
            .cookie("refresh_token")
            .unwrap();
        assert_refused_refresh(&refresh_with_cookie("sreuse", &u0));
        assert!(!session_live(&sid2));
        assert_refused_refresh(&refresh_with_cookie("sreuse", &u1));
    }

    #[pg_test]
    fn sessions_expiry() {
        let user = setup("sexpiry");
        run("SET LOCAL auth.access_token_ttl = 60");
        run("SET LOCAL auth.refresh_token_ttl = 600");
        let r = login("sexpiry", &user, PASSWORD);
        assert!(r
            .set_cookie("access_token")
            .unwrap()
            .contains("; Max-Age=60;"));
        assert!(r
            .set_cookie("refresh_token")
            .unwrap()
            .contains("; Max-Age=600;"));
        let access = r.cookie("access_token").unwrap();
        let claims = verified_claims(&access);
        assert_eq!(
            claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
            60
        );
        let sid = claims["sid"].as_str().unwrap().to_string();
        assert!(one::<bool>(&format!(
            "SELECT expires_at = now() + interval '600 seconds' FROM auth.sessions WHERE id = '{sid}'"
        ))
        .unwrap());
        let t0 = r.cookie("refresh_token").unwrap();

        // Refresh slides the session's expiry to the new token's.
        run(&format!(
            "UPDATE auth.sessions SET expires_at = now() + interval '5 seconds' WHERE id = '{sid}'"
        ));
        let t1 = refresh_with_cookie("sexpiry", &t0)
            .cookie("refresh_token")
            .unwrap();
        assert!(one::<bool>(&format!(
            "SELECT expires_at = now() + interval '600 seconds' AND refreshed_at = now() FROM auth.sessions WHERE id = '{sid}'"
        ))
        .unwrap());

        // An expired refresh token is refused, without revoking the session (expiry is no theft).
        run(&format!(
            "UPDATE auth.refresh_tokens SET expires_at = now() WHERE token_hash = {}",
            sha(&t1)
        ));
        assert_refused_refresh(&refresh_with_cookie("sexpiry", &t1));
        assert!(session_live(&sid));

        // An expired session refuses its tokens.
        let r = login("sexpiry", &user, PASSWORD);
        let s1 = r.cookie("refresh_token").unwrap();
        run(&format!(
            "UPDATE auth.sessions SET expires_at = now() WHERE id = (SELECT session_id FROM auth.refresh_tokens WHERE token_hash = {})",
            sha(&s1)
        ));
        assert_refused_refresh(&refresh_with_cookie("sexpiry", &s1));

        // An expired access token fails jwt_verify (PostgREST refuses it the same way).
        let old = text(&format!(
            "SELECT auth.jwt_sign(jsonb_build_object('role', 'sexpiry_web', 'sid', '{sid}', 'exp', extract(epoch from now())::bigint - 120))"
        ));
        let (state, message) = error_of(&format!("SELECT auth.jwt_verify({})", lit(&old)));
        assert_eq!(state, "PT401");
        assert!(message.contains("expired"), "{message}");
    }

    #[pg_test]
    fn sessions_refresh_token_sources() {
        let user = setup("ssource");
        run("SET LOCAL auth.tokens_in_body = on");
        let t0 = login("ssource", &user, PASSWORD).body()["refresh_token"]
            .as_str()
            .unwrap()
            .to_string();
        // No cookies at all (request.cookies unset): the Cookie header in request.headers.
        let r = request_with_headers(
            "ssource_anon",
            &anon_claims("ssource"),
            "",
            &serde_json::json!({"cookie": format!("theme=dark; refresh_token={t0}")}).to_string(),
            "auth.refresh_token()",
        );
        assert_eq!(r.status, None, "{r:?}");
        let t1 = r.cookie("refresh_token").unwrap();
        // The argument (non-browser clients) wins over a cookie.
        let r = request(
            "ssource_anon",
            &anon_claims("ssource"),
            &serde_json::json!({ "refresh_token": "garbage" }).to_string(),
            &format!("auth.refresh_token({})", lit(&t1)),
        );
        assert_eq!(r.status, None, "{r:?}");
        let t2 = r.body()["refresh_token"].as_str().unwrap().to_string();
        // Named argument, as PostgREST calls it with {"token": ...}.
        let r = request(
            "ssource_anon",
            &anon_claims("ssource"),
            "{}",
            &format!("auth.refresh_token(token => {})", lit(&t2)),
        );
        assert_eq!(r.status, None, "{r:?}");
        // Nothing, garbage, an empty or huge token: 401.
        for call in [
            "auth.refresh_token()".to_string(),
            "auth.refresh_token(NULL)".to_string(),
            "auth.refresh_token('')".to_string(),
            "auth.refresh_token('not-a-token')".to_string(),
            "auth.refresh_token(repeat('A', 100000))".to_string(),
        ] {
            assert_refused_refresh(&request(
                "ssource_anon",
                &anon_claims("ssource"),
                "{}",
                &call,
            ));
        }
        assert_refused_refresh(&refresh_with_cookie("ssource", "garbage"));
    }

    #[pg_test]
    fn sessions_cookie_and_token_settings() {
        let user = setup("scookie");
        run("SET LOCAL auth.cookie_samesite = 'Strict'");
        run("SET LOCAL auth.cookie_secure = off");
        run("SET LOCAL auth.refresh_cookie_path = '/api/rpc/refresh_token'");
        run("SET LOCAL auth.jwt_audience = 'app'");
        run("SET LOCAL auth.jwt_issuer = 'https://auth.example'");
        let r = login("scookie", &user, PASSWORD);
        let refresh = r.cookie("refresh_token").unwrap();
        assert_eq!(
            r.set_cookie("refresh_token").unwrap(),
            format!("refresh_token={refresh}; Path=/api/rpc/refresh_token; Max-Age=2592000; HttpOnly; SameSite=Strict")
        );
        let claims = verified_claims(&r.cookie("access_token").unwrap());
        assert_eq!(claims["aud"], "app");
        assert_eq!(claims["iss"], "https://auth.example");
        // Earlier response headers (from a pre-request function, say) are kept.
        let r = Request::post("scookie_anon")
            .claims(anon_claims("scookie"))
            .cookies("{}")
            .headers("{}")
            .response_headers(r#"[{"X-Request-Id": "42"}]"#)
            .call(&format!(
                "SELECT auth.login('{user}', {})::text",
                lit(PASSWORD)
            ))
            .ok();
        assert_eq!(
            r.header_list()[0],
            ("X-Request-Id".to_string(), "42".to_string())
        );
        assert_eq!(r.set_cookies().len(), 2);
        // Settings browsers would refuse are refused (22023) before anything is written.
        run("SET LOCAL auth.cookie_samesite = 'None'");
        let (state, message) = request_error(
            "scookie_anon",
            &anon_claims("scookie"),
            "{}",
            &format!("auth.login('{user}', {})", lit(PASSWORD)),
        );
        assert_eq!(state, "22023", "{message}");
        assert!(message.contains("cookie_secure"), "{message}");
        run("SET LOCAL auth.cookie_samesite = 'Lax'");
        run("SET LOCAL auth.refresh_cookie_path = 'rpc; Domain=evil.example'");
        let (state, _) = request_error(
            "scookie_anon",
            &anon_claims("scookie"),
            "{}",
            &format!("auth.login('{user}', {})", lit(PASSWORD)),
        );
        assert_eq!(state, "22023");
    }

    /// What a refresh answers when an earlier step of the request left `response.headers` in a
    /// state PostgREST could not read (22P02 not JSON, 22023 not an array; the refresh is
    /// rolled back, its token still live), and that only 32-byte digests are stored as token
    /// hashes (23514).
    #[pg_test]
    fn sessions_response_headers_and_token_hash_guards() {
        let user = setup("sguard");
        let (sid, _, t0) = login_sid("sguard", &user);
        let cookies = serde_json::json!({ "refresh_token": t0 }).to_string();
        for (headers, state) in [
            (r#"{"X-Request-Id": "42"}"#, "22023"),
            ("not json", "22P02"),
        ] {
            let (got, message) = Request::post("sguard_anon")
                .claims(anon_claims("sguard"))
                .cookies(&cookies)
                .headers("{}")
                .response_headers(headers)
                .call("SELECT auth.refresh_token()")
                .failure();
            assert_eq!(got, state, "{headers}: {message}");
            assert!(message.contains("response.headers"), "{message}");
            assert!(!message.contains(&t0), "{message}");
        }
        assert_eq!(live_refresh_tokens(&sid), 1);
        let r = refresh_with_cookie("sguard", &t0);
        assert_eq!(r.status, None, "{r:?}");
        assert!(r.cookie("refresh_token").is_some_and(|t| t != t0), "{r:?}");

        let insert = |hash: &str| {
            format!(
                "INSERT INTO auth.refresh_tokens (session_id, token_hash, expires_at) \
                 VALUES ('{sid}', {hash}, now() + interval '1 day')"
            )
        };
        for bad in [r"'\x00'::bytea", "sha224('x')", "sha512('x')", "''::bytea"] {
            assert_error(&insert(bad), "23514", "sha256_digest");
        }
        run(&insert("sha256('x')"));
        assert_error(
            "UPDATE auth.refresh_tokens SET token_hash = sha384('x') WHERE token_hash = sha256('x')",
            "23514",
            "sha256_digest",
        );
    }

    fn login_sid(tag: &str, user: &str) -> (String, String, String) {
        let r = login(tag, user, PASSWORD);
        let access = r.cookie("access_token").unwrap();
        let sid = verified_claims(&access)["sid"]
            .as_str()
            .unwrap()
            .to_string();
        (sid, access, r.cookie("refresh_token").unwrap())
    }

    #[pg_test]
    fn sessions_logout_scopes() {
        let user = setup("slogout");
        add_user("slogout", "slogout_bystander");
        let (s1, a1, _) = login_sid("slogout", &user);
        let (s2, _, r2) = login_sid("slogout", &user);
        let (s3, _, _) = login_sid("slogout", &user);
        let (s4, a4, _) = login_sid("slogout", &user);
        let (b, _, _) = login_sid("slogout", "slogout_bystander");

        // Claims alone (any SQL session can set request.jwt.claims) end nothing, not even with
        // scope global.
        let claims1 = verified_claims(&a1).to_string();
        request("slogout_web", &claims1, "{}", "auth.logout('global')");
        assert!(session_live(&s1) && session_live(&s2) && session_live(&s4));

        // Local, as the authenticated role with the access token in Authorization: that
        // session only.
        let r = request_with_headers("slogout_web", &claims1, "{}", &bearer(&a1), "auth.logout()");
        assert_eq!(r.set_cookies().len(), 2);
        assert!(!session_live(&s1));
        assert!(session_live(&s2) && session_live(&s3) && session_live(&s4));

        // Logging out twice is fine; the ended session's token proves nothing any more, so a
        // global logout with it (and no other credential) ends no other session.
        request_with_headers(
            "slogout_web",
            &claims1,
            "{}",
            &bearer(&a1),
            "auth.logout('local')",
        );
        request(
            "slogout_anon",
            &anon_claims("slogout"),
            &serde_json::json!({ "access_token": a1 }).to_string(),
            "auth.logout('global')",
        );
        assert!(session_live(&s2) && session_live(&s3) && session_live(&s4));

        // By the refresh cookie (a deployment whose refresh cookie path covers /rpc/logout).
        request(
            "slogout_anon",
            &anon_claims("slogout"),
            &serde_json::json!({ "refresh_token": r2 }).to_string(),
            "auth.logout()",
        );
        assert!(!session_live(&s2) && session_live(&s3));

        // An expired access token still ends its session; a forged one ends nothing.
        let expired = text(&format!(
            "SELECT auth.jwt_sign(jsonb_build_object('sid', '{s3}', 'exp', 1))"
        ));
        let forged = text(&format!(
            "SELECT auth.sign(json_build_object('sid', '{s4}'), 'another key that is long enough to sign with')"
        ));
        request(
            "slogout_anon",
            &anon_claims("slogout"),
            &serde_json::json!({ "access_token": forged }).to_string(),
            "auth.logout()",
        );
        assert!(session_live(&s4));
        request(
            "slogout_anon",
            &anon_claims("slogout"),
            &serde_json::json!({ "access_token": expired }).to_string(),
            "auth.logout()",
        );
        assert!(!session_live(&s3) && session_live(&s4));

        // Global: every session of the user, nobody else's.
        let (s5, _, _) = login_sid("slogout", &user);
        let r = request_with_headers(
            "slogout_web",
            &verified_claims(&a4).to_string(),
            "{}",
            &bearer(&a4),
            "auth.logout('global')",
        );
        assert_eq!(r.set_cookies().len(), 2);
        assert!(!session_live(&s4) && !session_live(&s5));
        assert!(session_live(&b));

        // No session found: cookies cleared all the same, nothing revoked.
        let r = request(
            "slogout_anon",
            &anon_claims("slogout"),
            "{}",
            "auth.logout()",
        );
        assert_eq!(r.status, None);
        assert_eq!(
            r.set_cookies(),
            vec![
                "access_token=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax; Secure",
                "refresh_token=; Path=/rpc/refresh_token; Max-Age=0; HttpOnly; SameSite=Lax; Secure"
            ]
        );
        assert!(session_live(&b));

        // A bad scope: 22023.
        for call in ["auth.logout('everything')", "auth.logout(NULL)"] {
            let (state, message) =
                request_error("slogout_anon", &anon_claims("slogout"), "{}", call);
            assert_eq!(state, "22023", "{call}");
            assert!(
                message.contains("scope must be 'local', 'global' or 'others'"),
                "{message}"
            );
        }
    }

    /// `request.headers` carrying `token` as PostgREST passes an Authorization header.
    fn bearer(token: &str) -> String {
        serde_json::json!({ "authorization": format!("Bearer {token}") }).to_string()
    }

    /// The SQLSTATE and message a request with these headers fails with.
    fn request_error_with_headers(
        role: &str,
        claims: &str,
        headers: &str,
        call: &str,
    ) -> (String, String) {
        Request::post(role)
            .claims(claims)
            .cookies("{}")
            .headers(headers)
            .call(&format!("SELECT ({call})::text"))
            .failure()
    }

    #[pg_test]
    fn sessions_change_password() {
        let user = setup("schange");
        let (s1, a1, _) = login_sid("schange", &user);
        let (s2, _, _) = login_sid("schange", &user);
        let claims1 = verified_claims(&a1).to_string();
        let auth1 = bearer(&a1);
        let call = |current: &str, new: &str| {
            format!("auth.change_password({}, {})", lit(current), lit(new))
        };

        // Not logged in, refused arguments: raised, nothing changed. The claims alone prove
        // nothing: any SQL session can set request.jwt.claims, so without the caller's own token
        // (Authorization or the access cookie) the call is not logged in.
        let before = text(&format!(
            "SELECT password FROM auth.users WHERE username = '{user}'"
        ));
        for (role, claims, headers, c, state, needle) in [
            // Anonymous: no EXECUTE at all (PostgREST answers 401 for the anonymous role).
            (
                "schange_anon",
                r#"{"role":"schange_anon"}"#.to_string(),
                "{}".to_string(),
                call(PASSWORD, "new password"),
                "42501",
                "permission denied",
            ),
            (
                "schange_web",
                r#"{"role":"schange_web"}"#.to_string(),
                "{}".to_string(),
                call(PASSWORD, "new password"),
                "PT401",
                "Not logged in",
            ),
            // Forged claims naming the user and a live session, no token.
            (
                "schange_web",
                claims1.clone(),
                "{}".to_string(),
                call(PASSWORD, "new password"),
                "PT401",
                "Not logged in",
            ),
            // A token that does not verify.
            (
                "schange_web",
                claims1.clone(),
                bearer(&format!("{a1}x")),
                call(PASSWORD, "new password"),
                "PT401",
                "Not logged in",
            ),
            (
                "schange_web",
                claims1.clone(),
                auth1.clone(),
                call(PASSWORD, ""),
                "22023",
                "must not be empty",
            ),
            (
                "schange_web",
                claims1.clone(),
                auth1.clone(),
                call(PASSWORD, &"x".repeat(73)),
                "22023",
                "never truncated",
            ),
            (
                "schange_web",
                claims1.clone(),
                auth1.clone(),
                format!("auth.change_password(NULL, {})", lit("new password")),
                "22023",
                "must not be NULL",
            ),
            (
                "schange_web",
                claims1.clone(),
                auth1.clone(),
                format!("auth.change_password({}, NULL)", lit(PASSWORD)),
                "22023",
                "must not be NULL",
            ),
        ] {
            let (got, message) = request_error_with_headers(role, &claims, &headers, &c);
            let detail = format!("{role} {claims} {c}: {got} {message}");
            assert_eq!(got, state, "{detail}");
            assert!(message.contains(needle), "{detail}");
        }
        assert_eq!(
            text(&format!(
                "SELECT password FROM auth.users WHERE username = '{user}'"
            )),
            before
        );
        assert!(session_live(&s1) && session_live(&s2));

        // A wrong current password is answered through response.status (401), not raised, so
        // the failure is recorded: change_password shares the login throttle.
        let r = request_with_headers(
            "schange_web",
            &claims1,
            "{}",
            &auth1,
            &call("wrong", "new password"),
        );
        assert_eq!(r.status.as_deref(), Some("401"));
        assert_eq!(r.message(), "Wrong current password");
        assert_eq!(
            count(&format!(
                "SELECT count(*) FROM auth.login_failures WHERE username = '{user}'"
            )),
            1
        );
        assert_eq!(
            text(&format!(
                "SELECT password FROM auth.users WHERE username = '{user}'"
            )),
            before
        );

        // The right current password: new hash, other sessions revoked, this one kept.
        let r = request_with_headers(
            "schange_web",
            &claims1,
            "{}",
            &auth1,
            &call(PASSWORD, "new password"),
        );
        assert_eq!(r.status, None);
        assert_eq!(r.body()["revoked_sessions"], 1);
        assert_eq!(r.body()["username"], user.as_str());
        assert!(session_live(&s1));
        assert!(!session_live(&s2));
        assert_eq!(
            count(&format!(
                "SELECT count(*) FROM auth.login_failures WHERE username = '{user}'"
            )),
            0,
            "a success clears the failures"
        );
        assert_eq!(
            login("schange", &user, PASSWORD).status.as_deref(),
            Some("401")
        );
        assert_eq!(login("schange", &user, "new password").status, None);
        assert!(text(&format!(
            "SELECT password FROM auth.users WHERE username = '{user}'"
        ))
        .starts_with("$2a$04$"));

        // The access cookie proves the caller as well as Authorization does.
        let r = login("schange", &user, "new password");
        let a4 = r.cookie("access_token").unwrap();
        let r = request(
            "schange_web",
            &verified_claims(&a4).to_string(),
            &serde_json::json!({ "access_token": a4 }).to_string(),
            &call("new password", "fourth password"),
        );
        assert_eq!(r.status, None, "{:?}", r.result);

        // The token of a revoked session cannot change the password.
        let r = login("schange", &user, "fourth password");
        let a3 = r.cookie("access_token").unwrap();
        let s3 = verified_claims(&a3)["sid"].as_str().unwrap().to_string();
        run(&format!(
            "UPDATE auth.sessions SET revoked_at = now() WHERE id = '{s3}'"
        ));
        let (state, _) = request_error_with_headers(
            "schange_web",
            &verified_claims(&a3).to_string(),
            &bearer(&a3),
            &call("fourth password", "third password"),
        );
        assert_eq!(state, "PT401");
    }

    /// Guessing the current password with a stolen access token is throttled like login: after
    /// auth.max_failed_logins failures even the right password gets 429, and logins of that user
    /// are throttled too (one count per username).
    #[pg_test]
    fn sessions_change_password_is_throttled() {
        let user = setup("sthrottlecp");
        run("SET LOCAL auth.max_failed_logins = 3");
        let (_, a1, _) = login_sid("sthrottlecp", &user);
        let claims = verified_claims(&a1).to_string();
        let attempt = |current: &str| {
            request_with_headers(
                "sthrottlecp_web",
                &claims,
                "{}",
                &bearer(&a1),
                &format!("auth.change_password({}, 'a new password')", lit(current)),
            )
        };
        for _ in 0..3 {
            assert_eq!(attempt("guess").status.as_deref(), Some("401"));
        }
        let r = attempt(PASSWORD);
        assert_eq!(r.status.as_deref(), Some("429"));
        assert!(r.header("Retry-After").is_some());
        assert_eq!(
            login("sthrottlecp", &user, PASSWORD).status.as_deref(),
            Some("429")
        );
        assert_eq!(
            login("sthrottlecp", &user, "a new password")
                .status
                .as_deref(),
            Some("429")
        );
        // Nothing changed.
        run("DELETE FROM auth.login_failures");
        assert_eq!(login("sthrottlecp", &user, PASSWORD).status, None);
    }

    #[pg_test]
    fn sessions_rehash_on_login_and_pgcrypto_users() {
        run("CREATE EXTENSION IF NOT EXISTS pgcrypto");
        setup("srehash");
        // A user imported with pgcrypto's hash (cost 4) from a hand-written table logs in; the hash is
        // replaced by one at auth.bcrypt_cost (5) once, and pgcrypto still verifies the new one.
        run("SELECT auth.import_user('srehash_legacy', crypt('legacy pw', gen_salt('bf', 4)), 'srehash_web')");
        let imported = text("SELECT password FROM auth.users WHERE username = 'srehash_legacy'");
        run("SET LOCAL auth.bcrypt_cost = 5");
        assert_eq!(login("srehash", "srehash_legacy", "legacy pw").status, None);
        let rehashed = text("SELECT password FROM auth.users WHERE username = 'srehash_legacy'");
        assert!(
            rehashed.starts_with("$2a$05$") && rehashed != imported,
            "{rehashed}"
        );
        assert_eq!(
            text(&format!("SELECT crypt('legacy pw', '{rehashed}')")),
            rehashed
        );
        assert_eq!(login("srehash", "srehash_legacy", "legacy pw").status, None);
        assert_eq!(
            text("SELECT password FROM auth.users WHERE username = 'srehash_legacy'"),
            rehashed,
            "no re-hash at the configured cost"
        );
        // A failed login never re-hashes.
        run("SET LOCAL auth.bcrypt_cost = 6");
        assert_eq!(
            login("srehash", "srehash_legacy", "wrong")
                .status
                .as_deref(),
            Some("401")
        );
        assert_eq!(
            text("SELECT password FROM auth.users WHERE username = 'srehash_legacy'"),
            rehashed
        );
        // A stored cost above the configured one is re-hashed down too: every user then answers
        // in the time of the configured cost, as unknown users do (their dummy hash has it).
        run("SET LOCAL auth.bcrypt_cost = 4");
        assert_eq!(login("srehash", "srehash_legacy", "legacy pw").status, None);
        assert!(
            text("SELECT password FROM auth.users WHERE username = 'srehash_legacy'")
                .starts_with("$2a$04$")
        );
    }

    fn stored(user: &str) -> String {
        text(&format!(
            "SELECT password FROM auth.users WHERE username = {}",
            lit(user)
        ))
    }

    /// Logins verify bcrypt and argon2 whatever is configured, and a successful one re-hashes a
    /// hash of the other algorithm or of other parameters: bcrypt → argon2id → argon2id of new
    /// parameters → bcrypt. Unknown users under argon2id answer as a wrong password does.
    #[pg_test]
    fn sessions_argon2id_rehash_on_login_both_ways() {
        let user = setup("sargon");
        assert!(stored(&user).starts_with("$2a$04$"));
        run("SET LOCAL auth.password_algorithm = argon2id");
        run("SET LOCAL auth.argon2_memory = 7168");
        run("SET LOCAL auth.argon2_iterations = 1");
        // A wrong password changes nothing.
        assert_eq!(
            login("sargon", &user, "not the password").status.as_deref(),
            Some("401")
        );
        assert!(stored(&user).starts_with("$2a$04$"));
        assert_eq!(login("sargon", &user, PASSWORD).status, None);
        let argon = stored(&user);
        assert!(
            argon.starts_with("$argon2id$v=19$m=7168,t=1,p=1$"),
            "{argon}"
        );
        assert_eq!(login("sargon", &user, PASSWORD).status, None);
        assert_eq!(
            stored(&user),
            argon,
            "no re-hash with the configured parameters"
        );
        // Other parameters: re-hashed to them.
        run("SET LOCAL auth.argon2_memory = '8MB'");
        assert_eq!(login("sargon", &user, PASSWORD).status, None);
        assert!(stored(&user).starts_with("$argon2id$v=19$m=8192,t=1,p=1$"));
        // Unknown users answer as a wrong password does (after a dummy argon2id check).
        let wrong = login("sargon", &user, "not the password");
        let unknown = login("sargon", "sargon_nobody", PASSWORD);
        for r in [&wrong, &unknown] {
            assert_eq!(r.status.as_deref(), Some("401"), "{r:?}");
            assert_eq!(r.message(), "Invalid user or password");
            assert!(r.set_cookies().is_empty());
        }
        assert_eq!(wrong.body(), unknown.body());
        assert_eq!(wrong.header_list(), unknown.header_list());
        run("DELETE FROM auth.login_failures");
        // And back: under bcrypt the argon2id hash verifies and becomes bcrypt again.
        run("SET LOCAL auth.password_algorithm = bcrypt");
        assert_eq!(login("sargon", &user, PASSWORD).status, None);
        assert!(stored(&user).starts_with("$2a$04$"));
        // An argon2 hash argon2-cffi wrote imports and logs in; with OWASP's parameters (the
        // defaults) configured it is kept as it is, else re-hashed.
        let v: Value =
            serde_json::from_str(include_str!("../core/vectors/argon2_vectors.json")).unwrap();
        let hashes = v["argon2_cffi"]["hashes"].as_array().unwrap();
        let (owasp_pw, owasp) = (
            hashes[0]["password"].as_str().unwrap(),
            hashes[0]["phc"].as_str().unwrap(),
        );
        assert!(owasp.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        run(&format!(
            "SELECT auth.import_user('sargon_cffi', {}, 'sargon_web')",
            lit(owasp)
        ));
        run("SET LOCAL auth.password_algorithm = argon2id");
        run("RESET auth.argon2_memory");
        run("RESET auth.argon2_iterations");
        assert_eq!(login("sargon", "sargon_cffi", owasp_pw).status, None);
        assert_eq!(stored("sargon_cffi"), owasp);
        // The argon2i one (a non-ASCII password) logs in and becomes argon2id.
        let (i_pw, i_hash) = (
            hashes[2]["password"].as_str().unwrap(),
            hashes[2]["phc"].as_str().unwrap(),
        );
        assert!(i_hash.starts_with("$argon2i$"));
        run(&format!(
            "SELECT auth.import_user('sargon_argon2i', {}, 'sargon_web')",
            lit(i_hash)
        ));
        run("SET LOCAL auth.argon2_memory = 7168");
        run("SET LOCAL auth.argon2_iterations = 1");
        assert_eq!(login("sargon", "sargon_argon2i", i_pw).status, None);
        assert!(stored("sargon_argon2i").starts_with("$argon2id$v=19$m=7168,t=1,p=1$"));
        assert_eq!(
            login("sargon", "sargon_argon2i", "p\u{e4}ssw\u{f6}rd")
                .status
                .as_deref(),
            Some("401")
        );
        // A user whose stored hash is over the caps (planted past the trigger) fails closed.
        run("ALTER TABLE auth.users DISABLE TRIGGER users_before_write");
        run(&format!(
            "UPDATE auth.users SET password = {} WHERE username = 'sargon_cffi'",
            lit(&owasp.replace("m=19456", "m=524288"))
        ));
        run("ALTER TABLE auth.users ENABLE TRIGGER users_before_write");
        assert!(stored("sargon_cffi").starts_with("$argon2id$v=19$m=524288,"));
        assert_eq!(
            login("sargon", "sargon_cffi", owasp_pw).status.as_deref(),
            Some("401")
        );
    }

    /// change_password applies the policy to the new password (22023, nothing written, no
    /// failure recorded) and stores a hash of the configured algorithm; a new password shaped like
    /// a hash is hashed too, never kept.
    #[pg_test]
    fn sessions_change_password_policy_and_algorithm() {
        let user = setup("spolicy");
        let (_, access, _) = login_sid("spolicy", &user);
        let claims = verified_claims(&access).to_string();
        let auth = bearer(&access);
        let change = |current: &str, new: &str| {
            request_error_with_headers(
                "spolicy_web",
                &claims,
                &auth,
                &format!("auth.change_password({}, {})", lit(current), lit(new)),
            )
        };
        let before = stored(&user);
        run("CREATE SCHEMA spolicy");
        run(
            r#"CREATE FUNCTION spolicy.check(username text, password text) RETURNS text
               LANGUAGE sql AS $$ SELECT CASE WHEN password LIKE '%123%' THEN 'a run of digits' END $$"#,
        );
        run("SET LOCAL auth.password_check = 'spolicy.check'");
        for (new, needle) in [
            ("short", "at least 8"),
            ("abc123 is long enough", "password refused: a run of digits"),
        ] {
            // Also with a wrong current password: the new one is checked first.
            for current in [PASSWORD, "wrong password"] {
                let (state, message) = change(current, new);
                assert_eq!(state, "22023", "{new}: {message}");
                assert!(message.contains(needle), "{new}: {message}");
                assert!(!message.contains(new));
            }
        }
        assert_eq!(stored(&user), before);
        assert_eq!(
            count(&format!(
                "SELECT count(*) FROM auth.login_failures WHERE username = '{user}'"
            )),
            0
        );
        run("RESET auth.password_check");
        // Accepted under argon2id: stored as argon2id.
        run("SET LOCAL auth.password_algorithm = argon2id");
        run("SET LOCAL auth.argon2_memory = 7168");
        run("SET LOCAL auth.argon2_iterations = 1");
        let r = request_with_headers(
            "spolicy_web",
            &claims,
            "{}",
            &auth,
            &format!(
                "auth.change_password({}, 'a better password')",
                lit(PASSWORD)
            ),
        );
        assert_eq!(r.status, None, "{:?}", r.result);
        assert!(stored(&user).starts_with("$argon2id$v=19$m=7168,t=1,p=1$"));
        assert_eq!(login("spolicy", &user, "a better password").status, None);
        // A hash as the new password is a password: hashed (the login flows run as the extension
        // owner, whose own writes of a hash would be kept as written).
        // (The OpenBSD vector, the bcrypt hash of "U*U": an argon2 string, at over 72 bytes, would
        // be refused as a password.)
        let planted = "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW";
        let r = request_with_headers(
            "spolicy_web",
            &claims,
            "{}",
            &auth,
            &format!(
                "auth.change_password('a better password', {})",
                lit(planted)
            ),
        );
        assert_eq!(r.status, None, "{:?}", r.result);
        assert_ne!(stored(&user), planted);
        assert_eq!(login("spolicy", &user, planted).status, None);
        assert_eq!(
            login("spolicy", &user, "U*U").status.as_deref(),
            Some("401")
        );
        // A login's re-hash applies no policy: a password stored before the policy still logs in.
        run("SET LOCAL auth.password_min_length = 72");
        run("SET LOCAL auth.password_algorithm = bcrypt");
        assert_eq!(login("spolicy", &user, planted).status, None);
        assert!(stored(&user).starts_with("$2a$04$"));
    }

    #[pg_test]
    fn sessions_user_changes_cascade() {
        let user = setup("scascade");
        let (sid, _, refresh) = login_sid("scascade", &user);
        // Renaming the user carries the session; the role comes from the user row at refresh.
        run("CREATE ROLE scascade_admin NOLOGIN");
        run(&format!("UPDATE auth.users SET username = 'scascade_renamed', role = 'scascade_admin' WHERE username = '{user}'"));
        assert_eq!(
            text(&format!(
                "SELECT username FROM auth.sessions WHERE id = '{sid}'"
            )),
            "scascade_renamed"
        );
        let r = refresh_with_cookie("scascade", &refresh);
        let claims = verified_claims(&r.cookie("access_token").unwrap());
        assert_eq!(claims["role"], "scascade_admin");
        assert_eq!(claims["sub"], "scascade_renamed");
        // Deleting the user deletes its sessions and refresh tokens.
        run("DELETE FROM auth.users WHERE username = 'scascade_renamed'");
        assert_eq!(
            count(&format!(
                "SELECT count(*) FROM auth.sessions WHERE id = '{sid}'"
            )),
            0
        );
        assert_eq!(
            count(&format!(
                "SELECT count(*) FROM auth.refresh_tokens WHERE session_id = '{sid}'"
            )),
            0
        );
        assert_refused_refresh(&refresh_with_cookie(
            "scascade",
            &r.cookie("refresh_token").unwrap(),
        ));
    }

    #[pg_test]
    fn sessions_admin_helpers() {
        let user = setup("sadmin");
        let (s1, _, _) = login_sid("sadmin", &user);
        let (s2, _, _) = login_sid("sadmin", &user);
        assert_eq!(
            one::<i32>(&format!("SELECT auth.revoke_user_sessions('{user}')")),
            Some(2)
        );
        assert!(!session_live(&s1) && !session_live(&s2));
        assert_eq!(
            one::<i32>(&format!("SELECT auth.revoke_user_sessions('{user}')")),
            Some(0)
        );
        // purge: sessions ended before the cutoff go, with their tokens; live ones stay.
        let (s3, _, _) = login_sid("sadmin", &user);
        run(&format!(
            "UPDATE auth.sessions SET revoked_at = now() - interval '8 days' WHERE id = '{s1}'"
        ));
        let purged = one::<i32>("SELECT auth.purge_sessions()").unwrap();
        assert!(purged >= 1);
        assert_eq!(
            count(&format!(
                "SELECT count(*) FROM auth.sessions WHERE id IN ('{s1}', '{s2}', '{s3}')"
            )),
            2
        );
        assert_eq!(
            count(&format!(
                "SELECT count(*) FROM auth.refresh_tokens WHERE session_id = '{s1}'"
            )),
            0
        );
        run(&format!(
            "UPDATE auth.sessions SET revoked_at = now() - interval '1 minute' WHERE id = '{s2}'"
        ));
        assert_eq!(
            one::<i32>("SELECT auth.purge_sessions('0 seconds')").map(|n| n >= 1),
            Some(true)
        );
        assert_eq!(
            count(&format!(
                "SELECT count(*) FROM auth.sessions WHERE id IN ('{s1}', '{s2}', '{s3}')"
            )),
            1
        );
        assert!(session_live(&s3));
        // grant_session_access refuses PUBLIC and empty calls.
        for (call, state) in [
            ("SELECT auth.grant_session_access('public')", "22023"),
            (
                "SELECT auth.grant_session_access('sadmin_anon', ARRAY['PUBLIC'])",
                "22023",
            ),
            ("SELECT auth.grant_session_access(NULL, NULL)", "22023"),
            (
                "SELECT auth.grant_session_access('sadmin_no_such_role')",
                "42704",
            ),
        ] {
            assert_eq!(error_of(call).0, state, "{call}");
        }
    }

    #[pg_test]
    fn sessions_privileges() {
        let user = setup("spriv");
        run("CREATE ROLE spriv_nobody NOLOGIN");
        run("GRANT USAGE ON SCHEMA tests TO spriv_nobody");
        let (_, access, _) = login_sid("spriv", &user);
        for role in ["spriv_anon", "spriv_web", "spriv_nobody"] {
            run(&format!("SET LOCAL ROLE {role}"));
            for sql in [
                "SELECT count(*) FROM auth.users",
                "SELECT count(*) FROM auth.sessions",
                "SELECT count(*) FROM auth.refresh_tokens",
                "SELECT count(*) FROM auth.login_failures",
                "UPDATE auth.sessions SET revoked_at = NULL",
                "DELETE FROM auth.login_failures",
                "SELECT auth.hash_password('x')",
                "SELECT auth.verify_password('x', 'y')",
                "SELECT auth_private._new_refresh_token()",
                "SELECT auth_private._clear_session_cookies()",
                "SELECT auth_private._request_cookie('refresh_token')",
                "SELECT auth_private._start_session('spriv_demo', 'spriv_web', 'password')",
                "SELECT auth_private._session_response('spriv_demo', 'postgres', NULL, '{\"exp\": 1}')",
                "SELECT auth_private._session_claims(gen_random_uuid(), 'spriv_demo', 'postgres', '{}')",
                "SELECT auth_private._token_claims(gen_random_uuid(), 'spriv_demo', 'postgres', 'password', '{}')",
                "SELECT auth_private._access_token_hook()",
                "SELECT auth_private._call_access_token_hook('{\"claims\": {}}')",
                "SELECT auth_private._password_needs_rehash('x')",
                "SELECT auth.revoke_user_sessions('spriv_demo')",
                "SELECT auth.purge_sessions()",
                "SELECT auth.grant_session_access('spriv_nobody')",
                "SELECT auth.jwt_sign('{}')",
            ] {
                let (state, message) = error_of(sql);
                assert_eq!(state, "42501", "{role}: {sql}: {message}");
            }
            run("RESET ROLE");
        }
        // What grant_session_access gave: anon logs in, refreshes and logs out but cannot
        // change a password; the authenticated role has no login.
        run("SET LOCAL ROLE spriv_anon");
        assert_eq!(error_of("SELECT auth.change_password('a', 'b')").0, "42501");
        run("SET LOCAL ROLE spriv_nobody");
        assert_eq!(error_of("SELECT auth.login('spriv_demo', 'x')").0, "42501");
        assert_eq!(error_of("SELECT auth.refresh_token()").0, "42501");
        assert_eq!(error_of("SELECT auth.logout()").0, "42501");
        run("SET LOCAL ROLE spriv_web");
        assert_eq!(error_of("SELECT auth.login('spriv_demo', 'x')").0, "42501");
        run("RESET ROLE");
        // No function of this feature is executable by PUBLIC.
        assert_eq!(
            count(
                "SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
                 WHERE n.nspname IN ('auth', 'auth_private') AND p.proname IN ('hash_password', 'verify_password', 'login', \
                 'refresh_token', 'logout', 'change_password', 'grant_session_access', 'revoke_user_sessions', \
                 'purge_sessions', '_new_refresh_token', '_clear_session_cookies', '_request_cookie', \
                 '_signed_claims_ignoring_time', '_check_password', '_password_to_store', \
                 '_login_password_matches', '_password_needs_rehash', '_start_session', '_session_response', \
                 '_session_claims', '_token_claims', '_access_token_hook', '_call_access_token_hook', \
                 '_check_new_password', '_hash_to_store', '_keep_superuser_hash', '_expect_imported_hash', \
                 '_add_response_headers', '_error_response', '_refresh_refused', '_users_before_write', '_to_uuid') \
                 AND has_function_privilege('public', p.oid, 'EXECUTE')"
            ),
            0
        );
        // SECURITY DEFINER flows pin search_path.
        assert_eq!(
            count(
                "SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
                 WHERE n.nspname IN ('auth', 'auth_private') AND p.prosecdef \
                 AND p.proname IN ('login', 'refresh_token', 'logout', 'change_password', '_users_before_write') \
                 AND p.proconfig @> ARRAY['search_path=pg_catalog, pg_temp']"
            ),
            5
        );
        // A search_path trap set by the caller changes nothing.
        run("CREATE SCHEMA spriv_trap");
        run("CREATE FUNCTION spriv_trap.now() RETURNS timestamptz LANGUAGE sql AS $$ SELECT 'epoch'::timestamptz $$");
        run("GRANT USAGE ON SCHEMA spriv_trap TO spriv_anon");
        run("GRANT EXECUTE ON FUNCTION spriv_trap.now() TO spriv_anon");
        let r = Request::post("spriv_anon")
            .claims(anon_claims("spriv"))
            .cookies("{}")
            .headers("{}")
            .search_path("spriv_trap, pg_catalog")
            .call(&format!(
                "SELECT auth.login({}, {})::text",
                lit(&user),
                lit(PASSWORD)
            ))
            .ok();
        assert_eq!(r.status, None);
        let sid2 = verified_claims(&r.cookie("access_token").unwrap())["sid"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(session_live(&sid2));
        // The logged-in user reads nothing of auth's tables either.
        let (state, _) = Request::post("spriv_web")
            .claims(verified_claims(&access))
            .cookies("{}")
            .headers("{}")
            .call("SELECT * FROM auth.sessions")
            .failure();
        assert_eq!(state, "42501");
    }

    #[pg_test]
    fn sessions_markings() {
        let marking = |f: &str| {
            text(&format!(
                "SELECT provolatile::text || CASE WHEN proisstrict THEN 's' ELSE '-' END || proparallel::text || CASE WHEN prosecdef THEN 'd' ELSE '-' END FROM pg_proc WHERE oid = '{f}'::regprocedure"
            ))
        };
        assert_eq!(marking("auth.login(text, text)"), "v-ud");
        assert_eq!(marking("auth.refresh_token(text)"), "v-ud");
        assert_eq!(marking("auth.logout(text)"), "v-ud");
        assert_eq!(marking("auth.change_password(text, text)"), "v-ud");
        assert_eq!(marking("auth_private._new_refresh_token()"), "vss-");
        assert_eq!(marking("auth_private._request_cookie(text)"), "sss-");
        // Default arguments, as PostgREST calls them with an empty body.
        assert_eq!(
            text("SELECT pg_get_function_arguments('auth.refresh_token(text)'::regprocedure)"),
            "token text DEFAULT NULL::text"
        );
        assert_eq!(
            text("SELECT pg_get_function_arguments('auth.logout(text)'::regprocedure)"),
            "scope text DEFAULT 'local'::text"
        );
    }

    /// Two connections refresh the same token at once. The test's own transaction is never
    /// committed, so the data both connections see is written and removed over dblink.
    #[pg_test]
    fn sessions_concurrent_refresh_from_two_connections() {
        // It commits rows (through dblink) that the bad-input table must not count.
        hold_committed_rows_lock();
        run("CREATE EXTENSION IF NOT EXISTS dblink");
        let conn = "'host=' || split_part(current_setting('unix_socket_directories'), ',', 1) || ' port=' || current_setting('port') || ' dbname=' || current_database() || ' user=' || current_user";
        run(&format!("SELECT dblink_connect('sconc_a', {conn})"));
        run(&format!("SELECT dblink_connect('sconc_b', {conn})"));
        let exec = |c: &str, sql: &str| {
            run(&format!("SELECT dblink_exec('{c}', {})", lit(sql)));
        };
        let cleanup = || {
            exec(
                "sconc_a",
                "DELETE FROM auth.users WHERE username = 'sconc_demo'",
            );
            exec("sconc_a", "DROP ROLE IF EXISTS sconc_web");
            exec(
                "sconc_a",
                "DELETE FROM auth.login_failures WHERE username = 'sconc_demo'",
            );
        };
        cleanup();
        exec("sconc_a", "CREATE ROLE sconc_web NOLOGIN");
        exec("sconc_a", "SET auth.bcrypt_cost = 4");
        exec("sconc_a", &format!("INSERT INTO auth.users (username, password, role) VALUES ('sconc_demo', {}, 'sconc_web')", lit(PASSWORD)));
        for c in ["sconc_a", "sconc_b"] {
            exec(c, "SET auth.tokens_in_body = on");
        }

        let remote = |c: &str, sql: &str| -> Option<String> {
            one::<String>(&format!(
                "SELECT r FROM dblink('{c}', {}) AS t(r text)",
                lit(sql)
            ))
        };
        let b_pid = remote("sconc_b", "SELECT pg_backend_pid()::text").unwrap();
        // Waits until B is blocked on a lock: a condition, polled, never a guess.
        let wait_blocked = || {
            let blocked = one::<bool>(&format!("SELECT tests.wait_for_lock_wait({b_pid})"));
            assert_eq!(blocked, Some(true), "B never waited on a lock");
        };
        let login = remote(
            "sconc_a",
            &format!("SELECT auth.login('sconc_demo', {})::text", lit(PASSWORD)),
        )
        .unwrap();
        let login: Value = serde_json::from_str(&login).unwrap();
        let t0 = login["refresh_token"].as_str().unwrap().to_string();
        let sid = remote(
            "sconc_a",
            &format!(
                "SELECT session_id::text FROM auth.refresh_tokens WHERE token_hash = {}",
                sha(&t0)
            ),
        )
        .unwrap();

        let race = |grace: i32| -> (Value, Value) {
            exec(
                "sconc_b",
                &format!("SET auth.refresh_reuse_interval = {grace}"),
            );
            // A refreshes inside an open transaction and so holds the token's row lock...
            exec("sconc_a", "BEGIN");
            let first = remote(
                "sconc_a",
                &format!("SELECT auth.refresh_token({})::text", lit(&t0)),
            )
            .unwrap();
            // ...while B's refresh of the same token has to wait for it.
            run(&format!(
                "SELECT dblink_send_query('sconc_b', {})",
                lit(&format!("SELECT auth.refresh_token({})::text", lit(&t0)))
            ));
            wait_blocked();
            assert_eq!(
                one::<i32>("SELECT dblink_is_busy('sconc_b')"),
                Some(1),
                "B waits for A's lock"
            );
            exec("sconc_a", "COMMIT");
            let second =
                one::<String>("SELECT r FROM dblink_get_result('sconc_b') AS t(r text)").unwrap();
            // Drain the end of B's result set.
            run("SELECT * FROM dblink_get_result('sconc_b', false) AS t(r text)");
            (
                serde_json::from_str(&first).unwrap(),
                serde_json::from_str(&second).unwrap(),
            )
        };
        let live = || -> i64 {
            remote("sconc_a", &format!("SELECT count(*)::text FROM auth.refresh_tokens WHERE session_id = '{sid}' AND spent_at IS NULL AND expires_at > now()")).unwrap().parse().unwrap()
        };

        // With the grace window: A rotates, B gets an access token only. One live token.
        let (first, second) = race(10);
        assert!(first["refresh_token"].is_string(), "{first}");
        assert!(second["access_token"].is_string(), "{second}");
        assert_eq!(second["refresh_token"], Value::Null, "{second}");
        assert_eq!(live(), 1);
        let t1 = first["refresh_token"].as_str().unwrap().to_string();

        // Without it: B's presentation of the spent token is reuse, the session is revoked.
        exec(
            "sconc_a",
            &format!(
                "UPDATE auth.refresh_tokens SET spent_at = NULL WHERE token_hash = {}",
                sha(&t0)
            ),
        );
        exec(
            "sconc_a",
            &format!(
                "DELETE FROM auth.refresh_tokens WHERE token_hash = {}",
                sha(&t1)
            ),
        );
        let (first, second) = race(0);
        assert!(first["refresh_token"].is_string(), "{first}");
        assert_eq!(second["code"], "PT401", "{second}");
        assert_eq!(live(), 1, "A's successor is the only unspent token");
        assert_eq!(
            remote(
                "sconc_a",
                &format!(
                    "SELECT (revoked_at IS NOT NULL)::text FROM auth.sessions WHERE id = '{sid}'"
                )
            )
            .as_deref(),
            Some("true"),
            "and its session is revoked"
        );

        // Parallel guesses at one username are serialized, so none slips past the failure count:
        // B's attempt waits until A's failure is committed.
        exec("sconc_a", "BEGIN");
        let first = remote(
            "sconc_a",
            "SELECT auth.login('sconc_demo', 'guess 1')::text",
        )
        .unwrap();
        run(&format!(
            "SELECT dblink_send_query('sconc_b', {})",
            lit("SELECT auth.login('sconc_demo', 'guess 2')::text")
        ));
        wait_blocked();
        assert_eq!(
            one::<i32>("SELECT dblink_is_busy('sconc_b')"),
            Some(1),
            "B's guess waits for A's"
        );
        exec("sconc_a", "COMMIT");
        let second =
            one::<String>("SELECT r FROM dblink_get_result('sconc_b') AS t(r text)").unwrap();
        run("SELECT * FROM dblink_get_result('sconc_b', false) AS t(r text)");
        for r in [&first, &second] {
            assert!(r.contains("Invalid user or password"), "{r}");
        }
        assert_eq!(
            count("SELECT count(*) FROM auth.login_failures WHERE username = 'sconc_demo'"),
            2,
            "both failures committed"
        );

        cleanup();
        run("SELECT dblink_disconnect('sconc_a'), dblink_disconnect('sconc_b')");
    }

    /// A login in flight and a change of the same user's password (or an admin's revocation, a
    /// global logout, a deletion) cannot both win: password checks lock the user's row, so
    /// whichever comes second waits for the first to commit. Each interleaving is forced: one
    /// connection holds its transaction open, the other is seen waiting on the lock (not slept
    /// on), then the first commits.
    #[pg_test]
    fn sessions_login_races_password_change_and_revocation() {
        // It commits rows (through dblink) that the bad-input table must not count.
        hold_committed_rows_lock();
        run("CREATE EXTENSION IF NOT EXISTS dblink");
        let conn = "'host=' || split_part(current_setting('unix_socket_directories'), ',', 1) || ' port=' || current_setting('port') || ' dbname=' || current_database() || ' user=' || current_user";
        run(&format!("SELECT dblink_connect('srace_a', {conn})"));
        run(&format!("SELECT dblink_connect('srace_b', {conn})"));
        let exec = |c: &str, sql: &str| {
            run(&format!("SELECT dblink_exec('{c}', {})", lit(sql)));
        };
        let remote = |c: &str, sql: &str| -> Option<String> {
            one::<String>(&format!(
                "SELECT r FROM dblink('{c}', {}) AS t(r text)",
                lit(sql)
            ))
        };
        let cleanup = || {
            exec(
                "srace_a",
                "DELETE FROM auth.users WHERE username = 'srace_demo'",
            );
            exec(
                "srace_a",
                "DELETE FROM auth.login_failures WHERE username = 'srace_demo'",
            );
            exec("srace_a", "DROP ROLE IF EXISTS srace_web");
        };
        cleanup();
        exec("srace_a", "CREATE ROLE srace_web NOLOGIN");
        for c in ["srace_a", "srace_b"] {
            exec(c, "SET auth.bcrypt_cost = 4");
            exec(c, "SET auth.tokens_in_body = on");
            // A lock wait that should not happen fails the test instead of hanging it.
            exec(c, "SET lock_timeout = '20s'");
        }
        exec("srace_a", &format!("INSERT INTO auth.users (username, password, role) VALUES ('srace_demo', {}, 'srace_web')", lit(PASSWORD)));
        let b_pid = remote("srace_b", "SELECT pg_backend_pid()::text").unwrap();
        let a_pid = remote("srace_a", "SELECT pg_backend_pid()::text").unwrap();
        // Waits until that backend is blocked on a lock: a condition, polled, never a guess.
        let wait_blocked = |pid: &str| {
            let blocked = one::<bool>(&format!("SELECT tests.wait_for_lock_wait({pid})"));
            assert_eq!(blocked, Some(true), "backend {pid} never waited on a lock");
        };
        let send = |c: &str, sql: &str| {
            run(&format!("SELECT dblink_send_query('{c}', {})", lit(sql)));
        };
        let result = |c: &str| -> String {
            let r = one::<String>(&format!(
                "SELECT r FROM dblink_get_result('{c}') AS t(r text)"
            ))
            .unwrap();
            run(&format!(
                "SELECT * FROM dblink_get_result('{c}', false) AS t(r text)"
            ));
            r
        };
        let login_in = |c: &str, password: &str| -> Value {
            serde_json::from_str(
                &remote(
                    c,
                    &format!("SELECT auth.login('srace_demo', {})::text", lit(password)),
                )
                .unwrap(),
            )
            .unwrap()
        };
        let live = |sid: &str| -> bool {
            remote("srace_b", &format!("SELECT (revoked_at IS NULL AND expires_at > now())::text FROM auth.sessions WHERE id = '{sid}'"))
                .as_deref()
                == Some("true")
        };
        let sid_of = |login: &Value| -> String {
            verified_claims(login["access_token"].as_str().unwrap())["sid"]
                .as_str()
                .unwrap()
                .to_string()
        };
        // B's own session, whose token proves B to change_password.
        let b_login = login_in("srace_b", PASSWORD);
        remote(
            "srace_b",
            &format!(
                "SELECT set_config('request.headers', {}, false)",
                lit(&bearer(b_login["access_token"].as_str().unwrap()))
            ),
        );

        // 1. The password change holds the row; a login with the old password waits, then sees
        //    the new hash and fails.
        exec("srace_b", "BEGIN");
        let changed = remote(
            "srace_b",
            &format!(
                "SELECT auth.change_password({}, 'second password')::text",
                lit(PASSWORD)
            ),
        )
        .unwrap();
        assert!(changed.contains("revoked_sessions"), "{changed}");
        send(
            "srace_a",
            &format!("SELECT auth.login('srace_demo', {})::text", lit(PASSWORD)),
        );
        wait_blocked(&a_pid);
        exec("srace_b", "COMMIT");
        let old = result("srace_a");
        assert!(old.contains("Invalid user or password"), "{old}");

        // 2. A login holds the row; the password change waits, then ends the new session too.
        exec("srace_a", "BEGIN");
        let a_login = login_in("srace_a", "second password");
        send(
            "srace_b",
            "SELECT auth.change_password('second password', 'third password')::text",
        );
        wait_blocked(&b_pid);
        exec("srace_a", "COMMIT");
        let changed = result("srace_b");
        assert!(changed.contains(r#""revoked_sessions": 1"#), "{changed}");
        assert!(
            !live(&sid_of(&a_login)),
            "the session of the racing login is ended"
        );

        // 3. An admin's revocation waits for a login in flight, then ends its session.
        exec("srace_a", "BEGIN");
        let a_login = login_in("srace_a", "third password");
        send(
            "srace_b",
            "SELECT auth.revoke_user_sessions('srace_demo')::text",
        );
        wait_blocked(&b_pid);
        exec("srace_a", "COMMIT");
        assert_eq!(result("srace_b"), "2", "the racing session and B's own");
        assert!(!live(&sid_of(&a_login)));

        // 4. A global logout likewise.
        let b_login = login_in("srace_b", "third password");
        remote(
            "srace_b",
            &format!(
                "SELECT set_config('request.headers', {}, false)",
                lit(&bearer(b_login["access_token"].as_str().unwrap()))
            ),
        );
        exec("srace_a", "BEGIN");
        let a_login = login_in("srace_a", "third password");
        send("srace_b", "SELECT auth.logout('global')::text");
        wait_blocked(&b_pid);
        exec("srace_a", "COMMIT");
        result("srace_b");
        assert!(!live(&sid_of(&a_login)));
        assert!(!live(&sid_of(&b_login)));

        // 5. Deleting the user waits for the login in flight; its session goes with the user.
        exec("srace_a", "BEGIN");
        let a_login = login_in("srace_a", "third password");
        send(
            "srace_b",
            "DELETE FROM auth.users WHERE username = 'srace_demo' RETURNING username",
        );
        wait_blocked(&b_pid);
        exec("srace_a", "COMMIT");
        assert_eq!(result("srace_b"), "srace_demo");
        assert_eq!(
            remote(
                "srace_b",
                &format!(
                    "SELECT count(*)::text FROM auth.sessions WHERE id = '{}'",
                    sid_of(&a_login)
                )
            )
            .as_deref(),
            Some("0")
        );

        // 6. The advisory-lock key 0.1.0 serialized logins on is free for any role to take; a
        //    role holding it blocks nothing now.
        exec("srace_a", &format!("INSERT INTO auth.users (username, password, role) VALUES ('srace_demo', {}, 'srace_web')", lit(PASSWORD)));
        exec("srace_b", "BEGIN");
        remote(
            "srace_b",
            "SELECT pg_advisory_xact_lock(hashtextextended('auth.login:srace_demo', 0))::text",
        );
        let ok = login_in("srace_a", PASSWORD);
        assert!(ok["access_token"].is_string(), "{ok}");
        exec("srace_b", "COMMIT");

        // 7. auth.delete_user waits for a login in flight; its session goes with the user.
        exec("srace_a", "BEGIN");
        let a_login = login_in("srace_a", PASSWORD);
        send("srace_b", "SELECT auth.delete_user('srace_demo')::text");
        wait_blocked(&b_pid);
        exec("srace_a", "COMMIT");
        assert_eq!(result("srace_b"), "true");
        assert_eq!(
            remote(
                "srace_b",
                &format!(
                    "SELECT count(*)::text FROM auth.sessions WHERE id = '{}' OR username = 'srace_demo'",
                    sid_of(&a_login)
                )
            )
            .as_deref(),
            Some("0")
        );

        // 8. A login that comes while auth.delete_user holds the row waits, then finds no user.
        exec("srace_a", &format!("INSERT INTO auth.users (username, password, role) VALUES ('srace_demo', {}, 'srace_web')", lit(PASSWORD)));
        exec("srace_b", "BEGIN");
        assert_eq!(
            remote("srace_b", "SELECT auth.delete_user('srace_demo')::text").as_deref(),
            Some("true")
        );
        send(
            "srace_a",
            &format!("SELECT auth.login('srace_demo', {})::text", lit(PASSWORD)),
        );
        wait_blocked(&a_pid);
        exec("srace_b", "COMMIT");
        let late = result("srace_a");
        assert!(late.contains("Invalid user or password"), "{late}");
        assert_eq!(
            remote(
                "srace_b",
                "SELECT count(*)::text FROM auth.sessions WHERE username = 'srace_demo'"
            )
            .as_deref(),
            Some("0")
        );

        cleanup();
        run("SELECT dblink_disconnect('srace_a'), dblink_disconnect('srace_b')");
    }

    /// Every function that checks or changes a credential answers a READ ONLY transaction (GET and
    /// HEAD over PostgREST) and a request that asked to be rolled back (Prefer: tx=rollback) with
    /// one refusal, the same for every input, before it reads any argument: no password oracle,
    /// nothing probed, nothing spent or recorded.
    #[pg_test]
    fn sessions_read_only_and_rolled_back_requests_are_refused_alike() {
        let user = setup("sro");
        let (sid, access, refresh) = login_sid("sro", &user);
        let state = || {
            text(&format!(
                "SELECT (SELECT count(*) FROM auth.login_failures WHERE username IN ('{user}', 'nobody at all', 'x'))::text || '/' || \
                 (SELECT count(*) FROM auth.refresh_tokens r JOIN auth.sessions s ON s.id = r.session_id \
                  WHERE s.username = '{user}' AND r.spent_at IS NOT NULL)::text || '/' || \
                 (SELECT count(*) FROM auth.sessions WHERE username = '{user}' AND revoked_at IS NOT NULL)::text || '/' || \
                 (SELECT password FROM auth.users WHERE username = '{user}')"
            ))
        };
        let before = state();
        let calls = [
            (
                "sro_anon",
                format!("auth.login({}, {})", lit(&user), lit(PASSWORD)),
            ),
            ("sro_anon", format!("auth.login({}, 'wrong')", lit(&user))),
            (
                "sro_anon",
                "auth.login('nobody at all', 'wrong')".to_string(),
            ),
            ("sro_anon", "auth.login(NULL, NULL)".to_string()),
            ("sro_anon", "auth.login('x', '')".to_string()),
            ("sro_anon", format!("auth.refresh_token({})", lit(&refresh))),
            ("sro_anon", "auth.refresh_token('not a token')".to_string()),
            ("sro_anon", "auth.refresh_token()".to_string()),
            ("sro_anon", "auth.logout('global')".to_string()),
            ("sro_anon", "auth.logout('nonsense')".to_string()),
            (
                "sro_web",
                format!("auth.change_password({}, 'other password')", lit(PASSWORD)),
            ),
            ("sro_web", "auth.change_password(NULL, NULL)".to_string()),
        ];
        let cookies =
            serde_json::json!({ "refresh_token": refresh, "access_token": access }).to_string();
        let mut answers = std::collections::BTreeSet::new();
        for read_only in [true, false] {
            for (role, call) in &calls {
                // READ ONLY, as PostgREST begins a GET; else READ WRITE with Prefer: tx=rollback.
                let headers = if read_only {
                    bearer(&access)
                } else {
                    serde_json::json!({
                        "authorization": format!("Bearer {access}"),
                        "prefer": "return=representation, tx=rollback"
                    })
                    .to_string()
                };
                let r = Request::post(role)
                    .method(if read_only { "GET" } else { "POST" })
                    .claims(verified_claims(&access))
                    .cookies(&cookies)
                    .headers(&headers)
                    .call(&format!("SELECT {call}"));
                answers.insert(r.outcome());
            }
        }
        assert_eq!(answers.len(), 1, "{answers:?}");
        let answer = answers.into_iter().next().unwrap();
        assert!(answer.starts_with("25006: "), "{answer}");
        assert!(answer.contains("POST"), "{answer}");
        assert_eq!(state(), before, "nothing recorded, spent or revoked");
        assert!(session_live(&sid));
        // The same refresh token still works once, with a POST.
        let r = refresh_with_cookie("sro", &refresh);
        assert_eq!(r.status, None);
    }
}
