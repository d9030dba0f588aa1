//! The key store in the database: creation, rotation, verification by kid, the JWK Sets, the
//! PostgREST configuration, every refusal, the protection of private parts.

#[pgrx::pg_schema]
mod tests {
    use crate::pgrx_tests::common::{assert_error, error_of, one, run};
    use pgrx::prelude::*;

    fn text(sql: &str) -> String {
        one::<String>(sql).unwrap_or_else(|| panic!("{sql} returned NULL"))
    }

    fn json(sql: &str) -> serde_json::Value {
        one::<pgrx::JsonB>(sql)
            .unwrap_or_else(|| panic!("{sql} returned NULL"))
            .0
    }

    /// The decoded header of a token.
    fn header(token: &str) -> serde_json::Value {
        json(&format!(
            "SELECT convert_from(auth.url_decode(split_part('{token}', '.', 1)), 'UTF8')::jsonb"
        ))
    }

    fn sign(claims: &str) -> String {
        text(&format!("SELECT auth.jwt_sign('{claims}')"))
    }

    fn verifies(token: &str) -> bool {
        one::<pgrx::JsonB>(&format!("SELECT auth.jwt_verify('{token}')")).is_some()
    }

    fn state(kid: &str) -> String {
        text(&format!(
            "SELECT state FROM auth.signing_keys WHERE kid = '{kid}'"
        ))
    }

    #[pg_test]
    fn signing_keys_the_settings_key_signs_until_a_key_is_active() {
        let before = sign(r#"{"role":"app"}"#);
        assert_eq!(
            header(&before),
            serde_json::json!({"alg":"HS256","typ":"JWT"})
        );
        let kid = text("SELECT auth.create_signing_key()");
        assert_eq!(state(&kid), "standby");
        assert_eq!(
            text(&format!(
                "SELECT alg || ' ' || origin FROM auth.signing_keys WHERE kid = '{kid}'"
            )),
            "ES256 generated"
        );
        // A standby key is published but does not sign.
        let standby = sign(r#"{"role":"app"}"#);
        assert!(header(&standby).get("kid").is_none());
        run(&format!("SELECT auth.activate_signing_key('{kid}')"));
        assert_eq!(state(&kid), "active");
        let after = sign(r#"{"role":"app"}"#);
        assert_eq!(
            header(&after),
            serde_json::json!({"alg":"ES256","typ":"JWT","kid":kid})
        );
        // Tokens of the settings key (no kid) and of the active key both verify.
        assert!(verifies(&before));
        assert!(verifies(&after));
        assert_eq!(
            json(&format!("SELECT auth.jwt_verify('{after}')"))["role"],
            "app"
        );
    }

    #[pg_test]
    fn signing_keys_rotation_previous_verifies_retired_is_refused() {
        let a = text("SELECT auth.create_signing_key('ES256')");
        run(&format!("SELECT auth.activate_signing_key('{a}')"));
        let token_a = sign(r#"{"sub":"a"}"#);
        let b = text("SELECT auth.create_signing_key('EdDSA')");
        run(&format!("SELECT auth.activate_signing_key('{b}')"));
        assert_eq!(state(&a), "previous");
        assert_eq!(state(&b), "active");
        let token_b = sign(r#"{"sub":"b"}"#);
        assert_eq!(header(&token_b)["alg"], "EdDSA");
        assert_eq!(header(&token_b)["kid"], b.as_str());
        assert!(verifies(&token_a), "the previous key still verifies");
        assert!(verifies(&token_b));
        // Activating the active key again changes nothing; a previous key may come back.
        run(&format!("SELECT auth.activate_signing_key('{b}')"));
        assert_eq!(state(&a), "previous");
        run(&format!("SELECT auth.retire_signing_key('{a}')"));
        assert_eq!(state(&a), "retired");
        assert_error(
            &format!("SELECT auth.jwt_verify('{token_a}')"),
            "PT401",
            "invalid token: signing key retired",
        );
        assert!(verifies(&token_b));
        // The private part is erased with the retirement; retiring again is a no-op.
        assert_eq!(
            one::<bool>(&format!(
                "SELECT sealed_key IS NULL FROM auth_private.signing_keys WHERE kid = '{a}'"
            )),
            Some(true)
        );
        run(&format!("SELECT auth.retire_signing_key('{a}')"));
        assert_error(
            &format!("SELECT auth.activate_signing_key('{a}')"),
            "22023",
            "is retired",
        );
        // A kid the store does not know.
        let forged = token_b.replacen(
            &text(&format!("SELECT split_part('{token_b}', '.', 1)")),
            &text(r#"SELECT auth.url_encode(convert_to('{"alg":"EdDSA","typ":"JWT","kid":"nope"}', 'UTF8'))"#),
            1,
        );
        assert_error(
            &format!("SELECT auth.jwt_verify('{forged}')"),
            "PT401",
            "invalid token: unknown signing key (kid)",
        );
    }

    #[pg_test]
    fn signing_keys_every_algorithm_signs_and_verifies() {
        for alg in ["ES256", "EdDSA", "HS256", "HS384", "HS512"] {
            let kid = text(&format!("SELECT auth.create_signing_key('{alg}')"));
            run(&format!("SELECT auth.activate_signing_key('{kid}')"));
            let token = sign(r#"{"role":"app"}"#);
            assert_eq!(header(&token)["alg"], alg);
            assert_eq!(header(&token)["kid"], kid.as_str());
            assert!(verifies(&token), "{alg}");
            // A flipped signature byte is refused.
            let bad = format!(
                "{}{}",
                &token[..token.len() - 2],
                if token.ends_with("AA") { "BA" } else { "AA" }
            );
            assert_error(
                &format!("SELECT auth.jwt_verify('{bad}')"),
                "PT401",
                "invalid token:",
            );
        }
    }

    #[pg_test]
    fn signing_keys_algorithm_confusion_is_refused() {
        run("CREATE EXTENSION IF NOT EXISTS pgcrypto");
        let es = text("SELECT auth.create_signing_key('ES256')");
        run(&format!("SELECT auth.activate_signing_key('{es}')"));
        // The classic attack: an HS256 token whose kid names the ES256 key, "signed" with the
        // public key as the HMAC secret.
        let public = text(&format!(
            "SELECT public_jwk::text FROM auth_private.signing_keys WHERE kid = '{es}'"
        ));
        for secret in [
            public.as_str(),
            "test-secret-that-is-at-least-32-bytes-long",
        ] {
            let input = text(&format!(
                r#"SELECT auth.url_encode(convert_to('{{"alg":"HS256","typ":"JWT","kid":"{es}"}}', 'UTF8')) || '.' || auth.url_encode(convert_to('{{"role":"postgres"}}', 'UTF8'))"#
            ));
            let token = text(&format!(
                "SELECT '{input}' || '.' || auth.url_encode(hmac('{input}', '{}', 'sha256'))",
                secret.replace('\'', "''")
            ));
            assert_error(
                &format!("SELECT auth.jwt_verify('{token}')"),
                "PT401",
                "invalid token: wrong algorithm",
            );
        }
        // A kid-less token is the settings key's: an ES256 header is the wrong algorithm there.
        let es_token = sign("{}");
        let parts: Vec<&str> = es_token.split('.').collect();
        let no_kid = format!(
            "{}.{}.{}",
            text(r#"SELECT auth.url_encode(convert_to('{"alg":"ES256","typ":"JWT"}', 'UTF8'))"#),
            parts[1],
            parts[2]
        );
        assert_error(
            &format!("SELECT auth.jwt_verify('{no_kid}')"),
            "PT401",
            "invalid token: wrong algorithm",
        );
        // A kid that is not a string.
        let odd = format!(
            "{}.{}.{}",
            text(r#"SELECT auth.url_encode(convert_to('{"alg":"ES256","kid":7}', 'UTF8'))"#),
            parts[1],
            parts[2]
        );
        assert_error(&format!("SELECT auth.jwt_verify('{odd}')"), "PT401", "kid");
    }

    #[pg_test]
    fn signing_keys_without_the_settings_key() {
        use auth_core::keys::{self, JwsAlg};
        run("SET LOCAL auth.jwt_secret = ''");
        assert_error(
            r#"SELECT auth.jwt_sign('{}')"#,
            "22023",
            "no JWT key is configured",
        );
        assert_error(
            "SELECT auth.jwt_verify('a.b.c')",
            "22023",
            "no JWT key is configured",
        );
        // One key in the store: a token without a kid is that key's.
        let theirs = keys::generate(JwsAlg::EdDSA).unwrap();
        let jwk = serde_json::Value::Object(theirs.verifying_key().public_jwk("x").unwrap());
        run(&format!(
            "SELECT auth.import_verification_key('{jwk}', 'only')"
        ));
        let claims = serde_json::Map::new();
        let no_kid = auth_core::jwt::encode_claims_with(&claims, &theirs, None);
        assert!(verifies(&no_kid));
        assert_error(
            r#"SELECT auth.jwt_sign('{}')"#,
            "22023",
            "no signing key is active",
        );
        // Two: it must name one.
        let a = text("SELECT auth.create_signing_key('EdDSA')");
        assert_error(
            &format!("SELECT auth.jwt_verify('{no_kid}')"),
            "PT401",
            "token has no kid",
        );
        run(&format!("SELECT auth.activate_signing_key('{a}')"));
        let token = sign("{}");
        assert_eq!(header(&token)["kid"], a.as_str());
        assert!(verifies(&token));
        assert!(verifies(&auth_core::jwt::encode_claims_with(
            &claims,
            &theirs,
            Some("only")
        )));
    }

    #[pg_test]
    fn signing_keys_jwks_publishes_public_parts_only() {
        let es = text("SELECT auth.create_signing_key('ES256')");
        let ed = text("SELECT auth.create_signing_key('EdDSA')");
        let hs = text("SELECT auth.create_signing_key('HS256')");
        run(&format!("SELECT auth.activate_signing_key('{ed}')"));
        let jwks = json("SELECT auth.jwks()");
        let keys = jwks["keys"].as_array().unwrap();
        assert_eq!(keys.len(), 2, "{jwks}");
        assert_eq!(keys[0]["kid"], ed.as_str(), "the active key comes first");
        assert_eq!(keys[0]["kty"], "OKP");
        assert_eq!(keys[0]["crv"], "Ed25519");
        assert_eq!(keys[0]["alg"], "EdDSA");
        assert_eq!(keys[1]["kid"], es.as_str());
        assert_eq!(keys[1]["kty"], "EC");
        assert_eq!(keys[1]["crv"], "P-256");
        for k in keys {
            assert!(k.get("d").is_none(), "{k}");
            assert!(k.get("k").is_none(), "{k}");
        }
        assert!(!jwks.to_string().contains(&hs), "never an HMAC key");
        // The JWK Set for PostgREST holds every key that verifies, HMAC ones as oct JWKs with their
        // algorithm, and the settings key last, without a kid.
        let secret: serde_json::Value =
            serde_json::from_str(&text("SELECT auth.postgrest_jwt_secret()")).unwrap();
        let set = secret["keys"].as_array().unwrap();
        assert_eq!(set.len(), 4, "{secret}");
        assert_eq!(set[0]["kid"], ed.as_str());
        let oct: Vec<&serde_json::Value> = set.iter().filter(|k| k["kty"] == "oct").collect();
        assert_eq!(oct.len(), 2);
        assert_eq!(oct[0]["kid"], hs.as_str());
        assert_eq!(oct[0]["alg"], "HS256");
        assert!(oct[1].get("kid").is_none());
        assert_eq!(oct[1]["alg"], "HS256");
        assert_eq!(
            oct[1]["k"],
            text("SELECT auth.url_encode(convert_to('test-secret-that-is-at-least-32-bytes-long', 'UTF8'))").as_str()
        );
        // Retired keys leave both sets.
        run(&format!("SELECT auth.retire_signing_key('{es}')"));
        assert_eq!(
            json("SELECT auth.jwks()")["keys"].as_array().unwrap().len(),
            1
        );
        // db-pre-config hands PostgREST that set, for this transaction.
        run("SELECT auth.postgrest_pre_config()");
        assert_eq!(
            text("SELECT current_setting('pgrst.jwt_secret')"),
            text("SELECT auth.postgrest_jwt_secret()")
        );
        assert_eq!(
            text("SELECT current_setting('pgrst.jwt_secret_is_base64')"),
            "false"
        );
    }

    #[pg_test]
    fn signing_keys_private_parts_are_sealed() {
        run("CREATE EXTENSION IF NOT EXISTS pgcrypto");
        let hs = text("SELECT auth.create_signing_key('HS512')");
        let secret: serde_json::Value =
            serde_json::from_str(&text("SELECT auth.postgrest_jwt_secret()")).unwrap();
        let k = secret["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kid"] == hs.as_str())
            .unwrap()["k"]
            .as_str()
            .unwrap()
            .to_owned();
        // What a dump or a pg_read_all_data member sees does not contain the key.
        assert_eq!(
            one::<bool>(&format!(
                "SELECT position(auth.url_decode('{k}') IN sealed_key) = 0 AND length(sealed_key) > 64
                 FROM auth_private.signing_keys WHERE kid = '{hs}'"
            )),
            Some(true)
        );
        // Another key-encryption key opens nothing: activation refuses before anything changes.
        run("SET LOCAL auth.key_encryption_key = 'another-key-encryption-key-of-32-bytes'");
        assert_error(
            &format!("SELECT auth.activate_signing_key('{hs}')"),
            "22023",
            "cannot be decrypted with auth.key_encryption_key",
        );
        assert_eq!(state(&hs), "standby");
        run("SET LOCAL auth.key_encryption_key = ''");
        assert_error(
            "SELECT auth.create_signing_key()",
            "22023",
            "auth.key_encryption_key is not set",
        );
        run("SET LOCAL auth.key_encryption_key = 'short'");
        assert_error("SELECT auth.create_signing_key()", "22023", "at least 32");
        assert_eq!(
            text("SHOW auth.key_encryption_key"),
            "(hidden)",
            "never shown"
        );
    }

    #[pg_test]
    fn signing_keys_bad_arguments() {
        for (sql, state, needle) in [
            ("SELECT auth.create_signing_key(NULL)", "22023", "alg must not be NULL"),
            ("SELECT auth.create_signing_key('none')", "22023", "unsupported algorithm"),
            ("SELECT auth.create_signing_key('es256')", "22023", "unsupported algorithm"),
            ("SELECT auth.create_signing_key('RS256')", "22023", "RS256 keys can only be imported"),
            ("SELECT auth.activate_signing_key(NULL)", "22023", "kid must not be NULL"),
            ("SELECT auth.activate_signing_key('unknown')", "22023", "no signing key has kid 'unknown'"),
            ("SELECT auth.retire_signing_key('unknown')", "22023", "no signing key has kid"),
            ("SELECT auth.import_verification_key(NULL)", "22023", "key must not be NULL"),
            ("SELECT auth.import_verification_key('not a key')", "22023", ""),
            (r#"SELECT auth.import_verification_key('{"kty":"oct","k":"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"}')"#, "22023", ""),
            ("SELECT auth.import_verification_key('-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n-----END PRIVATE KEY-----\n')", "22023", "private key"),
        ] {
            assert_error(sql, state, needle);
        }
        let ed = text("SELECT auth.create_signing_key('EdDSA')");
        let jwk = text(&format!(
            "SELECT public_jwk::text FROM auth_private.signing_keys WHERE kid = '{ed}'"
        ));
        // The same public key imported: its own kid is taken, so it must be named otherwise.
        assert_error(
            &format!("SELECT auth.import_verification_key('{jwk}')"),
            "23505",
            "already exists",
        );
        assert_error(
            &format!("SELECT auth.import_verification_key('{jwk}', 'has space')"),
            "22023",
            "",
        );
        let imported = text(&format!(
            "SELECT auth.import_verification_key('{jwk}', 'partner-1')"
        ));
        assert_eq!(imported, "partner-1");
        assert_eq!(state("partner-1"), "previous");
        assert_error(
            "SELECT auth.activate_signing_key('partner-1')",
            "22023",
            "cannot sign",
        );
        // The active key cannot be retired; two active keys cannot exist.
        run(&format!("SELECT auth.activate_signing_key('{ed}')"));
        assert_error(
            &format!("SELECT auth.retire_signing_key('{ed}')"),
            "22023",
            "activate another key before retiring it",
        );
        let second = text("SELECT auth.create_signing_key('EdDSA')");
        assert_error(
            &format!(
                "UPDATE auth_private.signing_keys SET state = 'active' WHERE kid = '{second}'"
            ),
            "23505",
            "signing_keys_one_active",
        );
        // Nothing half-written by the refusals.
        assert_eq!(
            one::<i64>("SELECT count(*) FROM auth_private.signing_keys"),
            Some(3)
        );
    }

    #[pg_test]
    fn signing_keys_imported_keys_verify_tokens_of_another_issuer() {
        use auth_core::keys::{self, JwsAlg};
        // Another issuer's Ed25519 key, made and used outside the database.
        let theirs = keys::generate(JwsAlg::EdDSA).unwrap();
        let mut jwk = theirs.verifying_key().public_jwk("ignored").unwrap();
        jwk.remove("kid");
        let jwk = serde_json::Value::Object(jwk).to_string();
        let kid = text(&format!(
            "SELECT auth.import_verification_key('{jwk}', 'partner-ed')"
        ));
        assert_eq!(kid, "partner-ed");
        assert_eq!(state(&kid), "previous");
        let mut claims = serde_json::Map::new();
        claims.insert("sub".into(), "partner-user".into());
        let token = auth_core::jwt::encode_claims_with(&claims, &theirs, Some("partner-ed"));
        assert_eq!(
            json(&format!("SELECT auth.jwt_verify('{token}')"))["sub"],
            "partner-user"
        );
        // The same token under another kid, or signed by another key, is refused.
        let other = keys::generate(JwsAlg::EdDSA).unwrap();
        let forged = auth_core::jwt::encode_claims_with(&claims, &other, Some("partner-ed"));
        assert_error(
            &format!("SELECT auth.jwt_verify('{forged}')"),
            "PT401",
            "bad signature",
        );
        // Without a kid argument, the JWK's own kid, else its RFC 7638 thumbprint.
        let thumbprint = theirs.verifying_key().thumbprint();
        assert_eq!(
            text(&format!("SELECT auth.import_verification_key('{jwk}')")),
            thumbprint
        );
        let jwks = json("SELECT auth.jwks()");
        assert_eq!(
            jwks["keys"].as_array().unwrap().len(),
            2,
            "imported keys are published"
        );
        // Retired, an imported key verifies nothing.
        run("SELECT auth.retire_signing_key('partner-ed')");
        assert_error(
            &format!("SELECT auth.jwt_verify('{token}')"),
            "PT401",
            "signing key retired",
        );
    }

    /// In a parallel worker (a fresh process), the keys are read with the query's snapshot: the
    /// leader's uncommitted key is seen there too.
    #[pg_test]
    fn signing_keys_verify_in_a_parallel_worker() {
        let kid = text("SELECT auth.create_signing_key('EdDSA')");
        run(&format!("SELECT auth.activate_signing_key('{kid}')"));
        run("CREATE TABLE tests.parallel_tokens AS SELECT auth.jwt_sign(jsonb_build_object('sub', 'u' || i)) AS tok FROM generate_series(1, 20) i");
        run("GRANT EXECUTE ON FUNCTION auth.jwt_verify(text) TO PUBLIC");
        // PostgreSQL 15 calls it force_parallel_mode, 16 and later debug_parallel_query.
        run("DO $$ BEGIN
                 PERFORM set_config('debug_parallel_query', 'on', true);
             EXCEPTION WHEN undefined_object OR invalid_parameter_value THEN
                 PERFORM set_config('force_parallel_mode', 'on', true);
             END $$");
        run("SET LOCAL parallel_setup_cost = 0");
        run("SET LOCAL parallel_tuple_cost = 0");
        run("SET LOCAL max_parallel_workers_per_gather = 2");
        run("CREATE FUNCTION tests.explain_lines(q text) RETURNS SETOF text LANGUAGE plpgsql AS $$ BEGIN RETURN QUERY EXECUTE 'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) ' || q; END $$");
        let plan = text(
            "SELECT string_agg(l, ' ') FROM (SELECT * FROM tests.explain_lines('SELECT count(*) FROM tests.parallel_tokens WHERE auth.jwt_verify(tok) IS NOT NULL')) e(l)",
        );
        assert!(plan.contains("Gather"), "{plan}");
        assert!(
            plan.contains("Workers Launched: ") && !plan.contains("Workers Launched: 0"),
            "the check ran in a worker: {plan}"
        );
        assert_eq!(
            one::<i64>("SELECT count(*) FROM tests.parallel_tokens WHERE (auth.jwt_verify(tok) ->> 'sub') LIKE 'u%'"),
            Some(20)
        );
    }

    /// RFC 7515 A.2 (RS256) and A.3 (ES256): the RFC's public keys, imported, verify the RFC's
    /// tokens. Their `exp` is in 2011, so a token whose signature verified is "token expired".
    #[pg_test]
    fn signing_keys_rfc_vectors_verify_through_imported_keys() {
        let v: serde_json::Value =
            serde_json::from_str(include_str!("../core/vectors/jws_asymmetric_vectors.json"))
                .unwrap();
        run("SET LOCAL auth.jwt_secret = ''");
        for (case, alg) in [("rfc7515_a2", "RS256"), ("rfc7515_a3", "ES256")] {
            run("DELETE FROM auth_private.signing_keys");
            let jwk = v[case]["public_jwk"].to_string();
            let kid = text(&format!(
                "SELECT auth.import_verification_key('{jwk}', '{case}')"
            ));
            assert_eq!(
                text(&format!(
                    "SELECT alg FROM auth.signing_keys WHERE kid = '{kid}'"
                )),
                alg
            );
            let token = v[case]["token"].as_str().unwrap();
            assert_error(
                &format!("SELECT auth.jwt_verify('{token}')"),
                "PT401",
                "invalid token: token expired",
            );
            // One changed signature character: the signature no longer verifies.
            let last = token.chars().last().unwrap();
            let bad = format!(
                "{}{}",
                &token[..token.len() - 1],
                if last == 'A' { 'B' } else { 'A' }
            );
            assert_error(
                &format!("SELECT auth.jwt_verify('{bad}')"),
                "PT401",
                "invalid token: bad signature",
            );
        }
    }

    #[pg_test]
    fn signing_keys_privileges() {
        run("CREATE ROLE signing_keys_probe");
        run("SET LOCAL ROLE signing_keys_probe");
        for sql in [
            "SELECT auth.create_signing_key()",
            "SELECT auth.activate_signing_key('x')",
            "SELECT auth.retire_signing_key('x')",
            "SELECT auth.import_verification_key('x')",
            "SELECT auth.postgrest_pre_config()",
            "SELECT auth.postgrest_jwt_secret()",
            "SELECT * FROM auth.signing_keys",
            "SELECT * FROM auth_private.signing_keys",
        ] {
            assert_error(sql, "42501", "permission denied");
        }
        // The public JWK Set is for everyone.
        assert_eq!(json("SELECT auth.jwks()")["keys"], serde_json::json!([]));
        run("RESET ROLE");
        // A role that may verify (EXECUTE on jwt_verify) verifies tokens of stored keys, though it
        // cannot read the store: the keys are loaded for it as the bootstrap superuser.
        let kid = text("SELECT auth.create_signing_key('ES256')");
        run(&format!("SELECT auth.activate_signing_key('{kid}')"));
        let token = sign(r#"{"sub":"probe"}"#);
        // A change drops every cache: the next load happens as the probe.
        text("SELECT auth.create_signing_key('EdDSA')");
        run("GRANT EXECUTE ON FUNCTION auth.jwt_verify(text) TO signing_keys_probe");
        run("SET LOCAL ROLE signing_keys_probe");
        assert_eq!(
            json(&format!("SELECT auth.jwt_verify('{token}')"))["sub"],
            "probe"
        );
        assert_eq!(
            json("SELECT auth.jwks()")["keys"].as_array().unwrap().len(),
            2
        );
        assert_error(
            "SELECT * FROM auth_private.signing_keys",
            "42501",
            "permission denied",
        );
        run("RESET ROLE");
        // Even with EXECUTE, postgrest_jwt_secret is for superusers: it returns secrets.
        run("GRANT EXECUTE ON FUNCTION auth.postgrest_jwt_secret() TO signing_keys_probe");
        run("SET LOCAL ROLE signing_keys_probe");
        assert_error(
            "SELECT auth.postgrest_jwt_secret()",
            "42501",
            "for a superuser only",
        );
        run("RESET ROLE");
        // The authenticator it is granted to gets the set through the pre-config function.
        run("GRANT EXECUTE ON FUNCTION auth.postgrest_pre_config() TO signing_keys_probe");
        run("SET LOCAL ROLE signing_keys_probe");
        run("SELECT auth.postgrest_pre_config()");
        assert!(text("SELECT current_setting('pgrst.jwt_secret')").contains("\"kty\":\"oct\""));
        run("RESET ROLE");
    }

    #[pg_test]
    fn signing_keys_a_change_is_seen_at_once_and_undone_by_rollback() {
        // In a subtransaction: create, activate, sign, then fail; the token signed inside comes
        // back as the error message.
        let (_, inside) = error_of(
            "DO $$ DECLARE k text := auth.create_signing_key('ES256'); BEGIN
                PERFORM auth.activate_signing_key(k);
                RAISE EXCEPTION '%', auth.jwt_sign('{}');
             END $$",
        );
        let kid = header(&inside)["kid"].as_str().unwrap().to_owned();
        assert_eq!(header(&inside)["alg"], "ES256");
        // Rolled back: the key neither signs nor verifies any more.
        assert!(header(&sign("{}")).get("kid").is_none());
        assert_eq!(
            one::<i64>("SELECT count(*) FROM auth_private.signing_keys"),
            Some(0)
        );
        assert_error(
            &format!("SELECT auth.jwt_verify('{inside}')"),
            "PT401",
            "unknown signing key",
        );
        // Changed by hand, the table is seen at once too.
        let a = text("SELECT auth.create_signing_key('EdDSA')");
        run(&format!(
            "UPDATE auth_private.signing_keys SET state = 'active' WHERE kid = '{a}'"
        ));
        assert_eq!(header(&sign("{}"))["kid"], a.as_str());
        assert!(!kid.is_empty());
    }
}
