//! Scopes on API tokens and keys (the `scope` claim, `auth.has_scope` in a policy), imported API
//! keys (`auth.import_api_key`, a CSV-driven gateway's list imported in one statement), and the
//! API tokens users make for themselves (`create_my_api_token`, `my_api_tokens`,
//! `revoke_my_api_token`).

#[pgrx::pg_schema]
mod tests {
    use crate::pgrx_tests::common::{
        assert_error, claims_of, lit, make_roles, one, postgrest_roles, run, text, Request,
    };
    use pgrx::prelude::*;
    use serde_json::{json, Value};

    const PASSWORD: &str = "correct horse battery";

    fn count(sql: &str) -> i64 {
        one::<i64>(sql).unwrap_or_else(|| panic!("{sql} returned NULL"))
    }

    /// Every row of the credential tables, to prove a refusal wrote nothing.
    fn credential_rows() -> String {
        text(
            "SELECT coalesce((SELECT json_agg(t ORDER BY t.id)::text FROM auth.api_tokens t), '') || \
             coalesce((SELECT json_agg(k ORDER BY k.id)::text FROM auth.api_keys k), '')",
        )
    }

    #[pg_test]
    fn api_scopes_tokens_and_keys_carry_a_scope_claim() {
        make_roles("sc_a");
        let token = text(
            "SELECT auth.create_api_token('scoped', 'sc_a_web', scopes => ARRAY['orders:read', 'orders:write'])",
        );
        let c = claims_of(&token);
        assert_eq!(c["scope"], "orders:read orders:write");
        assert_eq!(
            text(&format!(
                "SELECT scopes::text FROM auth.api_tokens WHERE id = '{}'",
                c["tid"].as_str().unwrap()
            )),
            "{orders:read,orders:write}"
        );
        // No scopes, NULL or empty: no claim, NULL stored (one way to say "none").
        for scopes in ["NULL", "'{}'"] {
            let c = claims_of(&text(&format!(
                "SELECT auth.create_api_token('plain', 'sc_a_web', NULL, '{{}}', {scopes})"
            )));
            assert!(c.get("scope").is_none(), "{c}");
            assert_eq!(
                one::<bool>(&format!(
                    "SELECT scopes IS NULL FROM auth.api_tokens WHERE id = '{}'",
                    c["tid"].as_str().unwrap()
                )),
                Some(true)
            );
        }
        // `scope` is reserved in the extra claims: only `scopes` sets it.
        assert_error(
            r#"SELECT auth.create_api_token('t', 'sc_a_web', NULL, '{"scope": "admin"}')"#,
            "22023",
            "claim \"scope\" is reserved",
        );

        // Keys: the exchanged JWT carries the key's scopes.
        let key = text("SELECT auth.create_api_key('sc_a_web', 'pro', scopes => ARRAY['reports'])");
        let jwt: Value = serde_json::from_str(&text(&format!(
            "SELECT auth.exchange_api_key({})::text",
            lit(&key)
        )))
        .unwrap();
        let c = claims_of(jwt["access_token"].as_str().unwrap());
        assert_eq!(c["scope"], "reports");
        assert_eq!(c["plan"], "pro");

        // Bad scopes: 22023 naming the rule, nothing written.
        let before = credential_rows();
        for (scopes, needle) in [
            ("ARRAY['a b']", "scope 1 must be 1 to 64 characters"),
            ("ARRAY['ok', '']", "scope 2 must be 1 to 64 characters"),
            ("ARRAY['a\"b']", "RFC 6749 scope-token"),
            ("ARRAY['a\\b']", "RFC 6749 scope-token"),
            ("ARRAY['é']", "RFC 6749 scope-token"),
            (
                "ARRAY[repeat('s', 65)]",
                "scope 1 must be 1 to 64 characters",
            ),
            ("ARRAY['x', NULL]", "scopes must not contain NULL"),
            ("ARRAY['x', 'y', 'x']", "scope 3 repeats an earlier one"),
            (
                "(SELECT array_agg('s' || i) FROM generate_series(1, 65) i)",
                "at most 64 scopes",
            ),
        ] {
            assert_error(
                &format!("SELECT auth.create_api_token('t', 'sc_a_web', scopes => {scopes})"),
                "22023",
                needle,
            );
            assert_error(
                &format!("SELECT auth.create_api_key('sc_a_web', scopes => {scopes})"),
                "22023",
                needle,
            );
        }
        assert_eq!(credential_rows(), before);
        // The tables' CHECK constraints hold the same rule against direct writes.
        assert_error(
            "UPDATE auth.api_tokens SET scopes = ARRAY['a b']",
            "23514",
            "api_tokens_scopes_check",
        );
        assert_error(
            "UPDATE auth.api_keys SET scopes = ARRAY['x', 'x']",
            "23514",
            "api_keys_scopes_check",
        );
    }

    #[pg_test]
    fn api_scopes_has_scope_reads_the_request_claims() {
        let has = |claims: &str, scope: &str| -> Option<bool> {
            run(&format!(
                "SELECT set_config('request.jwt.claims', {}, true)",
                lit(claims)
            ));
            one::<bool>(&format!("SELECT auth.has_scope({scope})"))
        };
        assert_eq!(has(r#"{"scope":"read write"}"#, "'write'"), Some(true));
        assert_eq!(has(r#"{"scope":"read write"}"#, "'read'"), Some(true));
        assert_eq!(has(r#"{"scope":"read write"}"#, "'rea'"), Some(false));
        assert_eq!(
            has(r#"{"scope":"read write"}"#, "'read write'"),
            Some(false)
        );
        assert_eq!(has(r#"{"scope":"read write"}"#, "''"), Some(false));
        assert_eq!(has(r#"{"scope":"read write"}"#, "NULL"), None);
        assert_eq!(has(r#"{"role":"x"}"#, "'read'"), Some(false));
        assert_eq!(has(r#"{"scope":null}"#, "'read'"), Some(false));
        // An array is not the RFC 8693 form: no scope matches its JSON text.
        assert_eq!(has(r#"{"scope":["read"]}"#, "'read'"), Some(false));
        assert_eq!(has("", "'read'"), Some(false));
        // A new value in the same backend is read at once (the cache is keyed by the value).
        assert_eq!(has(r#"{"scope":"a"}"#, "'a'"), Some(true));
        assert_eq!(has(r#"{"scope":"b"}"#, "'a'"), Some(false));
        assert_error(
            "SELECT set_config('request.jwt.claims', 'not json', true), auth.has_scope('a')",
            "22P02",
            "request.jwt.claims is not valid JSON",
        );
        run("SELECT set_config('request.jwt.claims', '', true)");
    }

    #[pg_test]
    fn api_scopes_has_scope_in_a_policy() {
        make_roles("sc_p");
        run("CREATE TABLE tests.sc_p_orders (id int, note text)");
        run("INSERT INTO tests.sc_p_orders VALUES (1, 'one'), (2, 'two')");
        run("ALTER TABLE tests.sc_p_orders ENABLE ROW LEVEL SECURITY");
        run("CREATE POLICY read_scope ON tests.sc_p_orders FOR SELECT USING (auth.has_scope('orders:read'))");
        run("CREATE POLICY write_scope ON tests.sc_p_orders FOR INSERT WITH CHECK (auth.has_scope('orders:write'))");
        run("GRANT USAGE ON SCHEMA tests TO sc_p_web");
        run("GRANT SELECT, INSERT ON tests.sc_p_orders TO sc_p_web");
        let read_only = text(
            "SELECT auth.create_api_token('reader', 'sc_p_web', scopes => ARRAY['orders:read'])",
        );
        let unscoped = text("SELECT auth.create_api_token('plain', 'sc_p_web')");
        let as_token = |token: &str, stmt: &str| {
            Request::with_claims(&claims_of(token).to_string(), "sc_p_anon")
                .hook()
                .call(stmt)
        };
        let rows = "SELECT count(*)::text FROM tests.sc_p_orders";
        assert_eq!(as_token(&read_only, rows).ok().result.as_deref(), Some("2"));
        assert_eq!(as_token(&unscoped, rows).ok().result.as_deref(), Some("0"));
        let (state, message) = as_token(
            &read_only,
            "INSERT INTO tests.sc_p_orders VALUES (3, 'three') RETURNING id::text",
        )
        .failure();
        assert_eq!(state, "42501", "{message}");
        assert!(message.contains("row-level security"), "{message}");
    }

    /// The temporary table a CSV-driven nginx auth_request gateway's key list is loaded into
    /// (`\copy legacy_keys FROM 'keys.csv' WITH (FORMAT csv)` in psql, as the docs show), filled
    /// here from the CSV text itself: COPY FROM STDIN cannot run inside a test.
    fn load_csv(csv: &str) {
        run("CREATE TEMP TABLE legacy_keys (api_key text, role name, plan text, enabled boolean, expires_at timestamptz)");
        run(&format!(
            "INSERT INTO legacy_keys \
             SELECT nullif(split_part(line, ',', 1), ''), nullif(split_part(line, ',', 2), ''), \
                    nullif(split_part(line, ',', 3), ''), nullif(split_part(line, ',', 4), '')::boolean, \
                    nullif(split_part(line, ',', 5), '')::timestamptz \
             FROM string_to_table({}, E'\\n') AS line WHERE line <> ''",
            lit(csv)
        ));
    }

    /// The one statement of docs/api-credentials.md that imports every live row.
    const IMPORT_ALL: &str =
        "SELECT count(auth.import_api_key(api_key, role, plan, enabled, expires_at, 'imported')) \
         FROM legacy_keys WHERE expires_at IS NULL OR expires_at > now()";

    #[pg_test]
    fn api_scopes_imported_keys_from_a_csv_exchange_like_own_keys() {
        make_roles("sc_i");
        run("CREATE ROLE sc_i_paid NOLOGIN");
        run("GRANT EXECUTE ON FUNCTION auth.exchange_api_key(text) TO sc_i_anon");
        let free = "3f9a1c0e5b7d2a4c6e8f0a1b3c5d7e9f1a2b3c4d5e6f7a8b";
        let paid = "b8a7f6e5d4c3b2a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5";
        let off = "0123456789abcdef0123456789abcdef";
        let gone = "fedcba9876543210fedcba9876543210";
        load_csv(&format!(
            "{free},sc_i_web,free,1,\n{paid},sc_i_paid,pro,1,2999-01-01T00:00:00Z\n\
             {off},sc_i_web,free,0,\n{gone},sc_i_web,free_trial,1,2001-01-01T00:00:00Z\n"
        ));
        assert_eq!(one::<i64>(IMPORT_ALL), Some(3));
        // Only the hash and 4 characters are stored.
        let row: Value = serde_json::from_str(&text(&format!(
            "SELECT row_to_json(k)::text FROM auth.api_keys k WHERE key_hash = sha256(convert_to({}, 'UTF8'))",
            lit(paid)
        )))
        .unwrap();
        assert_eq!(row["display_prefix"], "b8a7");
        assert_eq!(row["role"], "sc_i_paid");
        assert_eq!(row["plan"], "pro");
        assert_eq!(row["enabled"], true);
        assert_eq!(row["name"], "imported");
        for k in [free, paid, off] {
            assert_eq!(
                count(&format!(
                    "SELECT count(*) FROM auth.api_keys k WHERE strpos(row_to_json(k)::text, {}) > 0",
                    lit(&k[4..])
                )),
                0
            );
        }
        // Exchanged exactly like a key of create_api_key, from the argument or the header.
        let jwt: Value = serde_json::from_str(&text(&format!(
            "SELECT auth.exchange_api_key({})::text",
            lit(paid)
        )))
        .unwrap();
        let c = claims_of(jwt["access_token"].as_str().unwrap());
        assert_eq!(
            (c["role"].as_str(), c["plan"].as_str()),
            (Some("sc_i_paid"), Some("pro"))
        );
        let r = Request::with_claims(r#"{"role":"sc_i_anon"}"#, "sc_i_anon")
            .headers(json!({ "x-api-key": free }))
            .hook()
            .call("SELECT auth.exchange_api_key()::text")
            .ok();
        assert!(r.header("Authorization").unwrap().starts_with("Bearer "));
        assert_eq!(r.header("X-Api-Plan").as_deref(), Some("free"));
        // The disabled row is refused; the expired row was not imported.
        for k in [
            off,
            gone,
            "0123456789abcdef0123",
            "not a key at all, with spaces",
        ] {
            assert_error(
                &format!("SELECT auth.exchange_api_key({})", lit(k)),
                "PT401",
                "Invalid API key",
            );
        }
        // Importing the list again: the first stored key stops the statement, nothing written.
        let before = credential_rows();
        assert_error(IMPORT_ALL, "23505", "this API key is already stored");
        assert_eq!(credential_rows(), before);
    }

    #[pg_test]
    fn api_scopes_import_refusals_write_nothing() {
        make_roles("sc_j");
        let good = "a".repeat(20);
        let before = credential_rows();
        for (call, state, needle) in [
            (
                "NULL, 'sc_j_web'".to_string(),
                "22023",
                "key must not be NULL",
            ),
            (
                format!("{}, 'sc_j_web', enabled => NULL", lit(&good)),
                "22023",
                "enabled must not be NULL",
            ),
            (
                format!("{}, 'sc_j_web'", lit(&"a".repeat(19))),
                "22023",
                "key must be 20 to 256 printable ASCII characters",
            ),
            (
                format!("{}, 'sc_j_web'", lit(&"a".repeat(257))),
                "22023",
                "key must be 20 to 256",
            ),
            (
                format!("{}, 'sc_j_web'", lit("aaaaaaaaaa aaaaaaaaaa")),
                "22023",
                "without spaces",
            ),
            (
                format!("{}, 'sc_j_web'", lit("aaaaaaaaaaaaaaaaaaaé")),
                "22023",
                "printable ASCII",
            ),
            (
                format!("{}, NULL", lit(&good)),
                "22023",
                "role must not be NULL",
            ),
            (
                format!("{}, 'sc_j_nobody'", lit(&good)),
                "23503",
                "does not exist",
            ),
            (
                format!("{}, 'sc_j_web', 'bad plan'", lit(&good)),
                "22023",
                "plan must be 1 to 64",
            ),
            (
                format!(
                    "{}, 'sc_j_web', expires_at => now() - interval '1 s'",
                    lit(&good)
                ),
                "22023",
                "expires_at must be in the future",
            ),
            (
                format!("{}, 'sc_j_web', name => ''", lit(&good)),
                "22023",
                "name must be 1 to 256",
            ),
            (
                format!("{}, 'sc_j_web', scopes => ARRAY['a b']", lit(&good)),
                "22023",
                "scope 1 must be",
            ),
        ] {
            let sql = format!("SELECT auth.import_api_key({call})");
            let (got, message) = crate::pgrx_tests::common::error_of(&sql);
            assert_eq!(got, state, "{sql}: {message}");
            assert!(message.contains(needle), "{sql}: {message}");
            // Never the key in a message.
            assert!(!message.contains("aaaaaaaaaa"), "{message}");
        }
        assert_eq!(credential_rows(), before);
        // Closed to other roles; granted, still only for roles the caller holds.
        run("SET LOCAL ROLE sc_j_admin");
        assert_error(
            &format!("SELECT auth.import_api_key({}, 'sc_j_web')", lit(&good)),
            "42501",
            "permission denied",
        );
        run("RESET ROLE");
        run("GRANT EXECUTE ON FUNCTION auth.import_api_key(text, name, text, boolean, timestamptz, text, text[]) TO sc_j_admin");
        run("SET LOCAL ROLE sc_j_admin");
        assert_error(
            &format!("SELECT auth.import_api_key({}, 'sc_j_web')", lit(&good)),
            "42501",
            "is not a member of it",
        );
        run("RESET ROLE");
        run("GRANT sc_j_web TO sc_j_admin");
        run("SET LOCAL ROLE sc_j_admin");
        let id = text(&format!(
            "SELECT auth.import_api_key({}, 'sc_j_web', scopes => ARRAY['read'])::text",
            lit(&good)
        ));
        run("RESET ROLE");
        assert_eq!(
            text(&format!(
                "SELECT created_by || ' ' || scopes::text FROM auth.api_keys WHERE id = '{id}'"
            )),
            "sc_j_admin {read}"
        );
        // Read-only: refused before anything is looked at.
        let r = Request::get("sc_j_admin")
            .call(&format!(
                "SELECT auth.import_api_key({}, 'sc_j_web')::text",
                lit(&"b".repeat(20))
            ))
            .failure();
        assert_eq!(r.0, "25006");
    }

    /// Roles `<tag>_anon` and `<tag>_web` (the users' role), the documented grants, the
    /// self-service grant, and users `<tag>_alice` and `<tag>_bob`.
    fn users(tag: &str) {
        postgrest_roles(tag, true);
        run(&format!(
            "GRANT EXECUTE ON FUNCTION auth.create_my_api_token(text, timestamptz, text[]), \
             auth.my_api_tokens(), auth.revoke_my_api_token(uuid) TO {tag}_web"
        ));
        for u in ["alice", "bob"] {
            run(&format!(
                "INSERT INTO auth.users (username, password, role) VALUES ('{tag}_{u}', {}, '{tag}_web')",
                lit(PASSWORD)
            ));
        }
    }

    /// The access token of a login of `user`.
    fn login(tag: &str, user: &str) -> String {
        Request::post(&format!("{tag}_anon"))
            .claims(json!({ "role": format!("{tag}_anon") }))
            .headers("{}")
            .cookies("{}")
            .call(&format!(
                "SELECT auth.login({}, {})::text",
                lit(user),
                lit(PASSWORD)
            ))
            .ok()
            .cookie("access_token")
            .unwrap()
    }

    /// A request carrying `token` in Authorization, as PostgREST runs it (claims verified, the
    /// role switched to, the hook first).
    fn with_token(token: &str) -> Request {
        let claims = claims_of(token);
        Request::post(claims["role"].as_str().unwrap())
            .claims(claims.to_string())
            .headers(json!({ "authorization": format!("Bearer {token}") }))
            .hook()
    }

    fn create(token: &str, args: &str) -> Result<String, (String, String)> {
        let r = with_token(token).call(&format!("SELECT auth.create_my_api_token({args})"));
        match r.error {
            None => Ok(r.result.unwrap()),
            Some(f) => Err((f.state, f.message)),
        }
    }

    fn listed(token: &str) -> Vec<Value> {
        let r = with_token(token)
            .method("GET")
            .call("SELECT coalesce(json_agg(t), '[]')::text FROM auth.my_api_tokens() t")
            .ok();
        serde_json::from_str::<Vec<Value>>(&r.result.unwrap()).unwrap()
    }

    #[pg_test]
    fn api_scopes_my_api_tokens_round_trip() {
        users("sc_m");
        let alice = login("sc_m", "sc_m_alice");
        let bob = login("sc_m", "sc_m_bob");
        let mine = create(
            &alice,
            "'laptop cli', now() + interval '7 days', ARRAY['orders:read']",
        )
        .unwrap();
        let c = claims_of(&mine);
        assert_eq!(c["sub"], "sc_m_alice");
        assert_eq!(c["role"], "sc_m_web");
        assert_eq!(c["scope"], "orders:read");
        assert!(c["exp"].as_i64().is_some() && c.get("sid").is_none());
        let tid = c["tid"].as_str().unwrap().to_string();
        // It works as an API token (the hook checks its row).
        assert_eq!(
            with_token(&mine)
                .call("SELECT auth.uid()")
                .ok()
                .result
                .as_deref(),
            Some("sc_m_alice")
        );
        // Listed for alice (no secret), never for bob.
        let list = listed(&alice);
        assert_eq!(list.len(), 1);
        assert_eq!(list[0]["id"], tid.as_str());
        assert_eq!(list[0]["name"], "laptop cli");
        assert_eq!(list[0]["scopes"], json!(["orders:read"]));
        assert_eq!(
            list[0]
                .as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect::<Vec<_>>(),
            [
                "id",
                "name",
                "created_at",
                "expires_at",
                "last_used_at",
                "revoked_at",
                "scopes"
            ]
        );
        assert!(listed(&bob).is_empty());
        // Bob revoking alice's token: the same answer as an unknown id, nothing changed.
        let revoke = |token: &str, id: &str| {
            with_token(token)
                .call(&format!("SELECT auth.revoke_my_api_token('{id}')::text"))
                .ok()
                .result
                .unwrap()
        };
        assert_eq!(revoke(&bob, &tid), "false");
        assert_eq!(
            revoke(&bob, "00000000-0000-4000-8000-000000000000"),
            "false"
        );
        assert_eq!(
            count(&format!(
                "SELECT count(*) FROM auth.api_tokens WHERE id = '{tid}' AND revoked_at IS NULL"
            )),
            1
        );
        // The admin functions were not needed, and do not see the difference either.
        assert_eq!(revoke(&alice, &tid), "true");
        assert_eq!(revoke(&alice, &tid), "false");
        assert_eq!(
            with_token(&mine).pre_request(),
            "PT401: API token revoked, expired or unknown"
        );
        assert!(listed(&alice)[0]["revoked_at"].is_string());
        // Deleting the user deletes their tokens.
        let other = create(&alice, "'other', now() + interval '1 day'").unwrap();
        run("DELETE FROM auth.users WHERE username = 'sc_m_alice'");
        assert_eq!(
            count("SELECT count(*) FROM auth.api_tokens WHERE username = 'sc_m_alice'"),
            0
        );
        assert_eq!(
            with_token(&other).pre_request(),
            "PT401: API token revoked, expired or unknown"
        );
    }

    #[pg_test]
    fn api_scopes_my_api_tokens_need_a_logged_in_user() {
        users("sc_n");
        let alice = login("sc_n", "sc_n_alice");
        let claims = claims_of(&alice).to_string();
        let before = credential_rows();
        let calls = [
            "SELECT auth.create_my_api_token('t', now() + interval '1 day')::text",
            "SELECT count(*)::text FROM auth.my_api_tokens()",
            "SELECT auth.revoke_my_api_token(gen_random_uuid())::text",
        ];
        for call in calls {
            // Claims alone (any SQL session can set them) prove nothing.
            let r = Request::post("sc_n_web")
                .claims(&claims)
                .headers("{}")
                .call(call)
                .failure();
            assert_eq!(r, ("PT401".into(), "Not logged in".into()), "{call}");
            // A token that does not verify.
            let r = Request::post("sc_n_web")
                .claims(&claims)
                .headers(json!({ "authorization": format!("Bearer {alice}x") }))
                .call(call)
                .failure();
            assert_eq!(r.0, "PT401", "{call}");
        }
        assert_eq!(credential_rows(), before);
        // An API token (its own, or an admin's with sub set) proves a credential, not a user: it
        // cannot mint a broader token, nor list or revoke.
        let own = create(&alice, "'narrow', now() + interval '1 day', ARRAY['read']").unwrap();
        let admin_made = text(
            "SELECT auth.create_api_token('t', 'sc_n_web', NULL, '{\"sub\": \"sc_n_alice\"}')",
        );
        let before_api = credential_rows();
        for token in [&own, &admin_made] {
            for call in calls {
                let r = with_token(token).call(call).failure();
                assert_eq!(r, ("PT401".into(), "Not logged in".into()), "{call}");
            }
        }
        assert_eq!(credential_rows(), before_api);
        // The anonymous role has no grant.
        let r = Request::post("sc_n_anon")
            .headers(json!({ "authorization": format!("Bearer {alice}") }))
            .call(calls[0])
            .failure();
        assert_eq!(r.0, "42501");
        // After logout, the access token's session is over.
        let bob = login("sc_n", "sc_n_bob");
        with_token(&bob).call("SELECT auth.logout()::text").ok();
        let r = with_token(&bob).call(calls[0]);
        assert!(r.error.is_some());
    }

    #[pg_test]
    fn api_scopes_my_api_tokens_bounds() {
        users("sc_b");
        let alice = login("sc_b", "sc_b_alice");
        let before = credential_rows();
        for (args, state, needle) in [
            (
                "NULL, now() + interval '1 day'",
                "22023",
                "name must be 1 to 256 characters",
            ),
            (
                "'', now() + interval '1 day'",
                "22023",
                "name must be 1 to 256 characters",
            ),
            (
                "'t', NULL",
                "22023",
                "expires_at is required and must be finite",
            ),
            (
                "'t', 'infinity'",
                "22023",
                "expires_at is required and must be finite",
            ),
            (
                "'t', now() - interval '1 s'",
                "22023",
                "expires_at must be in the future",
            ),
            (
                "'t', now() + interval '91 days'",
                "22023",
                "expires_at must be at most 7776000 seconds from now (auth.my_api_token_max_ttl)",
            ),
            (
                "'t', now() + interval '1 day', ARRAY['a b']",
                "22023",
                "scope 1 must be",
            ),
        ] {
            let (got, message) = create(&alice, args).unwrap_err();
            assert_eq!(got, state, "{args}: {message}");
            assert!(message.contains(needle), "{args}: {message}");
        }
        assert_eq!(credential_rows(), before);
        // Read-only: 25006 before anything.
        let r = with_token(&alice)
            .method("GET")
            .call("SELECT auth.create_my_api_token('t', now() + interval '1 day')")
            .failure();
        assert_eq!(r.0, "25006");

        // The cap counts live tokens: revoked and expired ones make room.
        let r = with_token(&alice)
            .setting("auth.my_api_token_max_count", "2")
            .call("SELECT auth.create_my_api_token('one', now() + interval '1 day')");
        let first = claims_of(&r.ok().result.unwrap())["tid"]
            .as_str()
            .unwrap()
            .to_string();
        let second = |name: &str| {
            with_token(&alice)
                .setting("auth.my_api_token_max_count", "2")
                .call(&format!(
                    "SELECT auth.create_my_api_token('{name}', now() + interval '1 day')"
                ))
        };
        second("two").ok();
        let before = credential_rows();
        let (state, message) = second("three").failure();
        assert_eq!(state, "PT409");
        assert_eq!(
            message,
            "at most 2 live API tokens per user (auth.my_api_token_max_count): revoke one first"
        );
        assert_eq!(credential_rows(), before);
        // Revoked and expired tokens do not count.
        run(&format!(
            "UPDATE auth.api_tokens SET revoked_at = now() WHERE id = '{first}'"
        ));
        second("three").ok();
        run("UPDATE auth.api_tokens SET expires_at = now() WHERE name = 'three'");
        second("four").ok();
        // 0: users may hold none. A longer cap on the lifetime allows longer tokens.
        let (state, _) = with_token(&alice)
            .setting("auth.my_api_token_max_count", "0")
            .call("SELECT auth.create_my_api_token('none', now() + interval '1 day')")
            .failure();
        assert_eq!(state, "PT409");
        let bob = login("sc_b", "sc_b_bob");
        with_token(&bob)
            .setting("auth.my_api_token_max_ttl", "200d")
            .call("SELECT auth.create_my_api_token('long', now() + interval '199 days')")
            .ok();
    }
}
