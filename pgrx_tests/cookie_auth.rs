//! Cookie authentication in auth.check_request (auth.cookie_auth), the cross-site rule of
//! cookie-authenticated requests and of login/refresh_token/logout, the cookie names and
//! attributes, and the cache of verified cookie tokens — in PostgREST-shaped requests
//! (`Request`), as PostgREST alone runs them: no bearer token, the cookie in `request.cookies`.

#[pgrx::pg_schema]
mod tests {
    use crate::pgrx_tests::common::{lit, one, postgrest_roles, run, text, Request, Response};
    use pgrx::prelude::*;
    use serde_json::{json, Value};

    const PASSWORD: &str = "cookie password";

    /// Roles `<tag>_anon` and `<tag>_web` as the docs set them up (grant_session_access,
    /// grant_request_check), a table the web role writes, and user `<tag>_demo`.
    fn setup(tag: &str) {
        postgrest_roles(tag, true);
        run(&format!(
            "GRANT USAGE ON SCHEMA tests TO {tag}_anon, {tag}_web"
        ));
        run(&format!("CREATE TABLE tests.{tag}_log (who text)"));
        run(&format!(
            "GRANT SELECT, INSERT ON tests.{tag}_log TO {tag}_anon, {tag}_web"
        ));
        run(&format!(
            "INSERT INTO auth.users (username, password, role) VALUES ('{tag}_demo', {}, '{tag}_web')",
            lit(PASSWORD)
        ));
    }

    fn anon(tag: &str) -> String {
        format!("{tag}_anon")
    }

    fn anon_claims(tag: &str) -> String {
        format!(r#"{{"role":"{tag}_anon"}}"#)
    }

    /// A POST as PostgREST alone runs it without a token, with these cookies and headers, cookie
    /// authentication on, the hook first.
    fn cookie_request(tag: &str, cookies: &Value, headers: &Value) -> Request {
        Request::post(&anon(tag))
            .claims(anon_claims(tag))
            .cookies(cookies)
            .headers(headers)
            .setting("auth.cookie_auth", "on")
            .hook()
    }

    fn same_origin() -> Value {
        json!({"sec-fetch-site": "same-origin", "origin": "https://app.example"})
    }

    /// Logs `<tag>_demo` in (cookie authentication on, a same-origin fetch) and returns the
    /// response.
    fn login(tag: &str) -> Response {
        cookie_request(tag, &json!({}), &same_origin())
            .path("/rpc/login")
            .call(&format!(
                "SELECT auth.login('{tag}_demo', {})::text",
                lit(PASSWORD)
            ))
            .ok()
    }

    /// Who the request ran as: `current_user`, the sub of request.jwt.claims, the sid.
    const WHO: &str = "SELECT current_user || ' ' || coalesce(auth.uid()::text, '-') || ' ' || \
                       coalesce(current_setting('request.jwt.claims', true)::jsonb ->> 'sid', '-')";

    fn who(r: Request) -> String {
        let got = r.call(WHO);
        assert!(got.error.is_none(), "{got:?}");
        got.result.unwrap()
    }

    fn access(resp: &Response) -> String {
        resp.cookie("access_token").expect("an access_token cookie")
    }

    fn sid_of(token: &str) -> String {
        text(&format!("SELECT auth.jwt_verify({}) ->> 'sid'", lit(token)))
    }

    fn log_rows(tag: &str) -> i64 {
        one::<i64>(&format!("SELECT count(*) FROM tests.{tag}_log")).unwrap()
    }

    #[pg_test]
    fn cookie_auth_switches_to_the_users_role() {
        setup("ck_sw");
        let token = access(&login("ck_sw"));
        let sid = sid_of(&token);
        let cookies = json!({ "access_token": token });
        let me = format!("ck_sw_web ck_sw_demo {sid}");
        // GET and POST (same origin): the user's role, claims and session.
        let get = cookie_request("ck_sw", &cookies, &json!({})).method("GET");
        assert_eq!(who(get), me);
        assert_eq!(who(cookie_request("ck_sw", &cookies, &same_origin())), me);
        // The claims are the verified token's, whole.
        let claims = cookie_request("ck_sw", &cookies, &same_origin())
            .call("SELECT current_setting('request.jwt.claims')")
            .ok()
            .result
            .unwrap();
        let claims: Value = serde_json::from_str(&claims).unwrap();
        assert_eq!(claims, crate::pgrx_tests::common::claims_of(&token));
        // Off (the default): the same request stays anonymous.
        let off = Request::post("ck_sw_anon")
            .claims(anon_claims("ck_sw"))
            .cookies(&cookies)
            .headers(same_origin())
            .hook();
        assert_eq!(who(off), "ck_sw_anon - -");
        // Unset claims (a SQL caller, not PostgREST): anonymous by the rule too.
        let unset = Request::post("ck_sw_anon")
            .cookies(&cookies)
            .headers(same_origin())
            .setting("auth.cookie_auth", "on")
            .hook();
        assert_eq!(who(unset), me);
    }

    #[pg_test]
    fn cookie_auth_bearer_and_tokens_win() {
        setup("ck_bw");
        let token = access(&login("ck_bw"));
        let cookies = json!({ "access_token": token });
        // A bearer token in Authorization: the cookie is not used (PostgREST verified the token
        // and set claims from it; even if they only named the anonymous role, the token wins).
        let bearer = json!({"authorization": "Bearer x.y.z", "sec-fetch-site": "same-origin"});
        assert_eq!(
            who(cookie_request("ck_bw", &cookies, &bearer)),
            "ck_bw_anon - -"
        );
        // Claims other than {"role": <current role>}: a token's, never replaced by the cookie.
        for claims in [
            r#"{"role":"ck_bw_anon","sub":"someone"}"#.to_string(),
            r#"{"role":"ck_bw_web"}"#.to_string(),
            "not json".to_string(),
        ] {
            let r = Request::post("ck_bw_anon")
                .claims(&claims)
                .cookies(&cookies)
                .headers(same_origin())
                .setting("auth.cookie_auth", "on")
                .call("SELECT current_user::text")
                .ok();
            assert_eq!(r.result.as_deref(), Some("ck_bw_anon"), "{claims}");
        }
        // /rpc/login runs as the anonymous role it is granted to, with or without the cookie.
        let r = cookie_request("ck_bw", &cookies, &same_origin()).path("/rpc/login");
        assert_eq!(who(r), "ck_bw_anon - -");
        let again = cookie_request("ck_bw", &cookies, &same_origin())
            .path("/rpc/login")
            .call(&format!(
                "SELECT auth.login('ck_bw_demo', {})::text",
                lit(PASSWORD)
            ))
            .ok();
        assert!(again.cookie("access_token").is_some());
    }

    #[pg_test]
    fn cookie_auth_refusals_leave_the_request_anonymous() {
        setup("ck_rf");
        let token = access(&login("ck_rf"));
        let sid = sid_of(&token);
        let anonymous = |cookie: &str, settings: &[(&str, &str)]| -> String {
            let mut r = cookie_request("ck_rf", &json!({ "access_token": cookie }), &same_origin());
            for (k, v) in settings {
                r = r.setting(k, v);
            }
            who(r)
        };
        let me = format!("ck_rf_web ck_rf_demo {sid}");
        assert_eq!(anonymous(&token, &[]), me);
        // Garbage, a tampered signature, another key, a token without sid, an expired token, a
        // token of another audience: anonymous, never an error.
        // One character inside the signature changed (not the last, whose low bits are padding).
        let at = token.len() - 10;
        let swap = if &token[at..at + 1] == "A" { "B" } else { "A" };
        let tampered = format!("{}{swap}{}", &token[..at], &token[at + 1..]);
        let now = one::<i64>("SELECT extract(epoch FROM now())::bigint").unwrap();
        let sign = |claims: Value| {
            text(&format!(
                "SELECT auth.jwt_sign({}::jsonb)",
                lit(&claims.to_string())
            ))
        };
        let base = json!({"sub": "ck_rf_demo", "role": "ck_rf_web", "sid": sid});
        let mut no_sid = base.clone();
        no_sid.as_object_mut().unwrap().remove("sid");
        let mut expired = base.clone();
        expired["exp"] = json!(now - 31);
        let mut in_leeway = base.clone();
        in_leeway["exp"] = json!(now - 10);
        let other_key = text(&format!(
            "SELECT auth.sign({}::json, 'another-secret-of-at-least-32-bytes!!')",
            lit(&base.to_string())
        ));
        for bad in [
            "garbage".to_string(),
            "a.b.c".to_string(),
            tampered,
            other_key,
            sign(no_sid),
            sign(expired),
        ] {
            assert_eq!(anonymous(&bad, &[]), "ck_rf_anon - -", "{bad}");
        }
        let leeway = sign(in_leeway);
        assert_eq!(anonymous(&leeway, &[]), me);
        // Cached now; the cache never vouches past exp: with no leeway it is refused at once,
        // and under an audience it does not carry.
        assert_eq!(
            anonymous(&leeway, &[("auth.jwt_leeway", "0")]),
            "ck_rf_anon - -"
        );
        assert_eq!(anonymous(&leeway, &[]), me);
        assert_eq!(
            anonymous(&leeway, &[("auth.jwt_audience", "elsewhere")]),
            "ck_rf_anon - -"
        );
        // Another server key: the cached verification is not used.
        assert_eq!(anonymous(&token, &[]), me);
        assert_eq!(
            anonymous(
                &token,
                &[("auth.jwt_secret", "a-different-secret-of-at-least-32-bytes")]
            ),
            "ck_rf_anon - -"
        );
        assert_eq!(anonymous(&token, &[]), me);
        // The role must be enabled by grant_request_check (auth.request_roles).
        run("DELETE FROM auth.request_roles WHERE role = 'ck_rf_web'");
        assert_eq!(anonymous(&token, &[]), "ck_rf_anon - -");
        run("SELECT auth.grant_request_check(ARRAY['ck_rf_web']::name[])");
        assert_eq!(anonymous(&token, &[]), me);
        // A token naming a role the user no longer holds: not used, not even its own role.
        run("CREATE ROLE ck_rf_other NOLOGIN");
        run("SELECT auth.grant_request_check(ARRAY['ck_rf_other']::name[])");
        run("UPDATE auth.users SET role = 'ck_rf_other' WHERE username = 'ck_rf_demo'");
        assert_eq!(anonymous(&token, &[]), "ck_rf_anon - -");
        run("UPDATE auth.users SET role = 'ck_rf_web' WHERE username = 'ck_rf_demo'");
        assert_eq!(anonymous(&token, &[]), me);
        // A token for another user's session.
        let mut wrong_sub = base.clone();
        wrong_sub["sub"] = json!("someone_else");
        assert_eq!(anonymous(&sign(wrong_sub), &[]), "ck_rf_anon - -");
        // An ended session: anonymous at the very next request, cached or not.
        run(&format!(
            "UPDATE auth.sessions SET revoked_at = now() WHERE id = '{sid}'"
        ));
        assert_eq!(anonymous(&token, &[]), "ck_rf_anon - -");
        // The cookie sent twice (cookie tossing, raw header through a gateway): not used.
        let tossed = cookie_request(
            "ck_rf",
            &json!({}),
            &json!({"sec-fetch-site": "same-origin",
                    "cookie": format!("access_token={token}; access_token={token}")}),
        );
        assert_eq!(who(tossed), "ck_rf_anon - -");
    }

    #[pg_test]
    fn cookie_auth_cross_site_writes_are_refused() {
        setup("ck_cs");
        let token = access(&login("ck_cs"));
        let cookies = json!({ "access_token": token });
        let insert = "INSERT INTO tests.ck_cs_log VALUES (current_user) RETURNING who";
        let run_with = |headers: Value, settings: &[(&str, &str)], method: &str| -> Response {
            let mut r = cookie_request("ck_cs", &cookies, &headers).method(method);
            for (k, v) in settings {
                r = r.setting(k, v);
            }
            r.call(if method == "POST" { insert } else { WHO })
        };
        let origins = [(
            "auth.allowed_origins",
            "https://app.example, http://127.0.0.1:8080",
        )];
        // Refused: PT403, nothing written.
        for (headers, settings) in [
            (json!({}), &[][..]),
            (json!({"sec-fetch-site": "cross-site"}), &[][..]),
            (
                json!({"sec-fetch-site": "cross-site", "origin": "https://app.example"}),
                &origins[..],
            ),
            (json!({"sec-fetch-site": "same-site"}), &[][..]),
            (json!({"sec-fetch-site": "none"}), &[][..]),
            (json!({"origin": "https://evil.example"}), &origins[..]),
            (json!({"origin": "null"}), &origins[..]),
            (json!({"origin": "https://app.example"}), &[][..]),
        ] {
            let r = run_with(headers.clone(), settings, "POST");
            let (state, message) = r.failure();
            assert_eq!(state, "PT403", "{headers}");
            assert!(
                message.starts_with("cross-site request refused"),
                "{message}"
            );
            assert!(!message.contains(&token));
        }
        assert_eq!(log_rows("ck_cs"), 0);
        // Allowed: same origin; same site when configured; a listed origin without
        // Sec-Fetch-Site; safe methods whatever the headers.
        for (headers, settings) in [
            (json!({"sec-fetch-site": "same-origin"}), &[][..]),
            (
                json!({"sec-fetch-site": "same-site"}),
                &[("auth.csrf_allow_same_site", "on")][..],
            ),
            (json!({"origin": "http://127.0.0.1:8080"}), &origins[..]),
        ] {
            let r = run_with(headers.clone(), settings, "POST");
            assert_eq!(
                r.clone().ok().result.as_deref(),
                Some("ck_cs_web"),
                "{headers}"
            );
        }
        assert_eq!(log_rows("ck_cs"), 3);
        for method in ["GET", "HEAD"] {
            let r = run_with(json!({"sec-fetch-site": "cross-site"}), &[], method);
            assert!(r.ok().result.unwrap().starts_with("ck_cs_web "));
        }
        // A request without the cookie (or with a refused one) is anonymous: the rule is not
        // applied, and what anon may do it does.
        let anon = Request::post("ck_cs_anon")
            .claims(anon_claims("ck_cs"))
            .headers(json!({"sec-fetch-site": "cross-site"}))
            .setting("auth.cookie_auth", "on")
            .hook()
            .call(insert)
            .ok();
        assert_eq!(anon.result.as_deref(), Some("ck_cs_anon"));
        // Bearer-token requests are not affected (claims carry the token's markers).
        let bearer = Request::with_claims(
            &crate::pgrx_tests::common::claims_of(&token).to_string(),
            "ck_cs_anon",
        )
        .headers(json!({"sec-fetch-site": "cross-site"}))
        .setting("auth.cookie_auth", "on")
        .hook()
        .call(insert)
        .ok();
        assert_eq!(bearer.result.as_deref(), Some("ck_cs_web"));
    }

    #[pg_test]
    fn cookie_auth_session_functions_refuse_cross_site() {
        setup("ck_sf");
        let cross = json!({"sec-fetch-site": "cross-site", "origin": "https://evil.example"});
        let failures = || {
            one::<i64>("SELECT count(*) FROM auth.login_failures WHERE username = 'ck_sf_demo'")
                .unwrap()
        };
        let sessions = || {
            one::<i64>("SELECT count(*) FROM auth.sessions WHERE username = 'ck_sf_demo'").unwrap()
        };
        // Login CSRF: a cross-site login (no cookie yet) is refused before the password is
        // looked at: no session, no failure recorded, right or wrong password.
        for password in [PASSWORD, "wrong password"] {
            let r = cookie_request("ck_sf", &json!({}), &cross)
                .path("/rpc/login")
                .call(&format!(
                    "SELECT auth.login('ck_sf_demo', {})::text",
                    lit(password)
                ));
            assert_eq!(r.failure().0, "PT403");
        }
        assert_eq!((failures(), sessions()), (0, 0));
        // A client that is no browser (no cookie, no Sec-Fetch-Site, no Origin) logs in.
        let plain = cookie_request("ck_sf", &json!({}), &json!({}))
            .path("/rpc/login")
            .call(&format!(
                "SELECT auth.login('ck_sf_demo', {})::text",
                lit(PASSWORD)
            ))
            .ok();
        let refresh = plain.cookie("refresh_token").unwrap();
        let access = plain.cookie("access_token").unwrap();
        let sid = sid_of(&access);
        // refresh_token and logout with the cookies, cross-site: refused, nothing spent or ended.
        let with_cookies = json!({"refresh_token": refresh, "access_token": access});
        for call in ["auth.refresh_token()", "auth.logout()"] {
            let r = cookie_request("ck_sf", &with_cookies, &cross)
                .path("/rpc/x")
                .call(&format!("SELECT ({call})::text"));
            assert_eq!(r.failure().0, "PT403", "{call}");
            // Also with the refresh cookie alone (the hook leaves the request anonymous; the
            // function itself refuses).
            let r = cookie_request("ck_sf", &json!({"refresh_token": refresh}), &cross)
                .call(&format!("SELECT ({call})::text"));
            assert_eq!(r.failure().0, "PT403", "{call}");
        }
        assert_eq!(
            one::<i64>(&format!("SELECT count(*) FROM auth.refresh_tokens WHERE session_id = '{sid}' AND spent_at IS NULL")),
            Some(1)
        );
        assert_eq!(
            one::<bool>(&format!(
                "SELECT revoked_at IS NULL FROM auth.sessions WHERE id = '{sid}'"
            )),
            Some(true)
        );
        // Same origin: they work.
        let r = cookie_request("ck_sf", &json!({"refresh_token": refresh}), &same_origin())
            .call("SELECT auth.refresh_token()::text")
            .ok();
        assert!(r.cookie("refresh_token").is_some_and(|t| !t.is_empty()));
        // With cookie authentication off, nothing changes for any of them.
        let off = Request::post("ck_sf_anon")
            .claims(anon_claims("ck_sf"))
            .headers(&cross)
            .call(&format!(
                "SELECT auth.login('ck_sf_demo', {})::text",
                lit(PASSWORD)
            ))
            .ok();
        assert!(off.cookie("access_token").is_some());
    }

    #[pg_test]
    fn cookie_auth_applies_the_roles_settings() {
        setup("ck_rs");
        run("ALTER ROLE ck_rs_web SET statement_timeout = '4321ms'");
        run("ALTER ROLE ck_rs_web SET default_transaction_isolation = 'serializable'");
        run("ALTER ROLE ck_rs_web SET lock_timeout = '2s'");
        // PostgREST applies a role's settings only for roles its authenticator is a direct
        // member of; the test's session user plays the authenticator.
        run("DO $$ BEGIN EXECUTE format('GRANT ck_rs_web TO %I', session_user); END $$");
        let token = access(&login("ck_rs"));
        // GET requests: rolled back at their end, settings and all.
        let read = "SELECT current_setting('statement_timeout') || ' ' || current_setting('lock_timeout') \
                    || ' ' || current_setting('default_transaction_isolation')";
        let r = cookie_request("ck_rs", &json!({ "access_token": token }), &same_origin())
            .method("GET")
            .call(read)
            .ok();
        let isolation = text("SELECT current_setting('default_transaction_isolation')");
        assert_eq!(r.result, Some(format!("4321ms 2s {isolation}")));
        assert_ne!(isolation, "serializable");
        // Not a direct member: PostgREST would not apply them, and neither does the hook.
        run("DO $$ BEGIN EXECUTE format('REVOKE ck_rs_web FROM %I', session_user); END $$");
        let before = text("SELECT current_setting('statement_timeout')");
        let r = cookie_request("ck_rs", &json!({ "access_token": token }), &same_origin())
            .method("GET")
            .call("SELECT current_user || ' ' || current_setting('statement_timeout')")
            .ok();
        assert_eq!(r.result, Some(format!("ck_rs_web {before}")));
    }

    #[pg_test]
    fn cookie_names_and_attributes() {
        setup("ck_nm");
        let login_with = |settings: &[(&str, &str)]| -> Response {
            let mut r = Request::post("ck_nm_anon")
                .claims(anon_claims("ck_nm"))
                .headers("{}");
            for (k, v) in settings {
                r = r.setting(k, v);
            }
            r.call(&format!(
                "SELECT auth.login('ck_nm_demo', {})::text",
                lit(PASSWORD)
            ))
        };
        // Defaults.
        let r = login_with(&[]).ok();
        assert!(r
            .set_cookie("access_token")
            .unwrap()
            .contains("; Path=/; Max-Age="));
        assert!(!r.set_cookie("access_token").unwrap().contains("Domain="));
        // Names and a domain.
        let named = [
            ("auth.access_cookie_name", "app_at"),
            ("auth.refresh_cookie_name", "app_rt"),
            ("auth.cookie_domain", "example.com"),
        ];
        let r = login_with(&named).ok();
        let at = r.set_cookie("app_at").expect("app_at");
        assert!(at.contains("; Path=/; Domain=example.com; "), "{at}");
        let rt = r.set_cookie("app_rt").expect("app_rt");
        assert!(
            rt.contains("; Path=/rpc/refresh_token; Domain=example.com; "),
            "{rt}"
        );
        assert!(r.set_cookie("access_token").is_none());
        // Every reader uses them: refresh by the configured cookie (the default name is not
        // read), the hook by the configured access cookie, logout by both.
        let refresh_by = |cookies: Value, settings: &[(&str, &str)]| -> Response {
            let mut r = Request::post("ck_nm_anon")
                .claims(anon_claims("ck_nm"))
                .cookies(cookies)
                .headers("{}");
            for (k, v) in settings {
                r = r.setting(k, v);
            }
            r.call("SELECT auth.refresh_token()::text").ok()
        };
        let rt_value = r.cookie("app_rt").unwrap();
        assert_eq!(
            refresh_by(json!({"refresh_token": rt_value}), &named)
                .status
                .as_deref(),
            Some("401")
        );
        let ok = refresh_by(json!({"app_rt": rt_value}), &named);
        assert_eq!(ok.status, None);
        let at_value = ok.cookie("app_at").unwrap();
        let mut hook = Request::post("ck_nm_anon")
            .claims(anon_claims("ck_nm"))
            .cookies(json!({"app_at": at_value}))
            .headers(same_origin())
            .setting("auth.cookie_auth", "on")
            .hook();
        for (k, v) in named {
            hook = hook.setting(k, v);
        }
        assert!(who(hook.clone()).starts_with("ck_nm_web ck_nm_demo "));
        let sid = sid_of(&at_value);
        let out = hook.call("SELECT auth.logout()::text").ok();
        assert!(out.set_cookie("app_at").unwrap().contains("Max-Age=0"));
        assert!(out.set_cookie("app_rt").unwrap().contains("Max-Age=0"));
        assert_eq!(
            one::<bool>(&format!(
                "SELECT revoked_at IS NOT NULL FROM auth.sessions WHERE id = '{sid}'"
            )),
            Some(true)
        );
        // The __Host- prefix: Path=/, Secure, no Domain; the refresh cookie, whose path is
        // narrow, is __Secure-.
        let r = login_with(&[("auth.cookie_host_prefix", "on")]).ok();
        let at = r
            .set_cookie("__Host-access_token")
            .expect("__Host-access_token");
        assert!(at.contains("; Path=/; ") && at.ends_with("; Secure") && !at.contains("Domain"));
        let rt = r
            .set_cookie("__Secure-refresh_token")
            .expect("__Secure-refresh_token");
        assert!(rt.contains("; Path=/rpc/refresh_token; ") && rt.ends_with("; Secure"));
        // Refused configurations: 22023 before anything is written.
        let sessions = || {
            one::<i64>("SELECT count(*) FROM auth.sessions WHERE username = 'ck_nm_demo'").unwrap()
        };
        let n = sessions();
        for settings in [
            &[
                ("auth.cookie_host_prefix", "on"),
                ("auth.cookie_secure", "off"),
            ][..],
            &[
                ("auth.cookie_host_prefix", "on"),
                ("auth.cookie_domain", "example.com"),
            ][..],
            &[("auth.access_cookie_name", "__Host-x")][..],
            &[("auth.access_cookie_name", "a b")][..],
            &[("auth.refresh_cookie_name", "access_token")][..],
            &[("auth.cookie_domain", "example.com; Secure")][..],
        ] {
            let (state, _) = login_with(settings).failure();
            assert_eq!(state, "22023", "{settings:?}");
        }
        assert_eq!(sessions(), n);
    }

    #[pg_test]
    fn cookie_auth_request_roles_recorded() {
        run("CREATE ROLE ck_rr_a NOLOGIN");
        run("CREATE ROLE ck_rr_b NOLOGIN");
        run("SELECT auth.grant_request_check(ARRAY['ck_rr_a', 'ck_rr_b', 'ck_rr_a']::name[])");
        assert_eq!(
            one::<String>("SELECT string_agg(role::text, ',' ORDER BY role) FROM auth.request_roles WHERE role::text LIKE 'ck_rr_%'"),
            Some("ck_rr_a,ck_rr_b".into())
        );
        // The helpers of the hook are granted with it, and to no one else.
        for f in [
            "auth_private._cookie_claims(text)",
            "auth_private._cookie_role(text)",
            "auth_private._role_settings(name)",
        ] {
            assert_eq!(
                one::<bool>(&format!(
                    "SELECT has_function_privilege('ck_rr_a', '{f}', 'EXECUTE')"
                )),
                Some(true)
            );
            assert_eq!(
                one::<bool>(&format!(
                    "SELECT EXISTS (SELECT FROM pg_proc p, aclexplode(p.proacl) a WHERE p.oid = '{f}'::regprocedure AND a.grantee = 0)"
                )),
                Some(false)
            );
        }
    }
}
