//! API keys: creation (stored only hashed), exchange for a JWT (argument and x-api-key header,
//! body and response headers, read-only and read-write requests), the refusals, disable / enable /
//! revoke, the proxy secret, bad arguments and privileges.

#[pgrx::pg_schema]
mod tests {
    use crate::pgrx_tests::common::{
        assert_error, claims_of, error_of, lit, make_roles, one, run, text, Request, Response,
    };
    use pgrx::prelude::*;
    use serde_json::{json, Value};

    fn key_id(key: &str) -> String {
        text(&format!(
            "SELECT id::text FROM auth.api_keys WHERE key_hash = sha256(convert_to({}, 'UTF8'))",
            lit(key)
        ))
    }

    fn exchange(key: &str) -> Value {
        serde_json::from_str(&text(&format!(
            "SELECT auth.exchange_api_key({})::text",
            lit(key)
        )))
        .unwrap()
    }

    /// A request of `{tag}_anon` through the gateway with these headers, the hook first: a GET
    /// (READ ONLY) when `read_only`, else a POST; `stmt` is the call.
    fn request(tag: &str, headers: &Value, read_only: bool, stmt: &str) -> Response {
        let anon = format!("{tag}_anon");
        let r = Request::with_claims(&json!({ "role": anon }).to_string(), &anon)
            .headers(headers)
            .hook();
        if read_only { r.method("GET") } else { r }.call(stmt)
    }

    fn count_keys() -> i64 {
        one::<i64>("SELECT count(*) FROM auth.api_keys").unwrap()
    }

    #[pg_test]
    fn api_keys_are_shown_once_and_stored_hashed() {
        make_roles("key_a");
        let key = text("SELECT auth.create_api_key('key_a_web', 'pro', name => 'acme')");
        assert!(key.starts_with("pgauth_") && key.len() == 7 + 43, "{key}");
        let other = text("SELECT auth.create_api_key('key_a_web')");
        assert_ne!(key, other);
        let row: Value = serde_json::from_str(&text(&format!(
            "SELECT row_to_json(k)::text FROM auth.api_keys k WHERE id = '{}'",
            key_id(&key)
        )))
        .unwrap();
        assert_eq!(row["display_prefix"], &key[..13]);
        assert_eq!(row["role"], "key_a_web");
        assert_eq!(row["plan"], "pro");
        assert_eq!(row["name"], "acme");
        assert_eq!(row["enabled"], true);
        assert!(row["expires_at"].is_null() && row["last_used_at"].is_null());
        assert_eq!(row["created_by"], text("SELECT current_user::text"));
        // Nothing but the prefix of the key is kept in clear.
        assert_eq!(
            one::<i64>(&format!(
                "SELECT count(*) FROM auth.api_keys k WHERE strpos(row_to_json(k)::text, {}) > 0",
                lit(&key[13..])
            )),
            Some(0)
        );
        assert_eq!(
            one::<i32>("SELECT max(octet_length(key_hash)) FROM auth.api_keys"),
            Some(32)
        );
        assert_eq!(
            one::<bool>("SELECT 'auth.api_keys'::regclass = ANY (extconfig) FROM pg_extension WHERE extname = 'auth'"),
            Some(true)
        );
    }

    #[pg_test]
    fn api_keys_exchange_puts_role_plan_and_key_id_in_a_short_lived_jwt() {
        make_roles("key_b");
        let key = text("SELECT auth.create_api_key('key_b_web', 'free_trial')");
        let id = key_id(&key);
        let body = exchange(&key);
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["expires_in"], 300);
        let token = body["access_token"].as_str().unwrap();
        let c = claims_of(token);
        assert_eq!(c["role"], "key_b_web");
        assert_eq!(c["plan"], "free_trial");
        assert_eq!(c["key_id"], id.as_str());
        let now = one::<i64>("SELECT floor(extract(epoch FROM now()))::bigint").unwrap();
        assert_eq!(
            (c["iat"].as_i64(), c["exp"].as_i64()),
            (Some(now), Some(now + 300))
        );
        // The lifetime follows auth.api_key_token_ttl; a key without a plan gives no plan claim.
        run("SET LOCAL auth.api_key_token_ttl = 60");
        let plain = text("SELECT auth.create_api_key('key_b_web')");
        let body = exchange(&plain);
        assert_eq!(body["expires_in"], 60);
        let c = claims_of(body["access_token"].as_str().unwrap());
        assert_eq!(c["exp"].as_i64(), Some(now + 60));
        assert!(c.get("plan").is_none(), "{c}");
        // Never valid past the key's own expiry.
        let soon = text("SELECT auth.create_api_key('key_b_web', 'pro', date_trunc('second', now()) + interval '20.5 s')");
        let body = exchange(&soon);
        assert_eq!(body["expires_in"], 20);
        assert_eq!(
            claims_of(body["access_token"].as_str().unwrap())["exp"].as_i64(),
            Some(now + 20)
        );
    }

    #[pg_test]
    fn api_keys_exchange_over_postgrest_for_a_gateway() {
        make_roles("key_c");
        run("GRANT EXECUTE ON FUNCTION auth.exchange_api_key(text) TO key_c_anon");
        let key = text("SELECT auth.create_api_key('key_c_web', 'pro')");
        let id = key_id(&key);
        let headers = json!({"x-api-key": key, "accept": "application/json"});
        // A GET (READ ONLY) is refused before the key is looked at: the same answer for a valid
        // key and for garbage, and no last_used_at that silently stays unrecorded. The gateway
        // configurations send a POST subrequest.
        for key in [key.as_str(), "garbage"] {
            let out = request(
                "key_c",
                &json!({"x-api-key": key}),
                true,
                "SELECT auth.exchange_api_key()",
            );
            assert!(out.outcome().starts_with("25006: "), "{}", out.outcome());
            assert!(out.headers.is_none());
        }
        {
            let out = request("key_c", &headers, false, "SELECT auth.exchange_api_key()");
            assert_eq!(out.outcome(), "ok");
            let body: Value = serde_json::from_str(out.result.as_deref().unwrap()).unwrap();
            let token = body["access_token"].as_str().unwrap();
            assert_eq!(
                out.headers_json().unwrap(),
                json!([
                    {"Authorization": format!("Bearer {token}")},
                    {"Cache-Control": "no-store"},
                    {"X-Api-Key-Id": id},
                    {"X-Api-Plan": "pro"},
                ])
            );
            assert_eq!(claims_of(token)["role"], "key_c_web");
        }
        // The argument wins over the header.
        let other = text("SELECT auth.create_api_key('key_c_admin')");
        let out = request(
            "key_c",
            &headers,
            false,
            &format!("SELECT auth.exchange_api_key({})", lit(&other)),
        );
        let body: Value = serde_json::from_str(out.result.as_deref().unwrap()).unwrap();
        assert_eq!(
            claims_of(body["access_token"].as_str().unwrap())["role"],
            "key_c_admin"
        );
        // Headers set earlier in the request are kept.
        let h = Request::sql()
            .response_headers(r#"[{"X-Request-Id": "r1"}]"#)
            .call(&format!("SELECT auth.exchange_api_key({})", lit(&key)))
            .ok()
            .headers_json()
            .unwrap();
        assert_eq!(h[0], json!({"X-Request-Id": "r1"}));
        assert_eq!(h.as_array().unwrap().len(), 5);
    }

    #[pg_test]
    fn api_keys_refusals_are_one_401() {
        make_roles("key_d");
        run("GRANT EXECUTE ON FUNCTION auth.exchange_api_key(text) TO key_d_anon");
        let disabled = text("SELECT auth.create_api_key('key_d_web')");
        run(&format!(
            "SELECT auth.disable_api_key('{}')",
            key_id(&disabled)
        ));
        let expired = text(
            "SELECT auth.create_api_key('key_d_web', expires_at => now() + interval '1 hour')",
        );
        run(&format!(
            "UPDATE auth.api_keys SET expires_at = now() - interval '1 s' WHERE id = '{}'",
            key_id(&expired)
        ));
        let revoked = text("SELECT auth.create_api_key('key_d_web')");
        run(&format!(
            "SELECT auth.revoke_api_key('{}')",
            key_id(&revoked)
        ));
        let unknown = format!("pgauth_{}", "A".repeat(43));
        let valid = text("SELECT auth.create_api_key('key_d_web')");
        let near_miss = format!(
            "{}{}",
            &valid[..valid.len() - 1],
            if valid.ends_with('A') { "B" } else { "A" }
        );
        for key in [
            disabled.as_str(),
            expired.as_str(),
            revoked.as_str(),
            unknown.as_str(),
            near_miss.as_str(),
            "garbage",
            "pgauth_",
            &valid[..13],
        ] {
            let (state, message) = error_of(&format!("SELECT auth.exchange_api_key({})", lit(key)));
            assert_eq!(
                (state.as_str(), message.as_str()),
                ("PT401", "Invalid API key"),
                "{key}"
            );
            // Through PostgREST: the same 401, no token header.
            let out = request(
                "key_d",
                &json!({ "x-api-key": key }),
                false,
                "SELECT auth.exchange_api_key()",
            );
            assert_eq!(out.outcome(), "PT401: Invalid API key", "{key}");
            assert!(out.headers.is_none());
        }
        // No key at all.
        assert_error(
            "SELECT auth.exchange_api_key()",
            "PT401",
            "API key required",
        );
        assert_error(
            "SELECT auth.exchange_api_key(NULL)",
            "PT401",
            "API key required",
        );
        assert_error(
            "SELECT auth.exchange_api_key('')",
            "PT401",
            "API key required",
        );
        let out = request("key_d", &json!({}), false, "SELECT auth.exchange_api_key()");
        assert_eq!(out.outcome(), "PT401: API key required");
        // The valid one still works.
        assert_eq!(exchange(&valid)["token_type"], "Bearer");
    }

    #[pg_test]
    fn api_keys_disable_enable_revoke() {
        make_roles("key_e");
        let key = text("SELECT auth.create_api_key('key_e_web', 'pro')");
        let id = key_id(&key);
        let call = |f: &str| one::<bool>(&format!("SELECT auth.{f}_api_key('{id}')"));
        assert_eq!(call("disable"), Some(true));
        assert_eq!(call("disable"), Some(false), "already disabled");
        assert_error(
            &format!("SELECT auth.exchange_api_key({})", lit(&key)),
            "PT401",
            "Invalid API key",
        );
        assert_eq!(call("enable"), Some(true));
        assert_eq!(call("enable"), Some(false), "already enabled");
        assert_eq!(exchange(&key)["token_type"], "Bearer");
        assert_eq!(call("revoke"), Some(true));
        assert_eq!(count_keys(), 0, "revoking deletes the key");
        assert_eq!(call("revoke"), Some(false));
        assert_eq!(call("enable"), Some(false));
        assert_error(
            &format!("SELECT auth.exchange_api_key({})", lit(&key)),
            "PT401",
            "Invalid API key",
        );
        for f in ["disable", "enable", "revoke"] {
            assert_error(
                &format!("SELECT auth.{f}_api_key(NULL)"),
                "22023",
                "id must not be NULL",
            );
        }
    }

    #[pg_test]
    fn api_keys_last_used_at_is_recorded_once_a_minute_and_never_read_only() {
        make_roles("key_f");
        run("GRANT EXECUTE ON FUNCTION auth.exchange_api_key(text) TO key_f_anon");
        let key = text("SELECT auth.create_api_key('key_f_web')");
        let id = key_id(&key);
        let last_used = || {
            one::<String>(&format!(
                "SELECT (now() - last_used_at)::text FROM auth.api_keys WHERE id = '{id}'"
            ))
        };
        let get = |read_only| {
            request(
                "key_f",
                &json!({ "x-api-key": key }),
                read_only,
                "SELECT auth.exchange_api_key()",
            )
            .outcome()
        };
        assert!(
            get(true).starts_with("25006: "),
            "a GET is refused, not half-done"
        );
        assert_eq!(last_used(), None, "a GET records nothing");
        assert_eq!(get(false), "ok");
        assert_eq!(last_used().as_deref(), Some("00:00:00"));
        run(&format!(
            "UPDATE auth.api_keys SET last_used_at = now() - interval '59 s' WHERE id = '{id}'"
        ));
        assert_eq!(get(false), "ok");
        assert_eq!(
            last_used().as_deref(),
            Some("00:00:59"),
            "at most once a minute"
        );
        run(&format!(
            "UPDATE auth.api_keys SET last_used_at = now() - interval '61 s' WHERE id = '{id}'"
        ));
        assert!(get(true).starts_with("25006: "));
        assert_eq!(last_used().as_deref(), Some("00:01:01"));
        assert_eq!(get(false), "ok");
        assert_eq!(last_used().as_deref(), Some("00:00:00"));
    }

    #[pg_test]
    fn api_keys_exchange_needs_the_proxy_secret_when_configured() {
        make_roles("key_g");
        run("GRANT EXECUTE ON FUNCTION auth.exchange_api_key(text) TO key_g_anon");
        let key = text("SELECT auth.create_api_key('key_g_web')");
        run("SET LOCAL auth.proxy_secret = 'the-gateway-secret'");
        let via = |headers: Value| {
            request("key_g", &headers, false, "SELECT auth.exchange_api_key()").outcome()
        };
        let refused = "PT401: API credentials are accepted only through the API gateway";
        assert_eq!(via(json!({ "x-api-key": key })), refused);
        assert_eq!(
            via(json!({ "x-api-key": key, "x-proxy-secret": "wrong" })),
            refused
        );
        assert_eq!(
            via(json!({ "x-api-key": key, "x-proxy-secret": "the-gateway-secret " })),
            refused
        );
        assert_eq!(
            via(json!({ "x-api-key": key, "x-proxy-secret": "the-gateway-secret" })),
            "ok"
        );
        // A trusted SQL caller outside any HTTP request needs no header.
        run("SELECT set_config('request.headers', '', true)");
        assert_eq!(exchange(&key)["token_type"], "Bearer");
    }

    #[pg_test]
    fn api_keys_bad_arguments_and_nulls() {
        make_roles("key_h");
        assert_error(
            "SELECT auth.create_api_key('no_such_role_y')",
            "23503",
            "role \"no_such_role_y\" does not exist",
        );
        assert_error(
            "SELECT auth.create_api_key(NULL)",
            "22023",
            "role must not be NULL",
        );
        for plan in ["", "pro plan", "pro\r\nX-Evil: 1", "ü", &"p".repeat(65)] {
            assert_error(
                &format!("SELECT auth.create_api_key('key_h_web', {})", lit(plan)),
                "22023",
                "plan must be 1 to 64 characters",
            );
        }
        assert_error(
            "SELECT auth.create_api_key('key_h_web', expires_at => now())",
            "22023",
            "expires_at must be in the future",
        );
        assert_error(
            "SELECT auth.create_api_key('key_h_web', name => '')",
            "22023",
            "name must be 1 to 256 characters",
        );
        assert_eq!(count_keys(), 0, "nothing half-written");
        // NULL plan, expiry and name are the defaults.
        text("SELECT auth.create_api_key('key_h_web', NULL, NULL, NULL)");
        assert_eq!(
            one::<bool>("SELECT plan IS NULL AND expires_at IS NULL AND name IS NULL AND enabled FROM auth.api_keys"),
            Some(true)
        );
        // 'infinity' never expires, and the exchanged token still lasts the TTL.
        let key = text("SELECT auth.create_api_key('key_h_web', expires_at => 'infinity')");
        assert_eq!(exchange(&key)["expires_in"], 300);
    }

    #[pg_test]
    fn api_keys_are_closed_to_other_roles() {
        make_roles("key_i");
        let key = text("SELECT auth.create_api_key('key_i_web')");
        let id = key_id(&key);
        run("SET LOCAL ROLE key_i_anon");
        for sql in [
            "SELECT auth.create_api_key('key_i_web')".to_string(),
            format!("SELECT auth.exchange_api_key({})", lit(&key)),
            format!("SELECT auth.disable_api_key('{id}')"),
            format!("SELECT auth.enable_api_key('{id}')"),
            format!("SELECT auth.revoke_api_key('{id}')"),
            "SELECT key_hash FROM auth.api_keys".into(),
            "UPDATE auth.api_keys SET enabled = true".into(),
            "SELECT * FROM auth_private._new_api_key()".into(),
            "SELECT * FROM auth_private._sign_api_key_token(gen_random_uuid(), 'postgres', NULL, NULL, NULL)"
                .into(),
        ] {
            assert_error(&sql, "42501", "permission denied");
        }
        run("RESET ROLE");
        // Granting the exchange to the anonymous role opens that function only.
        run("GRANT EXECUTE ON FUNCTION auth.exchange_api_key(text) TO key_i_anon");
        run("SET LOCAL ROLE key_i_anon");
        assert_eq!(exchange(&key)["token_type"], "Bearer");
        assert_error(
            "SELECT count(*) FROM auth.api_keys",
            "42501",
            "permission denied",
        );
        assert_error(
            "SELECT auth.create_api_key('key_i_web')",
            "42501",
            "permission denied",
        );
        run("RESET ROLE");
        // A key admin (documented grant) mints keys only for roles it is a member of: EXECUTE
        // alone does not let it hand out a role it cannot act as (a service role, a superuser).
        run("CREATE ROLE key_i_service NOLOGIN");
        run("GRANT EXECUTE ON FUNCTION auth.create_api_key(name, text, timestamptz, text, text[]) TO key_i_admin");
        run("SET LOCAL ROLE key_i_admin");
        for role in [
            "key_i_web".to_string(),
            "key_i_service".to_string(),
            text("SELECT rolname::text FROM pg_roles WHERE rolsuper LIMIT 1"),
        ] {
            assert_error(
                &format!("SELECT auth.create_api_key({})", lit(&role)),
                "42501",
                "is not a member of it",
            );
        }
        run("RESET ROLE");
        run("GRANT key_i_web TO key_i_admin");
        run("SET LOCAL ROLE key_i_admin");
        assert!(text("SELECT auth.create_api_key('key_i_web', 'pro')").starts_with("pgauth_"));
        run("RESET ROLE");
        assert_eq!(
            one::<i64>("SELECT count(*) FROM auth.api_keys WHERE role = 'key_i_service'"),
            Some(0)
        );
    }
}
