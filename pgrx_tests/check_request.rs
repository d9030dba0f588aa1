//! auth.check_request, PostgREST's db-pre-request hook, in PostgREST-shaped transactions: READ
//! ONLY (GET) and READ WRITE (POST), for anonymous requests, API tokens, exchanged API keys and
//! login sessions, with and without the proxy secret.

use pgrx::prelude::*;

extension_sql!(
    r#"
-- A login session for sid tests: a new user of `role` in auth.users and a row of auth.sessions.
CREATE FUNCTION tests.new_session(role name, expires_at timestamptz, revoked_at timestamptz DEFAULT NULL)
RETURNS uuid LANGUAGE plpgsql AS $$
DECLARE
    id uuid := pg_catalog.gen_random_uuid();
    who text := 'tests_user_' || pg_catalog.left(id::text, 8);
BEGIN
    PERFORM pg_catalog.set_config('auth.bcrypt_cost', '4', true);
    EXECUTE 'INSERT INTO auth.users (username, password, role) VALUES ($1, $2, $3)'
        USING who, 'a password for ' || who, role;
    EXECUTE 'INSERT INTO auth.sessions (id, username, expires_at, revoked_at) VALUES ($1, $2, $3, $4)'
        USING id, who, expires_at, revoked_at;
    RETURN id;
END
$$;

-- Runs `stmt` while this transaction holds a row lock on API token `tid` (as a long request
-- using the token would), then releases the lock by rolling the subtransaction back.
CREATE FUNCTION tests.with_row_locked(tid uuid, stmt text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    result text;
BEGIN
    BEGIN
        PERFORM FROM auth.api_tokens WHERE id = tid FOR UPDATE;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'token % is not visible', tid;
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
    name = "tests_check_request",
    requires = ["tests_common"]
);

#[pgrx::pg_schema]
mod tests {
    use crate::pgrx_tests::common::{
        assert_error, claims_of, hold_committed_rows_lock, lit, make_roles, one, run, text, Request,
    };
    use pgrx::prelude::*;
    use serde_json::{json, Value};

    fn no_headers() -> Value {
        json!({"accept": "*/*"})
    }

    /// A request with these claims (its role theirs, else `{tag}_anon`) and headers: READ ONLY
    /// like a GET when `read_only`, else READ WRITE like a POST; the hook runs first.
    fn request(tag: &str, claims: &str, headers: &Value, read_only: bool) -> Request {
        let r = Request::with_claims(claims, &format!("{tag}_anon"))
            .headers(headers)
            .hook();
        if read_only {
            r.method("GET")
        } else {
            r
        }
    }

    /// Only the hook of such a request: `"ok"` or `"SQLSTATE: message"`.
    fn pre_request(tag: &str, claims: &str, headers: &Value, read_only: bool) -> String {
        request(tag, claims, headers, read_only).pre_request()
    }

    /// Both a GET and a POST with these claims and headers; asserts they agree and returns the
    /// outcome.
    fn get_and_post(tag: &str, claims: &str, headers: &Value) -> String {
        let get = pre_request(tag, claims, headers, true);
        let post = pre_request(tag, claims, headers, false);
        assert_eq!(get, post, "GET and POST differ for {claims}");
        get
    }

    fn token_claims(tag: &str) -> (String, String) {
        let token = text(&format!("SELECT auth.create_api_token('t', '{tag}_web')"));
        let c = claims_of(&token);
        (c["tid"].as_str().unwrap().to_string(), c.to_string())
    }

    #[pg_test]
    fn check_request_lets_requests_without_credentials_through() {
        make_roles("chk_a");
        // The hook runs before anything else; even a role with no rights on auth's tables passes,
        // and a GET (read-only) cannot be failed by it.
        let sub_claims = json!({"role": "chk_a_web", "sub": "alice", "note": "tid sid key_id"});
        for claims in [
            String::new(),
            "{}".into(),
            r#"{"role":"chk_a_anon"}"#.into(),
            sub_claims.to_string(),
            // A marker name inside a value takes the slow path and still passes.
            json!({"role": "chk_a_web", "x": "\"tid\""}).to_string(),
            json!({"role": "chk_a_web", "tid": null}).to_string(),
        ] {
            assert_eq!(
                get_and_post("chk_a", &claims, &no_headers()),
                "ok",
                "{claims}"
            );
        }
        // Outside PostgREST (request.jwt.claims never set in a fresh transaction is '' or NULL).
        run("SELECT auth.check_request()");
        // A proxy secret concerns API credentials only.
        run("SET LOCAL auth.proxy_secret = 'the-gateway-secret'");
        assert_eq!(
            get_and_post("chk_a", &sub_claims.to_string(), &no_headers()),
            "ok"
        );
        assert_eq!(
            get_and_post("chk_a", r#"{"role":"chk_a_anon"}"#, &no_headers()),
            "ok"
        );
    }

    #[pg_test]
    fn check_request_refuses_revoked_deleted_and_expired_api_tokens() {
        make_roles("chk_b");
        let (tid, claims) = token_claims("chk_b");
        assert_eq!(get_and_post("chk_b", &claims, &no_headers()), "ok");

        run(&format!("SELECT auth.revoke_api_token('{tid}')"));
        assert_eq!(
            get_and_post("chk_b", &claims, &no_headers()),
            "PT401: API token revoked, expired or unknown"
        );

        let (tid, claims) = token_claims("chk_b");
        run(&format!("DELETE FROM auth.api_tokens WHERE id = '{tid}'"));
        assert_eq!(
            get_and_post("chk_b", &claims, &no_headers()),
            "PT401: API token revoked, expired or unknown"
        );

        // Expired in the table (the JWT's own exp is PostgREST's to check).
        let token =
            text("SELECT auth.create_api_token('t', 'chk_b_web', now() + interval '1 hour')");
        let c = claims_of(&token);
        assert_eq!(get_and_post("chk_b", &c.to_string(), &no_headers()), "ok");
        run(&format!(
            "UPDATE auth.api_tokens SET expires_at = now() - interval '1 s' WHERE id = '{}'",
            c["tid"].as_str().unwrap()
        ));
        assert_eq!(
            get_and_post("chk_b", &c.to_string(), &no_headers()),
            "PT401: API token revoked, expired or unknown"
        );

        // A tid naming no token, or not a UUID at all.
        let unknown = json!({"role": "chk_b_web", "tid": "00000000-0000-4000-8000-000000000000"});
        assert_eq!(
            get_and_post("chk_b", &unknown.to_string(), &no_headers()),
            "PT401: API token revoked, expired or unknown"
        );
        for bad in [json!("x"), json!(5), json!({"a": 1})] {
            let claims = json!({"role": "chk_b_web", "tid": bad}).to_string();
            assert_eq!(
                get_and_post("chk_b", &claims, &no_headers()),
                "PT401: invalid credentials: claim \"tid\" is not a UUID"
            );
        }
    }

    #[pg_test]
    fn check_request_records_last_used_at_once_a_minute_and_never_read_only() {
        make_roles("chk_c");
        let (tid, claims) = token_claims("chk_c");
        let last_used = || {
            one::<String>(&format!(
                "SELECT (now() - last_used_at)::text FROM auth.api_tokens WHERE id = '{tid}'"
            ))
        };
        assert_eq!(pre_request("chk_c", &claims, &no_headers(), true), "ok");
        assert_eq!(last_used(), None, "a GET records nothing");
        assert_eq!(pre_request("chk_c", &claims, &no_headers(), false), "ok");
        assert_eq!(last_used().as_deref(), Some("00:00:00"));
        run(&format!(
            "UPDATE auth.api_tokens SET last_used_at = now() - interval '59 s' WHERE id = '{tid}'"
        ));
        assert_eq!(pre_request("chk_c", &claims, &no_headers(), false), "ok");
        assert_eq!(
            last_used().as_deref(),
            Some("00:00:59"),
            "at most once a minute"
        );
        run(&format!(
            "UPDATE auth.api_tokens SET last_used_at = now() - interval '2 min' WHERE id = '{tid}'"
        ));
        assert_eq!(pre_request("chk_c", &claims, &no_headers(), true), "ok");
        assert_eq!(
            last_used().as_deref(),
            Some("00:02:00"),
            "a GET records nothing"
        );
        assert_eq!(pre_request("chk_c", &claims, &no_headers(), false), "ok");
        assert_eq!(last_used().as_deref(), Some("00:00:00"));
        // The request's own statement runs after the hook in the same transaction.
        let out = request("chk_c", &claims, &no_headers(), true).call("SELECT current_user::text");
        assert_eq!(
            (out.outcome().as_str(), out.result.as_deref()),
            ("ok", Some("chk_c_web"))
        );
    }

    #[pg_test]
    fn check_request_does_not_wait_for_a_locked_credential_row() {
        // A second connection (dblink) runs a POST with a token whose row this transaction holds
        // locked, as a long request would: the hook must not block on it. The token is committed
        // (through dblink), a row the bad-input table must not count.
        hold_committed_rows_lock();
        run("CREATE EXTENSION IF NOT EXISTS dblink");
        let conn = text("SELECT format('dbname=%s port=%s host=%s', current_database(), current_setting('port'), split_part(current_setting('unix_socket_directories'), ',', 1))");
        let sql = |s: &str| {
            format!(
                "SELECT * FROM dblink({}, {}) AS r(v text)",
                lit(&conn),
                lit(s)
            )
        };
        run(&format!(
            "CREATE TEMP TABLE committed AS {}",
            sql("SELECT auth.create_api_token('dblink', 'pg_monitor')")
        ));
        let token = text("SELECT v FROM committed");
        let claims = claims_of(&token);
        let tid = claims["tid"].as_str().unwrap().to_string();
        let other = format!(
            "SET lock_timeout = '2s'; SELECT set_config('request.jwt.claims', {}, false), auth.check_request()::text, (SELECT last_used_at IS NULL FROM auth.api_tokens WHERE id = '{tid}')::text",
            lit(&claims.to_string())
        );
        let outcome = text(&format!(
            r#"SELECT tests.with_row_locked('{tid}', {})"#,
            lit(&format!(
                "SELECT r.skipped FROM dblink({}, {}) AS r(c text, h text, skipped text)",
                lit(&conn),
                lit(&other)
            ))
        ));
        run(&sql(&format!(
            "DELETE FROM auth.api_tokens WHERE id = '{tid}' RETURNING 'x'"
        )));
        assert_eq!(
            outcome, "true",
            "the hook passed without waiting and skipped the locked row"
        );
    }

    #[pg_test]
    fn check_request_refuses_a_logged_out_session() {
        make_roles("chk_d");
        let claims = |sid: &str| json!({"role": "chk_d_web", "sub": "u", "sid": sid}).to_string();
        let live = text("SELECT tests.new_session('chk_d_web', now() + interval '1 hour')::text");
        let ended =
            text("SELECT tests.new_session('chk_d_web', now() + interval '1 hour', now())::text");
        let expired = text("SELECT tests.new_session('chk_d_web', now() - interval '1 s')::text");
        assert_eq!(get_and_post("chk_d", &claims(&live), &no_headers()), "ok");
        for sid in [
            ended.as_str(),
            expired.as_str(),
            "00000000-0000-4000-8000-000000000000",
        ] {
            assert_eq!(
                get_and_post("chk_d", &claims(sid), &no_headers()),
                "PT401: session ended: log in again",
                "{sid}"
            );
        }
        // Logging out (revoking the live session) stops its access token at once.
        run(&format!(
            "UPDATE auth.sessions SET revoked_at = now() WHERE id = '{live}'"
        ));
        assert_eq!(
            get_and_post("chk_d", &claims(&live), &no_headers()),
            "PT401: session ended: log in again"
        );
        // Sessions need no proxy secret.
        run("SET LOCAL auth.proxy_secret = 'the-gateway-secret'");
        let live = text("SELECT tests.new_session('chk_d_web', now() + interval '1 hour')::text");
        assert_eq!(get_and_post("chk_d", &claims(&live), &no_headers()), "ok");
        // auth.check_sessions = off leaves sid alone.
        run("SET LOCAL auth.check_sessions = off");
        assert_eq!(get_and_post("chk_d", &claims(&ended), &no_headers()), "ok");
        assert_eq!(
            get_and_post(
                "chk_d",
                &json!({"role": "chk_d_web", "sid": "x"}).to_string(),
                &no_headers()
            ),
            "PT401: invalid credentials: claim \"sid\" is not a UUID",
            "a malformed marker is refused whatever the setting"
        );
    }

    /// The hook decides nothing from the role: under any `auth.jwt_role_claim_key` it lets the
    /// same requests through and refuses the same ones, by their markers alone.
    #[pg_test]
    fn check_request_is_the_same_under_any_role_claim_key() {
        make_roles("chk_k");
        let live = text("SELECT tests.new_session('chk_k_web', now() + interval '1 hour')::text");
        let ended =
            text("SELECT tests.new_session('chk_k_web', now() + interval '1 hour', now())::text");
        let claims = |sid: Option<&str>| {
            let mut c = json!({"role": "chk_k_web", "sub": "u",
                               "realm_access": {"roles": ["chk_k_web"]},
                               "https://example.com/roles": [7]});
            if let Some(sid) = sid {
                c["sid"] = json!(sid);
            }
            c.to_string()
        };
        for path in [
            ".role",
            ".realm_access.roles[0]",
            r#"."https://example.com/roles"[0]"#,
            ".missing",
        ] {
            run(&format!("SET LOCAL auth.jwt_role_claim_key = '{path}'"));
            assert_eq!(
                get_and_post("chk_k", &claims(None), &no_headers()),
                "ok",
                "{path}"
            );
            assert_eq!(
                get_and_post("chk_k", &claims(Some(&live)), &no_headers()),
                "ok",
                "{path}"
            );
            assert_eq!(
                get_and_post("chk_k", &claims(Some(&ended)), &no_headers()),
                "PT401: session ended: log in again",
                "{path}"
            );
        }
    }

    #[pg_test]
    fn check_request_stops_an_access_token_at_logout() {
        // A browser session's flow: login, a request with the access token,
        // logout, the same token again.
        make_roles("chk_i");
        run("SET LOCAL auth.bcrypt_cost = 4");
        run("SET LOCAL auth.tokens_in_body = on");
        run("INSERT INTO auth.users (username, password, role) VALUES ('chk_i_alice', 'correct horse battery', 'chk_i_web')");
        let access =
            text("SELECT auth.login('chk_i_alice', 'correct horse battery') ->> 'access_token'");
        let claims = claims_of(&access);
        assert!(claims["sid"].is_string(), "{claims}");
        let claims = claims.to_string();
        assert_eq!(get_and_post("chk_i", &claims, &no_headers()), "ok");
        // Forged claims naming the session end nothing: logout acts only on what the request
        // proves with its own token.
        run(&format!(
            "SELECT set_config('request.jwt.claims', {}, true)",
            lit(&claims)
        ));
        run("SELECT auth.logout()");
        assert_eq!(get_and_post("chk_i", &claims, &no_headers()), "ok");
        // With the token in Authorization, as PostgREST passes it, logout ends the session.
        run(&format!(
            "SELECT set_config('request.headers', {}, true)",
            lit(&serde_json::json!({ "authorization": format!("Bearer {access}") }).to_string())
        ));
        run("SELECT auth.logout()");
        run("SELECT set_config('request.headers', '', true)");
        assert_eq!(
            get_and_post("chk_i", &claims, &no_headers()),
            "PT401: session ended: log in again"
        );
    }

    #[pg_test]
    fn check_request_checks_jwts_exchanged_for_api_keys() {
        make_roles("chk_e");
        let key = text("SELECT auth.create_api_key('chk_e_web', 'pro')");
        let claims = || {
            let body: Value = serde_json::from_str(&text(&format!(
                "SELECT auth.exchange_api_key({})::text",
                lit(&key)
            )))
            .unwrap();
            claims_of(body["access_token"].as_str().unwrap()).to_string()
        };
        let c = claims();
        let id: Value = serde_json::from_str(&c).unwrap();
        let id = id["key_id"].as_str().unwrap().to_string();
        assert_eq!(get_and_post("chk_e", &c, &no_headers()), "ok");
        let refused = "PT401: API key disabled, expired or unknown";
        run(&format!("SELECT auth.disable_api_key('{id}')"));
        assert_eq!(
            get_and_post("chk_e", &c, &no_headers()),
            refused,
            "disabled"
        );
        run(&format!("SELECT auth.enable_api_key('{id}')"));
        assert_eq!(
            get_and_post("chk_e", &c, &no_headers()),
            "ok",
            "enabled again"
        );
        run(&format!(
            "UPDATE auth.api_keys SET expires_at = now() - interval '1 s' WHERE id = '{id}'"
        ));
        assert_eq!(get_and_post("chk_e", &c, &no_headers()), refused, "expired");
        run(&format!(
            "UPDATE auth.api_keys SET expires_at = NULL WHERE id = '{id}'"
        ));
        assert_eq!(get_and_post("chk_e", &c, &no_headers()), "ok");
        run(&format!("SELECT auth.revoke_api_key('{id}')"));
        assert_eq!(get_and_post("chk_e", &c, &no_headers()), refused, "revoked");
    }

    #[pg_test]
    fn check_request_proxy_secret_rule() {
        make_roles("chk_f");
        let (_, token) = token_claims("chk_f");
        let key = text("SELECT auth.create_api_key('chk_f_web')");
        let body: Value = serde_json::from_str(&text(&format!(
            "SELECT auth.exchange_api_key({})::text",
            lit(&key)
        )))
        .unwrap();
        let keyed = claims_of(body["access_token"].as_str().unwrap()).to_string();
        // Without a configured secret the header is irrelevant.
        for claims in [&token, &keyed] {
            assert_eq!(get_and_post("chk_f", claims, &no_headers()), "ok");
            assert_eq!(
                get_and_post("chk_f", claims, &json!({"x-proxy-secret": "x"})),
                "ok"
            );
        }
        run("SET LOCAL auth.proxy_secret = 'the-gateway-secret'");
        let refused = "PT401: API credentials are accepted only through the API gateway";
        for claims in [&token, &keyed] {
            assert_eq!(
                get_and_post("chk_f", claims, &no_headers()),
                refused,
                "missing"
            );
            for wrong in [
                "",
                "wrong",
                "the-gateway-secre",
                "the-gateway-secret2",
                "THE-GATEWAY-SECRET",
            ] {
                assert_eq!(
                    get_and_post("chk_f", claims, &json!({"x-proxy-secret": wrong})),
                    refused,
                    "{wrong:?}"
                );
            }
            assert_eq!(
                get_and_post(
                    "chk_f",
                    claims,
                    &json!({"x-proxy-secret": ["the-gateway-secret"]})
                ),
                refused,
                "not a string"
            );
            assert_eq!(
                get_and_post(
                    "chk_f",
                    claims,
                    &json!({"x-proxy-secret": "the-gateway-secret"})
                ),
                "ok"
            );
        }
        // The check comes first: a revoked token through the proxy is still refused, and without
        // the secret the caller learns nothing about the token.
        let tid: Value = serde_json::from_str(&token).unwrap();
        run(&format!(
            "SELECT auth.revoke_api_token('{}')",
            tid["tid"].as_str().unwrap()
        ));
        assert_eq!(get_and_post("chk_f", &token, &no_headers()), refused);
        assert_eq!(
            get_and_post(
                "chk_f",
                &token,
                &json!({"x-proxy-secret": "the-gateway-secret"})
            ),
            "PT401: API token revoked, expired or unknown"
        );
    }

    #[pg_test]
    fn check_request_privileges_and_grants() {
        make_roles("chk_g");
        run("CREATE ROLE chk_g_other NOLOGIN");
        // A role PostgREST switches to must be granted the hook, else every request fails.
        assert_eq!(
            pre_request("chk_g", r#"{"role":"chk_g_other"}"#, &no_headers(), true),
            "42501: permission denied for function check_request"
        );
        run("SELECT auth.grant_request_check('{chk_g_other}')");
        assert_eq!(
            pre_request("chk_g", r#"{"role":"chk_g_other"}"#, &no_headers(), true),
            "ok"
        );
        assert_eq!(
            one::<bool>(
                "SELECT has_function_privilege('public', 'auth.check_request()', 'EXECUTE')"
            ),
            Some(false)
        );
        assert_eq!(
            one::<bool>("SELECT has_function_privilege('chk_g_web', 'auth_private._check_request_credentials(text)', 'EXECUTE')"),
            Some(true)
        );
        // The hook's helpers and the grant function stay private.
        run("SET LOCAL ROLE chk_g_web");
        for sql in [
            "SELECT auth.grant_request_check('{chk_g_web}')",
            "SELECT auth_private._proxy_secret_matches('x')",
            "SELECT * FROM auth_private._claim_markers('{}')",
            "SELECT auth_private._request_header('x-proxy-secret')",
        ] {
            assert_error(sql, "42501", "permission denied");
        }
        run("RESET ROLE");
        assert_error(
            "SELECT auth.grant_request_check('{no_such_role_z}')",
            "23503",
            "role \"no_such_role_z\" does not exist",
        );
        assert_error(
            "SELECT auth.grant_request_check('{}')",
            "22023",
            "at least one role",
        );
        assert_error(
            "SELECT auth.grant_request_check(NULL)",
            "22023",
            "at least one role",
        );
        assert_error(
            "SELECT auth.grant_request_check(ARRAY[NULL]::name[])",
            "22023",
            "must not contain NULL",
        );
    }

    #[pg_test]
    fn check_request_proxy_secret_is_hidden_from_other_roles() {
        run("SET LOCAL auth.proxy_secret = 'the-gateway-secret'");
        run("CREATE ROLE chk_h_probe NOLOGIN");
        run("SET LOCAL ROLE chk_h_probe");
        assert_error("SHOW auth.proxy_secret", "42501", "auth.proxy_secret");
        assert_error(
            "SELECT current_setting('auth.proxy_secret')",
            "42501",
            "auth.proxy_secret",
        );
        assert_error(
            "SET auth.proxy_secret = 'mine'",
            "42501",
            "auth.proxy_secret",
        );
        assert_error(
            "SET auth.check_sessions = off",
            "42501",
            "auth.check_sessions",
        );
    }
}
