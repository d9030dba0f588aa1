//! Custom claims of session access tokens: `auth.users.app_metadata` in every token, and the
//! function `auth.access_token_hook` names, called as its owner at login and at every refresh
//! (the grace answer included). Its refusals (it raises, answers NULL or a non-object, changes a
//! reserved claim) are PT403 with nothing written; settings that name no usable function are
//! 22023.

#[pgrx::pg_schema]
mod tests {
    use crate::pgrx_tests::common::{
        assert_error, lit, one, postgrest_roles, run, text, Failure, Request, Response,
    };
    use pgrx::prelude::*;
    use serde_json::{json, Value};

    const PASSWORD: &str = "demo password";

    /// PostgREST's roles `<tag>_anon` and `<tag>_web`, user `<tag>_demo`.
    fn setup(tag: &str) -> String {
        postgrest_roles(tag, false);
        let user = format!("{tag}_demo");
        run(&format!(
            "INSERT INTO auth.users (username, password, role) VALUES ({}, {}, '{tag}_web')",
            lit(&user),
            lit(PASSWORD)
        ));
        user
    }

    /// Schema `<tag>_hooks`, whose functions role `<tag>_hook_owner` owns (see [`hook`]).
    fn hook_schema(tag: &str) {
        run(&format!("CREATE SCHEMA {tag}_hooks"));
        run(&format!("CREATE ROLE {tag}_hook_owner NOLOGIN"));
        run(&format!(
            "GRANT USAGE ON SCHEMA {tag}_hooks TO {tag}_hook_owner"
        ));
    }

    /// Function `<tag>_hooks.<name>(event jsonb) RETURNS jsonb` with SQL `body`, owned by
    /// `<tag>_hook_owner`.
    fn hook(tag: &str, name: &str, body: &str) {
        run(&format!(
            "CREATE FUNCTION {tag}_hooks.{name}(event jsonb) RETURNS jsonb LANGUAGE sql AS {}",
            lit(body)
        ));
        run(&format!(
            "ALTER FUNCTION {tag}_hooks.{name}(jsonb) OWNER TO {tag}_hook_owner"
        ));
    }

    fn use_hook(setting: &str) {
        run(&format!(
            "SET LOCAL auth.access_token_hook = {}",
            lit(setting)
        ));
    }

    fn anon(tag: &str) -> Request {
        Request::post(&format!("{tag}_anon"))
            .claims(format!(r#"{{"role":"{tag}_anon"}}"#))
            .headers("{}")
    }

    fn login(tag: &str, user: &str) -> Response {
        anon(tag).cookies("{}").call(&format!(
            "SELECT auth.login({}, {})::text",
            lit(user),
            lit(PASSWORD)
        ))
    }

    fn refresh(tag: &str, token: &str) -> Response {
        anon(tag)
            .cookies(json!({ "refresh_token": token }))
            .call("SELECT auth.refresh_token()::text")
    }

    fn claims(r: &Response) -> Value {
        let token = r.cookie("access_token").expect("an access cookie");
        one::<pgrx::JsonB>(&format!("SELECT auth.jwt_verify({})", lit(&token)))
            .expect("claims")
            .0
    }

    fn count(sql: &str) -> i64 {
        one::<i64>(sql).unwrap_or_else(|| panic!("{sql} returned NULL"))
    }

    fn sessions_of(user: &str) -> i64 {
        count(&format!(
            "SELECT count(*) FROM auth.sessions WHERE username = {}",
            lit(user)
        ))
    }

    /// Asserts the request was refused by the hook: PT403, the fixed message, a detail starting
    /// with `detail`.
    fn assert_refused(r: &Response, detail: &str) {
        let Some(Failure {
            state,
            message,
            detail: got,
            ..
        }) = &r.error
        else {
            panic!("expected a refusal: {r:?}");
        };
        assert_eq!(state, "PT403", "{r:?}");
        assert_eq!(message, "Login refused by auth.access_token_hook");
        assert!(
            got.as_deref().is_some_and(|d| d.starts_with(detail)),
            "{detail}: {r:?}"
        );
    }

    #[pg_test]
    fn access_token_hook_app_metadata_in_every_token() {
        let user = setup("ath1");
        // A new user's object is empty; the column is an object, never NULL.
        assert_eq!(
            text(&format!(
                "SELECT app_metadata::text FROM auth.users WHERE username = {}",
                lit(&user)
            )),
            "{}"
        );
        let r = login("ath1", &user).ok();
        assert_eq!(claims(&r)["app_metadata"], json!({}));
        run(&format!(
            r#"UPDATE auth.users SET app_metadata = '{{"plan": "pro", "tenants": [1, 2]}}' WHERE username = {}"#,
            lit(&user)
        ));
        let r = login("ath1", &user).ok();
        let c = claims(&r);
        assert_eq!(c["app_metadata"], json!({"plan": "pro", "tenants": [1, 2]}));
        assert_eq!(c["role"], "ath1_web");
        assert_eq!(c["sub"], user.as_str());
        assert_eq!(r.body()["expires_at"], c["exp"]);
        // Refresh reads the user's current object.
        run(&format!(
            r#"UPDATE auth.users SET app_metadata = '{{"plan": "team"}}' WHERE username = {}"#,
            lit(&user)
        ));
        let spent = r.cookie("refresh_token").unwrap();
        let r2 = refresh("ath1", &spent).ok();
        assert_eq!(r2.status, None, "{r2:?}");
        assert_eq!(claims(&r2)["app_metadata"], json!({"plan": "team"}));
        // The grace answer too.
        let grace = refresh("ath1", &spent).ok();
        assert_eq!(grace.body()["refresh_token"], Value::Null, "{grace:?}");
        assert_eq!(claims(&grace)["app_metadata"], json!({"plan": "team"}));
        assert_eq!(claims(&grace)["sid"], c["sid"]);
        // JSON jsonb holds but a token cannot carry: refused with 22023, no session.
        let before = sessions_of(&user);
        for big in [
            r#"{"big": 1e400}"#.to_string(),
            format!(r#"{{"deep": {}{}}}"#, "[".repeat(200), "]".repeat(200)),
        ] {
            run(&format!(
                "UPDATE auth.users SET app_metadata = {} WHERE username = {}",
                lit(&big),
                lit(&user)
            ));
            let r = login("ath1", &user);
            let (state, message) = r.failure();
            assert_eq!(state, "22023", "{r:?}");
            assert!(
                message.starts_with("app_metadata cannot be carried in an access token"),
                "{message}"
            );
            assert_eq!(sessions_of(&user), before);
        }
        // Only objects.
        for bad in ["'[]'", "'\"x\"'", "'1'", "'null'"] {
            assert_error(
                &format!(
                    "UPDATE auth.users SET app_metadata = {bad} WHERE username = {}",
                    lit(&user)
                ),
                "23514",
                "users_app_metadata_object",
            );
        }
        assert_error(
            &format!(
                "UPDATE auth.users SET app_metadata = NULL WHERE username = {}",
                lit(&user)
            ),
            "23502",
            "app_metadata",
        );
    }

    #[pg_test]
    fn access_token_hook_adds_claims_as_its_owner() {
        let user = setup("ath2");
        hook_schema("ath2");
        // A table the hook's owner may read and the API roles may not.
        run("CREATE TABLE ath2_hooks.tenants (username text PRIMARY KEY, tenant text NOT NULL)");
        run("REVOKE ALL ON ath2_hooks.tenants FROM PUBLIC");
        run("GRANT SELECT ON ath2_hooks.tenants TO ath2_hook_owner");
        run(&format!(
            "INSERT INTO ath2_hooks.tenants VALUES ({}, 'acme')",
            lit(&user)
        ));
        assert_eq!(
            one::<bool>("SELECT has_table_privilege('ath2_anon', 'ath2_hooks.tenants', 'SELECT')"),
            Some(false)
        );
        hook(
            "ath2",
            "claims",
            "SELECT event -> 'claims' || jsonb_build_object(
                 'tenant', (SELECT t.tenant FROM ath2_hooks.tenants t WHERE t.username = event ->> 'username'),
                 'run_as', current_user::text,
                 'seen', event - 'claims',
                 'seen_claims', (SELECT jsonb_agg(k ORDER BY k) FROM jsonb_object_keys(event -> 'claims') k))",
        );
        use_hook("ath2_hooks.claims");

        let r = login("ath2", &user).ok();
        assert_eq!(r.status, None, "{r:?}");
        let c = claims(&r);
        assert_eq!(c["tenant"], "acme");
        // As its owner: neither the superuser the flow runs as nor the anonymous role.
        assert_eq!(c["run_as"], "ath2_hook_owner");
        let sid = c["sid"].as_str().unwrap().to_string();
        assert_eq!(
            c["seen"],
            json!({"username": user, "role": "ath2_web", "session_id": sid, "method": "password"})
        );
        assert_eq!(
            c["seen_claims"],
            json!([
                "app_metadata",
                "exp",
                "iat",
                "role",
                "sid",
                "sub",
                "username"
            ])
        );
        assert_eq!(r.body()["expires_at"], c["exp"]);
        assert_eq!(sessions_of(&user), 1);

        // Every refresh, the grace answer too, with method 'refresh'.
        let spent = r.cookie("refresh_token").unwrap();
        let r2 = refresh("ath2", &spent).ok();
        assert_eq!(r2.status, None, "{r2:?}");
        let c2 = claims(&r2);
        assert_eq!(c2["tenant"], "acme");
        assert_eq!(c2["seen"]["method"], "refresh");
        assert_eq!(c2["seen"]["session_id"], sid.as_str());
        assert_eq!(c2["run_as"], "ath2_hook_owner");
        let grace = refresh("ath2", &spent).ok();
        assert_eq!(grace.body()["refresh_token"], Value::Null, "{grace:?}");
        assert_eq!(claims(&grace)["seen"]["method"], "refresh");

        // The configured audience and issuer reach the hook, and stay.
        let r3 = anon("ath2")
            .cookies("{}")
            .setting("auth.jwt_audience", "api")
            .setting("auth.jwt_issuer", "https://issuer.test")
            .call(&format!(
                "SELECT auth.login({}, {})::text",
                lit(&user),
                lit(PASSWORD)
            ))
            .ok();
        let seen = r3.cookie("access_token").unwrap();
        let payload: Value = serde_json::from_slice(
            &auth_core::base64url::decode_strict(seen.split('.').nth(1).unwrap()).unwrap(),
        )
        .unwrap();
        assert_eq!(payload["aud"], "api");
        assert_eq!(payload["iss"], "https://issuer.test");
        assert_eq!(
            payload["seen_claims"],
            json!([
                "app_metadata",
                "aud",
                "exp",
                "iat",
                "iss",
                "role",
                "sid",
                "sub",
                "username"
            ])
        );

        // Without the owner's privilege the hook fails, though the flow runs as a superuser:
        // PT403 with the error as detail, no session.
        run("REVOKE SELECT ON ath2_hooks.tenants FROM ath2_hook_owner");
        let before = sessions_of(&user);
        let refused = login("ath2", &user);
        assert_refused(&refused, "permission denied for table tenants");
        assert_eq!(sessions_of(&user), before);
        // The hook may not SET ROLE (restricted as index expressions are).
        run(
            "CREATE FUNCTION ath2_hooks.escalate(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
             BEGIN SET LOCAL ROLE postgres; RETURN event -> 'claims'; END $$",
        );
        run("ALTER FUNCTION ath2_hooks.escalate(jsonb) OWNER TO ath2_hook_owner");
        use_hook("ath2_hooks.escalate");
        let refused = login("ath2", &user);
        let (state, _) = refused.failure();
        assert_eq!(state, "PT403", "{refused:?}");
        assert_eq!(sessions_of(&user), before);

        // Unset again: the default claims.
        run("RESET auth.access_token_hook");
        let plain = claims(&login("ath2", &user).ok());
        assert!(plain.get("tenant").is_none(), "{plain}");
        assert_eq!(plain["app_metadata"], json!({}));
    }

    #[pg_test]
    fn access_token_hook_refusals_write_nothing() {
        let user = setup("ath3");
        hook_schema("ath3");
        let exp_plus = "jsonb_set(event -> 'claims', '{exp}', to_jsonb((event -> 'claims' ->> 'exp')::bigint + 86400))";
        let cases: Vec<(&str, String, &str)> = vec![
            (
                "role",
                "SELECT jsonb_set(event -> 'claims', '{role}', '\"postgres\"')".into(),
                "claim \"role\" may not be changed",
            ),
            (
                "sub",
                "SELECT jsonb_set(event -> 'claims', '{sub}', '\"admin\"')".into(),
                "claim \"sub\" may not be changed",
            ),
            (
                "exp",
                format!("SELECT {exp_plus}"),
                "claim \"exp\" may not be changed",
            ),
            (
                "no_sid",
                "SELECT (event -> 'claims') - 'sid'".into(),
                "claim \"sid\" may not be changed",
            ),
            (
                "tid",
                "SELECT event -> 'claims' || '{\"tid\": \"x\"}'".into(),
                "claim \"tid\" may not be changed",
            ),
            (
                "key_id",
                "SELECT event -> 'claims' || '{\"key_id\": \"x\"}'".into(),
                "claim \"key_id\" may not be changed",
            ),
            (
                "aud",
                "SELECT event -> 'claims' || '{\"aud\": \"other\"}'".into(),
                "claim \"aud\" may not be changed",
            ),
            (
                "array",
                "SELECT jsonb_build_array(event -> 'claims')".into(),
                "returned a non-object",
            ),
            (
                "string",
                "SELECT to_jsonb('claims'::text)".into(),
                "returned a non-object",
            ),
            ("null", "SELECT NULL::jsonb".into(), "returned a non-object"),
            (
                "huge",
                "SELECT event -> 'claims' || '{\"n\": 1e400}'".into(),
                "returned JSON that cannot be signed (number out of range",
            ),
        ];
        for (name, body, _) in &cases {
            hook("ath3", name, body);
        }
        run("CREATE FUNCTION ath3_hooks.raises(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
             BEGIN RAISE EXCEPTION 'tenant % is suspended', event ->> 'username' USING ERRCODE = 'P0001'; END $$");
        run("ALTER FUNCTION ath3_hooks.raises(jsonb) OWNER TO ath3_hook_owner");
        let raised = format!("tenant {user} is suspended");
        let all = cases
            .iter()
            .map(|(n, _, d)| (n.to_string(), d.to_string()))
            .chain([("raises".to_string(), raised)]);

        // A session to refresh, made before any hook.
        let r = login("ath3", &user).ok();
        let token = r.cookie("refresh_token").unwrap();
        let audit = |event: &str| {
            count(&format!(
                "SELECT count(*) FROM auth.audit_log WHERE event = '{event}' AND username = {}",
                lit(&user)
            ))
        };
        let tokens = |filter: &str| {
            count(&format!(
                "SELECT count(*) FROM auth.refresh_tokens rt JOIN auth.sessions s ON s.id = rt.session_id \
                 WHERE s.username = {} {filter}",
                lit(&user)
            ))
        };
        let (logins, refreshes) = (audit("login_succeeded"), audit("refresh"));
        for (name, detail) in all {
            use_hook(&format!("ath3_hooks.{name}"));
            // Login: no session, no refresh token, no audit row.
            assert_refused(&login("ath3", &user), &detail);
            assert_eq!(sessions_of(&user), 1, "{name}");
            assert_eq!(tokens(""), 1, "{name}");
            assert_eq!(audit("login_succeeded"), logins, "{name}");
            // Refresh: the token stays unspent, no successor.
            assert_refused(&refresh("ath3", &token), &detail);
            assert_eq!(tokens("AND rt.spent_at IS NULL"), 1, "{name}");
            assert_eq!(audit("refresh"), refreshes, "{name}");
        }
        // With the hook removed, the same token rotates.
        run("RESET auth.access_token_hook");
        let ok = refresh("ath3", &token).ok();
        assert_eq!(ok.status, None, "{ok:?}");

        // A grace answer refused alike: nothing recorded.
        use_hook("ath3_hooks.role");
        let grace = refresh("ath3", &token);
        assert_refused(&grace, "claim \"role\" may not be changed");
        assert_eq!(audit("refresh"), refreshes + 1);
    }

    #[pg_test]
    fn access_token_hook_settings_that_name_no_usable_function() {
        let user = setup("ath4");
        hook_schema("ath4");
        hook("ath4", "fine", "SELECT event -> 'claims'");
        run("CREATE FUNCTION ath4_hooks.text_arg(event text) RETURNS jsonb LANGUAGE sql AS 'SELECT NULL::jsonb'");
        run("CREATE FUNCTION ath4_hooks.two_args(event jsonb, extra jsonb) RETURNS jsonb LANGUAGE sql AS 'SELECT NULL::jsonb'");
        run("CREATE FUNCTION ath4_hooks.returns_json(event jsonb) RETURNS json LANGUAGE sql AS 'SELECT NULL::json'");
        run("CREATE FUNCTION ath4_hooks.set_of(event jsonb) RETURNS SETOF jsonb LANGUAGE sql AS 'SELECT NULL::jsonb'");
        run("CREATE PROCEDURE ath4_hooks.proc(event jsonb) LANGUAGE sql AS 'SELECT 1'");
        run("CREATE FUNCTION ath4_hooks.closed(event jsonb) RETURNS jsonb LANGUAGE sql AS 'SELECT event'");
        run("ALTER FUNCTION ath4_hooks.closed(jsonb) OWNER TO ath4_hook_owner");
        run("REVOKE EXECUTE ON FUNCTION ath4_hooks.closed(jsonb) FROM PUBLIC, ath4_hook_owner");
        for (setting, needle) in [
            (
                "fine",
                "must be a schema-qualified function name (schema.name)",
            ),
            (
                "ath4_hooks.fine(jsonb)",
                "must be a schema-qualified function name",
            ),
            ("a.b.c", "must be a schema-qualified function name"),
            (
                "ath4_hooks.fine; DROP TABLE x",
                "must be a schema-qualified function name",
            ),
            (
                "ath4_hooks.missing",
                "names no function schema.name(event jsonb)",
            ),
            (
                "ath4_hooks.\"Fine\"",
                "names no function schema.name(event jsonb)",
            ),
            (
                "ath4_hooks.text_arg",
                "names no function schema.name(event jsonb)",
            ),
            (
                "ath4_hooks.two_args",
                "names no function schema.name(event jsonb)",
            ),
            (
                "ath4_hooks.proc",
                "must name a plain function returning jsonb",
            ),
            (
                "ath4_hooks.returns_json",
                "must name a plain function returning jsonb",
            ),
            (
                "ath4_hooks.set_of",
                "must name a plain function returning jsonb",
            ),
            (
                "ath4_hooks.closed",
                "must name a plain function returning jsonb that its owner may execute",
            ),
        ] {
            use_hook(setting);
            let r = login("ath4", &user);
            let (state, message) = r.failure();
            assert_eq!(state, "22023", "{setting}: {r:?}");
            assert!(
                message.starts_with("auth.access_token_hook "),
                "{setting}: {message}"
            );
            assert!(message.contains(needle), "{setting}: {message}");
            assert_eq!(sessions_of(&user), 0, "{setting}");
        }
        // Quoted names work; an empty value is unset.
        use_hook("\"ath4_hooks\".\"fine\"");
        login("ath4", &user).ok();
        use_hook("");
        login("ath4", &user).ok();
        assert_eq!(sessions_of(&user), 2);
        // Only superusers (or roles granted SET on it) change it.
        run("SET LOCAL ROLE ath4_web");
        let (state, _) =
            crate::pgrx_tests::common::error_of("SET auth.access_token_hook = 'ath4_hooks.fine'");
        run("RESET ROLE");
        assert_eq!(state, "42501");
    }
}
