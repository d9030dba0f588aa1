//! API tokens: create_api_token's JWT and row, reserved claims, bad arguments, revocation,
//! privileges.

#[pgrx::pg_schema]
mod tests {
    use crate::pgrx_tests::common::{
        assert_error, claims_of, error_of, lit, make_roles, one, run, text,
    };
    use pgrx::prelude::*;

    fn count_tokens() -> i64 {
        one::<i64>("SELECT count(*) FROM auth.api_tokens").unwrap()
    }

    fn now() -> i64 {
        one::<i64>("SELECT floor(extract(epoch FROM now()))::bigint").unwrap()
    }

    #[pg_test]
    fn api_tokens_create_signs_tid_role_iat_and_extra_claims() {
        make_roles("tok_a");
        let token = text(
            r#"SELECT auth.create_api_token('integration', 'tok_a_web', claims => '{"sub":"org-1","org":7}')"#,
        );
        let c = claims_of(&token);
        let row = text("SELECT row_to_json(t)::text FROM auth.api_tokens t");
        let row: serde_json::Value = serde_json::from_str(&row).unwrap();
        assert_eq!(c["tid"], row["id"]);
        assert_eq!(c["role"], "tok_a_web");
        assert_eq!(c["iat"], now());
        assert_eq!(c["sub"], "org-1");
        assert_eq!(c["org"], 7);
        assert!(c.get("exp").is_none(), "no expiry asked, no exp: {c}");
        assert_eq!(row["name"], "integration");
        assert_eq!(row["role"], "tok_a_web");
        assert_eq!(row["claims"], serde_json::json!({"sub": "org-1", "org": 7}));
        assert_eq!(row["created_by"], text("SELECT current_user::text"));
        assert!(row["expires_at"].is_null() && row["revoked_at"].is_null());
        assert!(row["last_used_at"].is_null());
        // The JWT itself is not stored anywhere in the row.
        assert!(!row.to_string().contains(&token[token.len() - 20..]));

        // An expiring token carries exp = expires_at in Unix seconds; the row keeps expires_at.
        let token = text(
            "SELECT auth.create_api_token('ci', 'tok_a_web', date_trunc('second', now()) + interval '1 day 0.7 s')",
        );
        let c = claims_of(&token);
        assert_eq!(c["exp"], now() + 86_400);
        assert_eq!(
            one::<bool>(&format!(
                "SELECT expires_at = date_trunc('second', now()) + interval '1 day 0.7 s' FROM auth.api_tokens WHERE id = '{}'",
                c["tid"].as_str().unwrap()
            )),
            Some(true)
        );
        // 'infinity' is a token that never expires.
        let c = claims_of(&text(
            "SELECT auth.create_api_token('forever', 'tok_a_web', 'infinity')",
        ));
        assert!(c.get("exp").is_none());
        // Configured aud/iss are added, as for every server-signed token.
        run("SET LOCAL auth.jwt_audience = 'api'");
        let c = claims_of(&text("SELECT auth.create_api_token('aud', 'tok_a_web')"));
        assert_eq!(c["aud"], "api");
    }

    #[pg_test]
    fn api_tokens_extra_claims_cannot_override_reserved_ones() {
        make_roles("tok_b");
        for name in ["tid", "role", "iat", "exp", "sid", "key_id"] {
            let (state, message) = error_of(&format!(
                r#"SELECT auth.create_api_token('t', 'tok_b_web', NULL, '{{"{name}": "x", "org": 1}}')"#
            ));
            assert_eq!(state, "22023", "{name}: {message}");
            assert!(
                message.contains(&format!("claim \"{name}\" is reserved")),
                "{message}"
            );
        }
        assert_eq!(count_tokens(), 0, "a refused token leaves no row");
        // Other registered claims are the caller's to set.
        let c = claims_of(&text(
            r#"SELECT auth.create_api_token('t', 'tok_b_web', NULL, '{"sub":"s","nbf":1,"jti":"j"}')"#,
        ));
        assert_eq!((c["sub"].as_str(), c["nbf"].as_i64()), (Some("s"), Some(1)));
    }

    #[pg_test]
    fn api_tokens_bad_arguments_and_nulls() {
        make_roles("tok_c");
        assert_error(
            "SELECT auth.create_api_token('t', 'no_such_role_x')",
            "23503",
            "role \"no_such_role_x\" does not exist",
        );
        assert_error(
            "SELECT auth.create_api_token('t', 'tok_c_web', now() - interval '1 s')",
            "22023",
            "expires_at must be in the future",
        );
        assert_error(
            "SELECT auth.create_api_token('t', 'tok_c_web', now())",
            "22023",
            "expires_at must be in the future",
        );
        assert_error(
            "SELECT auth.create_api_token('t', 'tok_c_web', '-infinity')",
            "22023",
            "expires_at must be in the future",
        );
        for claims in ["[1]", "\"x\"", "3", "null"] {
            assert_error(
                &format!("SELECT auth.create_api_token('t', 'tok_c_web', NULL, '{claims}')"),
                "22023",
                "claims must be a JSON object",
            );
        }
        assert_error(
            "SELECT auth.create_api_token(NULL, 'tok_c_web')",
            "22023",
            "name must be 1 to 256 characters",
        );
        assert_error(
            "SELECT auth.create_api_token('', 'tok_c_web')",
            "22023",
            "name must be 1 to 256 characters",
        );
        assert_error(
            "SELECT auth.create_api_token(repeat('n', 257), 'tok_c_web')",
            "22023",
            "name must be 1 to 256 characters",
        );
        assert_error(
            "SELECT auth.create_api_token('t', NULL)",
            "22023",
            "role must not be NULL",
        );
        assert_eq!(count_tokens(), 0, "nothing half-written");
        // NULL claims and NULL expires_at are the defaults.
        let c = claims_of(&text(
            "SELECT auth.create_api_token('t', 'tok_c_web', NULL, NULL)",
        ));
        assert!(c.get("exp").is_none() && c["tid"].is_string());
        assert_eq!(
            text("SELECT claims::text FROM auth.api_tokens"),
            "{}".to_string()
        );
    }

    #[pg_test]
    fn api_tokens_revoke() {
        make_roles("tok_d");
        let c = claims_of(&text("SELECT auth.create_api_token('t', 'tok_d_web')"));
        let tid = c["tid"].as_str().unwrap().to_string();
        assert_eq!(
            one::<bool>(&format!("SELECT auth.revoke_api_token('{tid}')")),
            Some(true)
        );
        assert_eq!(
            one::<bool>(&format!(
                "SELECT revoked_at = now() FROM auth.api_tokens WHERE id = '{tid}'"
            )),
            Some(true)
        );
        assert_eq!(
            one::<bool>(&format!("SELECT auth.revoke_api_token('{tid}')")),
            Some(false),
            "already revoked"
        );
        assert_eq!(
            one::<bool>("SELECT auth.revoke_api_token(gen_random_uuid())"),
            Some(false),
            "unknown"
        );
        assert_error(
            "SELECT auth.revoke_api_token(NULL)",
            "22023",
            "id must not be NULL",
        );
    }

    #[pg_test]
    fn api_tokens_are_closed_to_other_roles() {
        make_roles("tok_e");
        let tid = claims_of(&text("SELECT auth.create_api_token('t', 'tok_e_web')"))["tid"]
            .as_str()
            .unwrap()
            .to_string();
        run("SET LOCAL ROLE tok_e_admin");
        for sql in [
            "SELECT auth.create_api_token('t', 'tok_e_web')".to_string(),
            format!("SELECT auth.revoke_api_token('{tid}')"),
            "SELECT * FROM auth.api_tokens".into(),
            "DELETE FROM auth.api_tokens".into(),
            "SELECT auth_private._sign_api_token(gen_random_uuid(), 'postgres', NULL, '{}', NULL)"
                .into(),
        ] {
            assert_error(&sql, "42501", "permission denied");
        }
        run("RESET ROLE");
        // The documented grant makes a role an API-token admin: it can mint and revoke through
        // the functions, still without reading the table.
        run("GRANT EXECUTE ON FUNCTION auth.create_api_token(text, name, timestamptz, jsonb, text[]), auth.revoke_api_token(uuid) TO tok_e_admin");
        // EXECUTE alone mints for no role: the admin must be a member of the token's role.
        run("SET LOCAL ROLE tok_e_admin");
        assert_error(
            "SELECT auth.create_api_token('by admin', 'tok_e_web')",
            "42501",
            "is not a member of it",
        );
        run("RESET ROLE");
        run("GRANT tok_e_web TO tok_e_admin");
        run("SET LOCAL ROLE tok_e_admin");
        let token = text("SELECT auth.create_api_token('by admin', 'tok_e_web')");
        assert_eq!(
            one::<bool>(&format!("SELECT auth.revoke_api_token('{tid}')")),
            Some(true)
        );
        assert_error(
            "SELECT name FROM auth.api_tokens",
            "42501",
            "permission denied",
        );
        // Nor for a superuser role, nor for a role it does not hold (a service role reading
        // every row: the attack this rule closes).
        run("RESET ROLE");
        run("CREATE ROLE tok_e_service NOLOGIN");
        run("SET LOCAL ROLE tok_e_admin");
        for role in [
            "tok_e_service".to_string(),
            text("SELECT rolname::text FROM pg_roles WHERE rolsuper LIMIT 1"),
        ] {
            assert_error(
                &format!("SELECT auth.create_api_token('t', {})", lit(&role)),
                "42501",
                "is not a member of it",
            );
        }
        run("RESET ROLE");
        let c = claims_of(&token);
        assert_eq!(c["role"], "tok_e_web");
        assert_eq!(
            text(&format!(
                "SELECT created_by::text FROM auth.api_tokens WHERE id = '{}'",
                c["tid"].as_str().unwrap()
            )),
            "tok_e_admin",
            "created_by names the role that called, not the function owner"
        );
    }

    #[pg_test]
    fn api_tokens_table_survives_pg_dump() {
        assert_eq!(
            one::<bool>("SELECT 'auth.api_tokens'::regclass = ANY (extconfig) FROM pg_extension WHERE extname = 'auth'"),
            Some(true)
        );
        assert_eq!(
            one::<String>("SELECT data_type::text FROM information_schema.columns WHERE table_schema = 'auth' AND table_name = 'api_tokens' AND column_name = 'id'").as_deref(),
            Some("uuid")
        );
    }
}
