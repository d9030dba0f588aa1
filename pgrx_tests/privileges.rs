//! Privilege probes, as an attacker holding PostgREST's roles would try them: an anonymous role
//! and an authenticated role (NOLOGIN, as PostgREST deployments create them), reached both by
//! `SET ROLE` and through a LOGIN authenticator role (`SET SESSION AUTHORIZATION` to it, then
//! `SET ROLE`, as PostgREST switches roles), with the documented grants applied
//! (`auth.grant_session_access`, `auth.grant_request_check`, `exchange_api_key` to anon).
//!
//! - No table of schema `auth` (listed from pg_class: new tables are covered) can be read or
//!   changed, by privilege check or by trying.
//! - `auth.jwt_secret` and `auth.proxy_secret` cannot be read by any route, nor any `auth.*`
//!   setting changed.
//! - Every function of schema `auth` outside an explicit allow-list is not executable by PUBLIC
//!   (a catalog query: a new function is private unless someone allows it on purpose), and the
//!   API roles can execute exactly the allow-list plus what the documented grants give.
//! - Every SECURITY DEFINER function pins `search_path = pg_catalog, pg_temp`.
//! - Objects planted in `public` and `pg_temp` that shadow what the SECURITY DEFINER flows use
//!   (functions, operators, tables, helpers named like ours) are never run by them.

use pgrx::prelude::*;

extension_sql!(
    r#"
-- The text a statement returns ('<null>' for NULL), or 'ERROR <sqlstate>: <message>'.
CREATE FUNCTION tests.try_text(stmt text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    r text;
BEGIN
    EXECUTE stmt INTO r;
    RETURN coalesce(r, '<null>');
EXCEPTION WHEN OTHERS THEN
    RETURN 'ERROR ' || SQLSTATE || ': ' || SQLERRM;
END
$$;
"#,
    name = "tests_privileges",
    requires = ["tests_common"]
);

#[pgrx::pg_schema]
mod tests {
    use pgrx::prelude::*;
    use serde_json::Value;

    use crate::pgrx_tests::common::{error_of, one, run};

    /// The only functions of schema `auth` PUBLIC may execute: pgjwt's pure functions (the
    /// caller brings the secret; `sign` stays private: it mints tokens) and the claim helpers
    /// for row-level security. Adding to this list is a deliberate, reviewed decision.
    const PUBLIC_FUNCTIONS: &[&str] = &[
        "auth_private._jwt_header(text,text)",
        "auth_private._jwt_payload(text,text)",
        "auth_private._jwt_valid(text,text,text)",
        "auth_private._may_carry_markers(text)",
        // The helpers of auth.jwt_verify (inlined into its caller's query): each refuses a role
        // that may not execute auth.jwt_verify itself (checked below).
        "auth_private._jwt_claims(text)",
        "auth_private._jwt_reject(text)",
        "auth_private._jwt_rejection(text)",
        "auth.claim(text)",
        "auth.claims()",
        "auth.has_scope(text)",
        // The public JWK Set (SECURITY DEFINER: it reads the key store's public column).
        "auth.jwks()",
        "auth.role()",
        "auth.uid()",
        "auth.url_decode(text)",
        "auth.url_encode(bytea)",
        "auth.verify(text,text,text)",
    ];
    /// What the documented grants add for PostgREST's anonymous role.
    const ANON_GRANTED: &[&str] = &[
        "auth_private._check_request_credentials(text)",
        "auth_private._cookie_claims(text)",
        "auth_private._cookie_role(text)",
        "auth_private._role_settings(name)",
        "auth.check_request()",
        "auth.exchange_api_key(text)",
        "auth.login(text,text)",
        "auth.logout(text)",
        "auth.refresh_token(text)",
        // The account flows (sign-up, reset, verification).
        "auth.request_email_verification(text)",
        "auth.request_password_reset(text)",
        "auth.reset_password(text,text)",
        "auth.signup(text,text,text)",
        "auth.verify_email(text)",
    ];
    /// What the documented grants add for an authenticated role.
    const WEB_GRANTED: &[&str] = &[
        "auth_private._check_request_credentials(text)",
        "auth_private._cookie_claims(text)",
        "auth_private._cookie_role(text)",
        "auth_private._role_settings(name)",
        "auth.change_password(text,text)",
        "auth.check_request()",
        "auth.delete_my_account(text)",
        "auth.end_my_session(uuid)",
        // The self-service API tokens, granted as docs/api-credentials.md shows.
        "auth.create_my_api_token(text,timestamp with time zone,text[])",
        "auth.my_api_tokens()",
        "auth.revoke_my_api_token(uuid)",
        "auth.logout(text)",
        "auth.my_sessions()",
        "auth.refresh_token(text)",
        "auth.request_email_verification(text)",
        "auth.verify_email(text)",
    ];
    /// The tables that must exist, so that the probes over pg_class cannot pass vacuously.
    const KNOWN_TABLES: &[&str] = &[
        "auth.api_keys",
        "auth.audit_log",
        "auth.api_tokens",
        "auth.login_failures",
        "auth.one_time_tokens",
        "auth.outbox",
        "auth.refresh_tokens",
        "auth.request_roles",
        "auth.sessions",
        "auth.users",
        "auth_private.login_locks",
        "auth_private.signing_keys",
    ];
    const PROXY_SECRET: &str = "proxy-secret-for-the-privilege-probes";
    const PASSWORD: &str = "correct horse battery";

    fn text(sql: &str) -> String {
        one::<String>(sql).unwrap_or_else(|| panic!("{sql} returned NULL"))
    }

    fn lit(s: &str) -> String {
        format!("'{}'", s.replace('\'', "''"))
    }

    fn json(sql: &str) -> Value {
        serde_json::from_str(&text(&format!("SELECT coalesce(({sql})::text, 'null')"))).unwrap()
    }

    fn strings(v: Value) -> Vec<String> {
        match v {
            Value::Null => Vec::new(),
            Value::Array(a) => a
                .into_iter()
                .map(|s| s.as_str().unwrap().to_string())
                .collect(),
            other => panic!("not a list: {other}"),
        }
    }

    /// PostgREST-like roles `pv_anon`, `pv_web` (NOLOGIN) and `pv_authenticator` (LOGIN,
    /// NOINHERIT, member of both), with the documented grants; user `pv_alice` (role pv_web).
    fn setup() {
        run("SET LOCAL auth.bcrypt_cost = 4");
        run("CREATE ROLE pv_anon NOLOGIN");
        run("CREATE ROLE pv_web NOLOGIN");
        run("CREATE ROLE pv_authenticator LOGIN NOINHERIT");
        run("GRANT pv_anon, pv_web TO pv_authenticator");
        run("SELECT auth.grant_session_access('pv_anon', ARRAY['pv_web'])");
        run("SELECT auth.grant_request_check(ARRAY['pv_anon', 'pv_web']::name[])");
        run("GRANT EXECUTE ON FUNCTION auth.exchange_api_key(text) TO pv_anon");
        run(
            "GRANT EXECUTE ON FUNCTION auth.create_my_api_token(text, timestamptz, text[]), \
             auth.my_api_tokens(), auth.revoke_my_api_token(uuid) TO pv_web",
        );
        // A monitoring agent's role and a plain LOGIN role that connects directly.
        run("CREATE ROLE pv_monitor LOGIN IN ROLE pg_monitor");
        run("CREATE ROLE pv_login LOGIN");
        run(&format!(
            "INSERT INTO auth.users (username, password, role) VALUES ('pv_alice', {}, 'pv_web')",
            lit(PASSWORD)
        ));
    }

    /// The ways an attacker holds an API role: (label, statements to become it).
    fn identities() -> Vec<(&'static str, Vec<&'static str>)> {
        vec![
            ("pv_anon", vec!["SET LOCAL ROLE pv_anon"]),
            ("pv_web", vec!["SET LOCAL ROLE pv_web"]),
            (
                "pv_authenticator -> pv_anon",
                vec![
                    "SET LOCAL SESSION AUTHORIZATION pv_authenticator",
                    "SET LOCAL ROLE pv_anon",
                ],
            ),
            (
                "pv_authenticator -> pv_web",
                vec![
                    "SET LOCAL SESSION AUTHORIZATION pv_authenticator",
                    "SET LOCAL ROLE pv_web",
                ],
            ),
            (
                "pv_authenticator",
                vec!["SET LOCAL SESSION AUTHORIZATION pv_authenticator"],
            ),
            (
                "pv_monitor (pg_monitor)",
                vec!["SET LOCAL SESSION AUTHORIZATION pv_monitor"],
            ),
            ("pv_login", vec!["SET LOCAL SESSION AUTHORIZATION pv_login"]),
        ]
    }

    fn become_superuser() {
        run("RESET ROLE");
        run("RESET SESSION AUTHORIZATION");
        assert_eq!(
            text("SELECT current_user::text"),
            text("SELECT session_user::text")
        );
    }

    /// Runs `probe` as every identity, collecting what it reports, then asserts nothing was.
    fn as_every_identity(probe: impl Fn(&str) -> Vec<String>) {
        let mut failures = Vec::new();
        for (label, steps) in identities() {
            for sql in steps {
                run(sql);
            }
            failures.extend(probe(label).into_iter().map(|f| format!("{label}: {f}")));
            become_superuser();
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[pg_test]
    fn privileges_no_auth_table_is_reachable() {
        setup();
        // Every relation of schema auth, with a column to name in UPDATE.
        let relations = json(
            "SELECT json_agg(json_build_array(c.oid::regclass::text, c.relkind::text, \
             (SELECT a.attname FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 \
              AND NOT a.attisdropped ORDER BY a.attnum LIMIT 1)) ORDER BY 1) \
             FROM pg_class c WHERE c.relnamespace IN ('auth'::regnamespace, 'auth_private'::regnamespace) \
             AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')",
        );
        let relations: Vec<(String, String, String)> = relations
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let s = |i: usize| r[i].as_str().unwrap_or_default().to_string();
                (s(0), s(1), s(2))
            })
            .collect();
        for known in KNOWN_TABLES {
            assert!(
                relations.iter().any(|(name, _, _)| name == known),
                "{known} is not in pg_class: {relations:?}"
            );
        }
        let roles = ["pv_anon", "pv_web", "pv_authenticator", "public"];
        for (rel, kind, _) in &relations {
            for role in roles {
                let sql = if kind == "S" {
                    format!(
                        "SELECT has_sequence_privilege({}, {}, 'USAGE, SELECT, UPDATE')",
                        lit(role),
                        lit(rel)
                    )
                } else {
                    format!(
                        "SELECT has_table_privilege({r}, {t}, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER') \
                         OR has_any_column_privilege({r}, {t}, 'SELECT, INSERT, UPDATE, REFERENCES')",
                        r = lit(role),
                        t = lit(rel)
                    )
                };
                assert_eq!(
                    one::<bool>(&sql),
                    Some(false),
                    "{role} has a privilege on {rel}"
                );
            }
        }
        // Nor can they create objects in schema auth (an overload of auth.login there would
        // capture PostgREST's calls).
        for role in roles {
            for schema in ["auth", "auth_private"] {
                assert_eq!(
                    one::<bool>(&format!(
                        "SELECT has_schema_privilege({}, '{schema}', 'CREATE')",
                        lit(role)
                    )),
                    Some(false),
                    "{role} may create in schema {schema}"
                );
            }
        }
        // And trying fails with 42501, whichever way the role was reached.
        as_every_identity(|_| {
            let mut failures = Vec::new();
            for (rel, kind, col) in &relations {
                let attempts = if kind == "S" {
                    vec![
                        format!("SELECT nextval({})", lit(rel)),
                        format!("SELECT last_value FROM {rel}"),
                    ]
                } else {
                    let mut attempts = vec![
                        format!("SELECT * FROM {rel} LIMIT 1"),
                        format!("SELECT count(*) FROM {rel}"),
                        format!("INSERT INTO {rel} DEFAULT VALUES"),
                        format!("UPDATE {rel} SET \"{col}\" = \"{col}\""),
                        format!("DELETE FROM {rel}"),
                    ];
                    // A view cannot be truncated by anyone (42809 before any privilege check).
                    if kind != "v" {
                        attempts.push(format!("TRUNCATE {rel}"));
                    }
                    attempts
                };
                for sql in attempts {
                    let (state, message) = error_of(&sql);
                    if state != "42501" {
                        failures.push(format!("{sql}: {state} {message}"));
                    }
                }
            }
            failures
        });
    }

    /// A monitoring role (pg_monitor, so pg_read_all_settings) may read SUPERUSER_ONLY settings by
    /// PostgreSQL's rules: the secrets answer it with a mask, never the value.
    #[pg_test]
    fn privileges_monitoring_role_sees_only_a_mask() {
        setup();
        run("SET LOCAL auth.proxy_secret = 'proxy-secret-the-monitor-must-not-see'");
        run("SET LOCAL SESSION AUTHORIZATION pv_monitor");
        assert_eq!(
            one::<bool>("SELECT pg_has_role('pg_read_all_settings', 'MEMBER')"),
            Some(true)
        );
        for name in [
            "auth.jwt_secret",
            "auth.proxy_secret",
            "auth.key_encryption_key",
        ] {
            assert_eq!(text(&format!("SHOW {name}")), "(hidden)");
            assert_eq!(
                text(&format!("SELECT current_setting('{name}')")),
                "(hidden)"
            );
            assert_eq!(
                one::<i64>(&format!(
                    "SELECT count(*) FROM pg_settings WHERE name = '{name}'"
                )),
                Some(0)
            );
        }
        run("RESET SESSION AUTHORIZATION");
    }

    /// Settings stored in catalogs every role reads (pg_db_role_setting, a function's SET clause)
    /// cannot hold a secret: the check hook refuses them when they are stored.
    #[pg_test]
    fn privileges_secrets_refused_in_world_readable_catalogs() {
        setup();
        for stmt in [
            "ALTER ROLE pv_web SET auth.jwt_secret = 'a-secret-that-would-be-world-readable'",
            "ALTER ROLE pv_web IN DATABASE pgrx_tests SET auth.proxy_secret = 'world-readable'",
            "ALTER DATABASE pgrx_tests SET auth.jwt_secret = 'a-secret-that-would-be-world-readable'",
            "ALTER DATABASE pgrx_tests SET auth.key_encryption_key = 'a-key-that-would-be-world-readable-too'",
            "CREATE FUNCTION tests.pv_leaky() RETURNS int LANGUAGE sql \
             SET auth.jwt_secret = 'a-secret-that-would-be-world-readable' AS 'SELECT 1'",
        ] {
            let (state, message) = error_of(stmt);
            assert_eq!(state, "22023", "{stmt}: {message}");
        }
        assert_eq!(
            one::<i64>(
                "SELECT count(*) FROM pg_db_role_setting WHERE array_to_string(setconfig, ',') ~ '(secret|key_encryption)'"
            ),
            Some(0)
        );
        // Non-secret settings still can be stored there.
        run("ALTER ROLE pv_web SET auth.jwt_leeway = 10");
        // A superuser's own session may still set the secret (tests, key rotation by hand).
        run("SET LOCAL auth.proxy_secret = 'set-in-a-superuser-session'");
        assert_eq!(
            one::<bool>("SELECT auth_private._proxy_secret_matches('set-in-a-superuser-session')"),
            Some(true)
        );
    }

    #[pg_test]
    fn privileges_secrets_cannot_be_read_or_set() {
        setup();
        run(&format!(
            "SET LOCAL auth.proxy_secret = {}",
            lit(PROXY_SECRET)
        ));
        // The key the test cluster's postgresql.conf sets (src/lib.rs): SHOW masks it for every
        // role, superusers included.
        let jwt_secret = "test-secret-that-is-at-least-32-bytes-long".to_string();
        assert_eq!(text("SHOW auth.jwt_secret"), "(hidden)");
        assert_eq!(text("SHOW auth.proxy_secret"), "(hidden)");
        // Every auth.* setting, the two secrets included (pg_settings hides them even from a
        // superuser: NO_SHOW_ALL).
        let mut settings = strings(json(
            "SELECT json_agg(name ORDER BY name) FROM pg_settings WHERE name LIKE 'auth.%'",
        ));
        settings.extend([
            "auth.jwt_secret".to_string(),
            "auth.proxy_secret".to_string(),
        ]);
        assert!(settings.len() > 10, "{settings:?}");

        as_every_identity(|_| {
            let mut failures = Vec::new();
            let try_text = |sql: &str| text(&format!("SELECT tests.try_text({})", lit(sql)));
            let mut check = |sql: String, must_be_denied: bool| {
                let got = try_text(&sql);
                if got.contains(&jwt_secret) || got.contains(PROXY_SECRET) {
                    failures.push(format!("{sql} reveals a secret"));
                }
                if must_be_denied && !got.starts_with("ERROR 42501") {
                    failures.push(format!("{sql} was not refused: {got:.80}"));
                }
            };
            for name in ["auth.jwt_secret", "auth.proxy_secret"] {
                // Refused (42501), or masked for members of pg_read_all_settings (pg_monitor).
                check(format!("SHOW {name}"), false);
                check(format!("SELECT current_setting('{name}')"), false);
                check(format!("SELECT current_setting('{name}', true)"), false);
                check(
                    format!("SELECT setting FROM pg_settings WHERE name = '{name}'"),
                    false,
                );
                check(
                    format!(
                        "SELECT set_config('{name}', 'attacker-chosen-value-of-32-bytes!', true)"
                    ),
                    true,
                );
                check(
                    format!("SELECT reset_val FROM pg_settings WHERE name = '{name}'"),
                    false,
                );
            }
            check("SELECT string_agg(name || '=' || coalesce(setting, '') || coalesce(reset_val, '') || coalesce(boot_val, ''), ',') FROM pg_settings".into(), false);
            check("SELECT string_agg(s.name || '=' || coalesce(s.setting, ''), ',') FROM pg_show_all_settings() s".into(), false);
            check("SELECT string_agg(name || '=' || coalesce(setting, ''), ',') FROM pg_file_settings".into(), true);
            check("SELECT string_agg(s.name || '=' || coalesce(s.setting, ''), ',') FROM pg_show_all_file_settings() s".into(), true);
            check(
                "SELECT string_agg(array_to_string(setconfig, ','), ';') FROM pg_db_role_setting"
                    .into(),
                false,
            );
            check("SELECT pg_read_file('postgresql.conf')".into(), true);
            check("SELECT pg_read_file('postgresql.auto.conf')".into(), true);
            check(
                "SELECT string_agg(query, ';') FROM pg_stat_activity".into(),
                false,
            );
            check(
                "SELECT auth_private._setting('proxy_secret_set')".into(),
                true,
            );
            check(
                "SELECT auth_private._proxy_secret_matches('x')".into(),
                true,
            );
            // No setting of the extension can be changed by an API caller: not the key, not
            // the algorithm, not a check.
            for name in &settings {
                check(format!("SELECT set_config('{name}', 'x', true)"), true);
                check(format!("SELECT set_config('{name}', 'x', false)"), true);
            }
            failures
        });
    }

    /// Functions of schema auth that `role` may execute.
    fn executable_by(role: &str) -> Vec<String> {
        strings(json(&format!(
            "SELECT json_agg(p.oid::regprocedure::text ORDER BY p.oid::regprocedure::text) \
             FROM pg_proc p WHERE p.pronamespace IN ('auth'::regnamespace, 'auth_private'::regnamespace) \
             AND has_function_privilege({}, p.oid, 'EXECUTE')",
            lit(role)
        )))
    }

    fn sorted(parts: &[&[&str]]) -> Vec<String> {
        let mut v: Vec<String> = parts
            .iter()
            .flat_map(|p| p.iter().map(|s| s.to_string()))
            .collect();
        v.sort();
        v.dedup();
        v
    }

    #[pg_test]
    fn privileges_functions_private_unless_allowed() {
        setup();
        run("CREATE ROLE pv_nobody NOLOGIN");
        // Deny by default: PUBLIC (so any role at all) executes exactly the allow-list.
        assert_eq!(executable_by("public"), sorted(&[PUBLIC_FUNCTIONS]));
        assert_eq!(executable_by("pv_nobody"), sorted(&[PUBLIC_FUNCTIONS]));
        // The documented grants add exactly what they say.
        assert_eq!(
            executable_by("pv_anon"),
            sorted(&[PUBLIC_FUNCTIONS, ANON_GRANTED])
        );
        assert_eq!(
            executable_by("pv_web"),
            sorted(&[PUBLIC_FUNCTIONS, WEB_GRANTED])
        );
        // NOINHERIT: the authenticator itself holds nothing of its members.
        assert_eq!(
            executable_by("pv_authenticator"),
            sorted(&[PUBLIC_FUNCTIONS])
        );
        // No SECURITY DEFINER function is open to PUBLIC but the public JWK Set, which takes no
        // argument and returns public keys only.
        assert_eq!(
            json(
                "SELECT json_agg(p.oid::regprocedure::text) FROM pg_proc p \
                  WHERE p.pronamespace IN ('auth'::regnamespace, 'auth_private'::regnamespace) AND p.prosecdef \
                  AND has_function_privilege('public', p.oid, 'EXECUTE')"
            ),
            serde_json::json!(["auth.jwks()"])
        );

        // Calling anything else raises 42501, with real (non-NULL) arguments so that no strict
        // function is folded away to NULL before the privilege check.
        let calls = json(
            "SELECT json_agg(json_build_array(p.oid::regprocedure::text, \
               format('SELECT %I.%I(%s)', p.pronamespace::regnamespace::text, p.proname, coalesce((\
                 SELECT string_agg(CASE format_type(t, NULL) \
                   WHEN 'text' THEN '''x''::text' WHEN 'bytea' THEN '''\\x00''::bytea' \
                   WHEN 'json' THEN '''{}''::json' WHEN 'jsonb' THEN '''{}''::jsonb' \
                   WHEN 'uuid' THEN 'gen_random_uuid()' WHEN 'integer' THEN '1' \
                   WHEN 'bigint' THEN '1::bigint' WHEN 'boolean' THEN 'false' \
                   WHEN 'name' THEN '''pv_web''::name' WHEN 'name[]' THEN 'ARRAY[''pv_web'']::name[]' \
                   WHEN 'text[]' THEN 'ARRAY[''x'']' WHEN 'timestamp with time zone' THEN 'now() + interval ''1 day''' \
                   WHEN 'interval' THEN 'interval ''1 day''' WHEN 'double precision' THEN '1::float8' \
                   WHEN 'oid' THEN '1::oid' \
                   ELSE 'NULL::' || format_type(t, NULL) END, ', ' ORDER BY i) \
                 FROM unnest(p.proargtypes) WITH ORDINALITY AS a(t, i)), '')), \
               p.prorettype = 'trigger'::regtype) ORDER BY 1) \
             FROM pg_proc p WHERE p.pronamespace IN ('auth'::regnamespace, 'auth_private'::regnamespace) AND p.prokind = 'f'",
        );
        let calls: Vec<(String, String, bool)> = calls
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c[0].as_str().unwrap().into(),
                    c[1].as_str().unwrap().into(),
                    c[2].as_bool().unwrap(),
                )
            })
            .collect();
        // The sensitive ones must be among them (so the enumeration is not empty by mistake).
        for must in [
            "auth.jwt_sign(jsonb)",
            "auth.sign(json,text,text)",
            "auth.hash_password(text)",
            "auth.create_api_token(text,name,timestamp with time zone,jsonb,text[])",
            "auth.create_api_key(name,text,timestamp with time zone,text,text[])",
            "auth.import_api_key(text,name,text,boolean,timestamp with time zone,text,text[])",
            "auth.create_my_api_token(text,timestamp with time zone,text[])",
            "auth_private._new_refresh_token()",
            "auth_private._new_api_key()",
            "auth_private._new_one_time_token()",
            "auth_private._issue_one_time_token(text,text,text)",
            "auth.grant_outbox_access(name)",
        ] {
            assert!(
                calls.iter().any(|(f, _, _)| f == must),
                "{must} missing from pg_proc"
            );
        }
        as_every_identity(|label| {
            let role = label.rsplit(' ').next().unwrap();
            let allowed = match role {
                "pv_anon" => sorted(&[PUBLIC_FUNCTIONS, ANON_GRANTED]),
                "pv_web" => sorted(&[PUBLIC_FUNCTIONS, WEB_GRANTED]),
                _ => sorted(&[PUBLIC_FUNCTIONS]),
            };
            calls
                .iter()
                .filter(|(f, _, trigger)| !allowed.contains(f) && !trigger)
                // The helpers of jwt_verify are executable by PUBLIC but refuse these roles too.
                .chain(calls.iter().filter(|(f, _, _)| {
                    f.starts_with("auth_private._jwt_reject")
                        || f == "auth_private._jwt_claims(text)"
                }))
                .filter_map(|(f, call, _)| {
                    let (state, message) = error_of(call);
                    (state != "42501").then(|| format!("{f} via {call}: {state} {message}"))
                })
                .collect()
        });
    }

    #[pg_test]
    fn privileges_security_definer_functions_pin_search_path() {
        let definers = strings(json(
            "SELECT json_agg(p.oid::regprocedure::text ORDER BY 1) FROM pg_proc p \
             WHERE p.pronamespace IN ('auth'::regnamespace, 'auth_private'::regnamespace) AND p.prosecdef",
        ));
        for must in [
            "auth.login(text,text)",
            "auth.refresh_token(text)",
            "auth.logout(text)",
        ] {
            assert!(
                definers.iter().any(|d| d == must),
                "{must} is not SECURITY DEFINER: {definers:?}"
            );
        }
        let unpinned = json(
            "SELECT json_agg(p.oid::regprocedure::text || ' ' || coalesce(p.proconfig::text, '{}')) \
             FROM pg_proc p WHERE p.pronamespace IN ('auth'::regnamespace, 'auth_private'::regnamespace) AND p.prosecdef \
             AND NOT coalesce(p.proconfig @> ARRAY['search_path=pg_catalog, pg_temp'], false)",
        );
        assert_eq!(
            unpinned,
            Value::Null,
            "SECURITY DEFINER without search_path = pg_catalog, pg_temp"
        );
        // The check can fail: a definer function without the setting is reported.
        run("CREATE FUNCTION auth.pv_unpinned() RETURNS int LANGUAGE sql SECURITY DEFINER AS 'SELECT 1'");
        let unpinned = json(
            "SELECT json_agg(p.oid::regprocedure::text) FROM pg_proc p \
             WHERE p.pronamespace IN ('auth'::regnamespace, 'auth_private'::regnamespace) AND p.prosecdef \
             AND NOT coalesce(p.proconfig @> ARRAY['search_path=pg_catalog, pg_temp'], false)",
        );
        assert_eq!(unpinned, serde_json::json!(["auth.pv_unpinned()"]));
        // ... and so is a new function in schema auth left open to PUBLIC (functions created
        // after the extension's REVOKE get PUBLIC's default EXECUTE).
        assert!(executable_by("public").contains(&"auth.pv_unpinned()".to_string()));
    }

    // Planting: objects an attacker holding the API roles creates in `public` (as on servers that
    // still let PUBLIC create there) and in `pg_temp` (always allowed), shadowing what the SECURITY
    // DEFINER flows use. Each planted function bumps a sequence (not rolled back with the statement)
    // and returns something harmful (`true` for a password check, a superuser role, ...).
    const ATTACKER_PASSWORD: &str = "attacker password";

    /// Functions the flows call, built-in and ours: (name, arguments, return type).
    const SHADOWS: &[(&str, &str, &str)] = &[
        ("now", "", "timestamptz"),
        ("crypt", "text, text", "text"),
        ("gen_salt", "text", "text"),
        ("sha256", "bytea", "bytea"),
        ("convert_to", "text, name", "bytea"),
        ("gen_random_uuid", "", "uuid"),
        ("set_config", "text, text, boolean", "text"),
        ("current_setting", "text", "text"),
        ("current_setting", "text, boolean", "text"),
        ("make_interval", "secs double precision", "interval"),
        ("left", "text, integer", "text"),
        ("hashtextextended", "text, bigint", "bigint"),
        ("pg_advisory_xact_lock", "bigint", "void"),
        ("floor", "double precision", "double precision"),
        ("ceil", "double precision", "double precision"),
        ("date_part", "text, timestamptz", "double precision"),
        ("jsonb_build_object", "VARIADIC text[]", "jsonb"),
        ("jsonb_build_array", "VARIADIC text[]", "jsonb"),
        ("jsonb_typeof", "jsonb", "text"),
        ("strpos", "text, text", "integer"),
        ("lower", "text", "text"),
        ("length", "text", "integer"),
        ("char_length", "text", "integer"),
        ("octet_length", "bytea", "integer"),
        ("isfinite", "timestamptz", "boolean"),
        ("format", "text", "text"),
        ("encode", "bytea, text", "text"),
        ("digest", "bytea, text", "bytea"),
        ("hmac", "text, text, text", "bytea"),
        ("_setting", "text", "text"),
        ("_check_password", "text", "void"),
        ("_login_password_matches", "text, text", "boolean"),
        ("_password_needs_rehash", "text", "boolean"),
        ("_password_to_store", "text, text", "text"),
        ("_hash_to_store", "text", "text"),
        ("_check_new_password", "text, text", "void"),
        ("_new_refresh_token", "", "text"),
        ("_request_cookie", "text", "text"),
        ("_request_header", "text", "text"),
        ("_to_uuid", "text", "uuid"),
        ("_claim_markers", "text", "text"),
        ("_proxy_secret_matches", "text", "boolean"),
        ("_may_record_use", "", "boolean"),
        ("_api_key_hash", "text", "bytea"),
        ("_signed_claims_ignoring_time", "text", "jsonb"),
        ("_clear_session_cookies", "", "void"),
        ("_add_response_headers", "jsonb", "void"),
        ("_error_response", "integer, text", "jsonb"),
        ("_start_session", "text, name, text", "jsonb"),
        ("_session_response", "text, name, text, jsonb", "jsonb"),
        ("_session_claims", "uuid, text, name, jsonb", "jsonb"),
        ("_token_claims", "uuid, text, name, text, jsonb", "jsonb"),
        ("_access_token_hook", "", "boolean"),
        ("_call_access_token_hook", "jsonb", "jsonb"),
        ("_refresh_refused", "", "jsonb"),
        ("_jwt_claims", "text", "jsonb"),
        ("_jwt_rejection", "text", "text"),
        ("_jwt_reject", "text", "jsonb"),
        ("_sign_api_key_token", "uuid, text, text, bigint", "text"),
        ("_check_request_credentials", "text", "void"),
        ("_check_credential_role", "name, name", "void"),
        ("_invoking_role", "", "text"),
        ("_audit", "text, text, uuid, uuid, jsonb", "void"),
        ("_session_timeout", "timestamptz, timestamptz", "text"),
        ("_end_timed_out_session", "uuid", "void"),
        ("_request_client_ip", "", "text"),
        ("_caller_session", "", "text"),
        ("claims", "", "jsonb"),
        ("jwt_sign", "jsonb", "text"),
        ("hash_password", "text", "text"),
        ("verify_password", "text, text", "boolean"),
        ("check_request", "", "void"),
        ("_cookie_claims", "text", "text"),
        ("_cookie_role", "text", "text"),
        ("_role_settings", "name", "text"),
        ("_require_same_origin", "boolean", "void"),
        ("_cross_origin_refusal", "boolean", "text"),
        ("pg_has_role", "name, name, text", "boolean"),
        ("has_parameter_privilege", "name, text, text", "boolean"),
        ("substr", "text, integer, integer", "text"),
        ("substr", "text, integer", "text"),
    ];

    /// Operators the flows use: (operator, left, right, result).
    const OPERATORS: &[(&str, &str, &str, &str)] = &[
        ("=", "text", "text", "boolean"),
        ("=", "uuid", "uuid", "boolean"),
        ("=", "bytea", "bytea", "boolean"),
        ("=", "name", "name", "boolean"),
        ("=", "integer", "integer", "boolean"),
        ("<>", "text", "text", "boolean"),
        ("<", "timestamptz", "timestamptz", "boolean"),
        ("<=", "timestamptz", "timestamptz", "boolean"),
        (">", "timestamptz", "timestamptz", "boolean"),
        ("+", "timestamptz", "interval", "timestamptz"),
        ("-", "timestamptz", "interval", "timestamptz"),
        ("->>", "jsonb", "text", "text"),
        ("?", "jsonb", "text", "boolean"),
        ("||", "jsonb", "jsonb", "jsonb"),
        ("~", "text", "text", "boolean"),
    ];

    /// Tables named like the extension's, in pg_temp (searched last by the flows' search_path).
    const TEMP_TABLES: &[(&str, &str)] = &[
        ("users", "username text, password text, role name, created_at timestamptz, updated_at timestamptz, app_metadata jsonb"),
        ("sessions", "id uuid, username text, created_at timestamptz, refreshed_at timestamptz, expires_at timestamptz, revoked_at timestamptz, last_seen_at timestamptz, user_agent text, client_ip inet, method text, ended_reason text"),
        ("refresh_tokens", "id uuid, session_id uuid, token_hash bytea, created_at timestamptz, expires_at timestamptz, spent_at timestamptz"),
        ("login_failures", "id uuid, username text, failed_at timestamptz, client_ip inet"),
        ("audit_log", "id bigint, at timestamptz, event text, username text, session_id uuid, credential_id uuid, client_ip inet, user_agent text, detail jsonb"),
        ("request_roles", "role name, granted_at timestamptz"),
        ("api_tokens", "id uuid, name text, role name, claims jsonb, created_at timestamptz, created_by name, expires_at timestamptz, revoked_at timestamptz, last_used_at timestamptz"),
        ("api_keys", "id uuid, name text, key_hash bytea, display_prefix text, role name, plan text, enabled boolean, expires_at timestamptz, created_at timestamptz, created_by name, last_used_at timestamptz"),
    ];

    fn harmful(ret: &str) -> &'static str {
        match ret {
            "timestamptz" => "RETURN 'infinity';",
            "boolean" => "RETURN true;",
            "text" => "RETURN 'postgres';",
            "jsonb" => r#"RETURN '{"role":"postgres","sub":"pv_alice"}';"#,
            "uuid" => "RETURN '00000000-0000-0000-0000-000000000000';",
            "bytea" => r"RETURN '\x00';",
            "interval" => "RETURN '100 years';",
            "void" => "RETURN;",
            _ => "RETURN 0;",
        }
    }

    fn plant_function(schema: &str, name: &str, args: &str, ret: &str) {
        run(&format!(
            "CREATE FUNCTION {schema}.\"{name}\"({args}) RETURNS {ret} LANGUAGE plpgsql AS $plant$ \
             BEGIN PERFORM pg_catalog.nextval('public.pv_planted_runs'); {} END $plant$",
            harmful(ret)
        ));
    }

    fn runs() -> i64 {
        one::<i64>(
            "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM public.pv_planted_runs",
        )
        .unwrap()
    }

    /// Runs `stmt` with the attacker's search_path (public and pg_temp before pg_catalog), as
    /// the current role; returns {result, status, headers} or {state, message}.
    fn attack(stmt: &str) -> Value {
        let sql = format!(
            "SELECT tests.as_attacker('{}')::text",
            stmt.replace('\'', "''")
        );
        serde_json::from_str(&one::<String>(&sql).unwrap()).unwrap()
    }

    fn cookie(outcome: &Value, name: &str) -> Option<String> {
        let headers: Value = serde_json::from_str(outcome["headers"].as_str()?).ok()?;
        headers.as_array()?.iter().find_map(|h| {
            let c = h["Set-Cookie"].as_str()?;
            let v = c.strip_prefix(&format!("{name}="))?;
            Some(v.split(';').next().unwrap().to_string())
        })
    }

    fn claim_of(token: &str, name: &str) -> String {
        let payload = token.split('.').nth(1).unwrap();
        let bytes = auth_core::base64url::decode_strict(payload).unwrap();
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        v[name].as_str().unwrap().to_string()
    }

    #[pg_test]
    fn privileges_planted_shadows_never_run() {
        run("SET LOCAL auth.bcrypt_cost = 4");
        run("CREATE ROLE pv_anon NOLOGIN");
        run("CREATE ROLE pv_web NOLOGIN");
        run("CREATE ROLE pv_authenticator LOGIN NOINHERIT");
        run("GRANT pv_anon, pv_web TO pv_authenticator");
        run("SELECT auth.grant_session_access('pv_anon', ARRAY['pv_web'])");
        run("SELECT auth.grant_request_check(ARRAY['pv_anon', 'pv_web']::name[])");
        run("GRANT EXECUTE ON FUNCTION auth.exchange_api_key(text) TO pv_anon");
        run(
            "GRANT EXECUTE ON FUNCTION auth.create_my_api_token(text, timestamptz, text[]), \
             auth.my_api_tokens(), auth.revoke_my_api_token(uuid) TO pv_web",
        );
        // A monitoring agent's role and a plain LOGIN role that connects directly.
        run("CREATE ROLE pv_monitor LOGIN IN ROLE pg_monitor");
        run("CREATE ROLE pv_login LOGIN");
        run("GRANT EXECUTE ON FUNCTION auth.jwt_verify(text) TO pv_web");
        run(&format!(
            "INSERT INTO auth.users (username, password, role) VALUES ('pv_alice', '{PASSWORD}', 'pv_web')"
        ));
        let api_key = one::<String>("SELECT auth.create_api_key('pv_web', 'gold')").unwrap();
        // A token of pv_alice without a session, for change_password below.
        let live = text("SELECT auth.jwt_sign('{\"sub\":\"pv_alice\",\"role\":\"pv_web\"}')");
        let attacker_hash =
            one::<String>(&format!("SELECT auth.hash_password('{ATTACKER_PASSWORD}')")).unwrap();
        // The lax setup the attack needs: CREATE on public (PostgreSQL < 15's default).
        run("GRANT CREATE ON SCHEMA public TO pv_anon, pv_web");
        run("CREATE SEQUENCE public.pv_planted_runs");
        run("GRANT ALL ON SEQUENCE public.pv_planted_runs TO PUBLIC");

        // The attacker, through the authenticator as PostgREST does, plants everything.
        run("SET LOCAL SESSION AUTHORIZATION pv_authenticator");
        run("SET LOCAL ROLE pv_anon");
        for schema in ["public", "pg_temp"] {
            for (name, args, ret) in SHADOWS {
                plant_function(schema, name, args, ret);
            }
            for (i, (op, left, right, ret)) in OPERATORS.iter().enumerate() {
                plant_function(
                    schema,
                    &format!("pv_op_{i}"),
                    &format!("{left}, {right}"),
                    ret,
                );
                run(&format!(
                    "CREATE OPERATOR {schema}.{op} (LEFTARG = {left}, RIGHTARG = {right}, FUNCTION = {schema}.pv_op_{i})"
                ));
            }
        }
        for (table, columns) in TEMP_TABLES {
            run(&format!("CREATE TEMP TABLE {table} ({columns})"));
        }
        run(&format!(
            "INSERT INTO pg_temp.users VALUES ('pv_alice', '{attacker_hash}', 'postgres', NULL, NULL), \
             ('pv_mallory', '{attacker_hash}', 'postgres', NULL, NULL)"
        ));

        // Control: the plants are live for anything that resolves names the attacker's way.
        let before = runs();
        for probe in [
            "SELECT now()::text",
            "SELECT ('a'::text = 'b'::text)::text",
            "SELECT _login_password_matches('a', 'b')::text",
            "SELECT pg_temp.now()::text",
        ] {
            let got = attack(probe);
            assert!(got.get("state").is_none(), "{probe}: {got}");
        }
        assert_eq!(runs(), before + 4, "the control probes ran the plants");
        assert_eq!(attack("SELECT count(*)::text FROM users")["result"], "2");
        let planted_runs = runs();

        // The flows, as the anonymous role.
        let ok = attack(&format!(
            "SELECT auth.login('pv_alice', '{PASSWORD}')::text"
        ));
        assert!(ok.get("state").is_none() && ok["status"].is_null(), "{ok}");
        let refresh = cookie(&ok, "refresh_token").expect("a refresh cookie");
        let access = cookie(&ok, "access_token").expect("an access cookie");
        let sid = claim_of(&access, "sid");
        assert_eq!(
            claim_of(&access, "role"),
            "pv_web",
            "the role is the user's, not a planted one"
        );
        let refused = attack(&format!(
            "SELECT auth.login('pv_alice', '{ATTACKER_PASSWORD}')::text"
        ));
        assert_eq!(refused["status"], "401", "{refused}");
        let refused = attack(&format!(
            "SELECT auth.login('pv_mallory', '{ATTACKER_PASSWORD}')::text"
        ));
        assert_eq!(refused["status"], "401", "{refused}");
        let rotated = attack(&format!("SELECT auth.refresh_token('{refresh}')::text"));
        assert!(rotated["status"].is_null(), "{rotated}");
        let refresh = cookie(&rotated, "refresh_token").expect("a new refresh cookie");
        assert_eq!(
            attack("SELECT auth.refresh_token('garbage')::text")["status"],
            "401"
        );
        run(&format!(
            "SELECT set_config('request.jwt.claims', '{{\"role\":\"pv_anon\",\"sid\":\"{sid}\"}}', true)"
        ));
        assert_eq!(attack("SELECT auth.check_request()::text")["result"], "");
        let exchanged = attack(&format!("SELECT auth.exchange_api_key('{api_key}')::text"));
        assert!(
            exchanged["result"]
                .as_str()
                .unwrap_or("")
                .contains("access_token"),
            "{exchanged}"
        );
        assert_eq!(
            attack("SELECT auth.exchange_api_key('garbage')::text")["state"],
            "PT401"
        );
        run(&format!(
            "SELECT set_config('request.cookies', '{{\"refresh_token\":\"{refresh}\"}}', true)"
        ));
        let out = attack("SELECT auth.logout()::text");
        assert!(out.get("state").is_none(), "{out}");
        run("SELECT set_config('request.cookies', '', true)");
        assert_eq!(
            attack("SELECT auth.check_request()::text")["state"],
            "PT401",
            "the session ended"
        );

        // The flows, as the authenticated role.
        run("SET LOCAL ROLE pv_web");
        assert_eq!(
            attack(&format!(
                "SELECT auth.jwt_verify('{access}') OPERATOR(pg_catalog.->>) 'sub'"
            ))["result"],
            "pv_alice"
        );
        run("SELECT set_config('request.jwt.claims', '{\"role\":\"pv_web\",\"sub\":\"pv_alice\"}', true)");
        // The session of `access` ended at logout above: prove the caller with a live token.
        run(&format!(
            "SELECT set_config('request.headers', '{{\"authorization\": \"Bearer {live}\"}}', true)"
        ));
        let changed = attack(&format!(
            "SELECT auth.change_password('{PASSWORD}', 'a brand new password')::text"
        ));
        assert!(changed.get("state").is_none(), "{changed}");
        let listed = attack("SELECT count(*)::text FROM auth.my_sessions()");
        assert!(listed.get("state").is_none(), "{listed}");
        let ended =
            attack("SELECT auth.end_my_session('00000000-0000-0000-0000-000000000000')::text");
        assert_eq!(ended["result"], "false", "{ended}");
        let others = attack("SELECT auth.logout('others')::text");
        assert!(others.get("state").is_none(), "{others}");

        // Nothing planted ran, and the temp tables were neither read into nor written.
        run("RESET ROLE");
        run("RESET SESSION AUTHORIZATION");
        run("SELECT set_config('request.jwt.claims', '', true)");
        assert_eq!(runs(), planted_runs, "a planted object ran inside a flow");
        for (table, _) in TEMP_TABLES {
            let want = if *table == "users" { 2 } else { 0 };
            assert_eq!(
                one::<i64>(&format!("SELECT count(*) FROM pg_temp.{table}")),
                Some(want),
                "pg_temp.{table}"
            );
        }
        assert_eq!(
            one::<bool>("SELECT auth.verify_password('a brand new password', password) FROM auth.users WHERE username = 'pv_alice'"),
            Some(true),
            "the new password was hashed by bcrypt, not by a plant"
        );
        assert_eq!(
            one::<i64>("SELECT count(*) FROM auth.sessions WHERE username = 'pv_alice' AND revoked_at IS NULL"),
            Some(0)
        );
    }
}

extension_sql!(
    r#"
-- Runs `stmt` with an attacker's search_path (public and pg_temp before pg_catalog) and returns
-- {result, status, headers} or {state, message}. Written so that nothing of its own resolves
-- through that path: every call is schema-qualified, and no operator runs while it is set.
CREATE FUNCTION tests.as_attacker(stmt text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    saved text := pg_catalog.current_setting('search_path');
    res text;
    st text;
    msg text;
BEGIN
    PERFORM pg_catalog.set_config('response.status', '', true),
            pg_catalog.set_config('response.headers', '', true);
    BEGIN
        PERFORM pg_catalog.set_config('search_path', 'public, pg_temp, pg_catalog', true);
        EXECUTE stmt INTO res;
        PERFORM pg_catalog.set_config('search_path', saved, true);
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
        RETURN pg_catalog.jsonb_build_object('state', st, 'message', msg);
    END;
    RETURN pg_catalog.jsonb_build_object(
        'result', res,
        'status', NULLIF(pg_catalog.current_setting('response.status', true), ''),
        'headers', NULLIF(pg_catalog.current_setting('response.headers', true), ''));
END
$$;
"#,
    name = "tests_planting",
    requires = ["tests_common"]
);
