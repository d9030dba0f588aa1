//! JWT functions in the database: pgjwt compatibility, the server-keyed API, settings, privileges.

#[pgrx::pg_schema]
mod tests {
    use crate::pgrx_tests::common::{assert_error, error_of, one, run};
    use pgrx::prelude::*;

    // pgjwt's README example (also jwt.io's): sign('{"sub":"1234567890","name":"John Doe","admin":true}', 'secret').
    const PGJWT_TOKEN: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiYWRtaW4iOnRydWV9.TJVA95OrM7E2cBab30RMHrHDcEfxjoYZgeFONFh7HgQ";
    // RFC 7515 Appendix A.1: token and its binary key (base64url), from core/vectors.
    const A1_TOKEN: &str = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const A1_KEY: &str =
        "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";

    fn text(sql: &str) -> String {
        one::<String>(sql).unwrap_or_else(|| panic!("{sql} returned NULL"))
    }

    #[pg_test]
    fn jwt_sign_matches_pgjwt_documented_token() {
        let t = text(
            r#"SELECT auth.sign('{"sub":"1234567890","name":"John Doe","admin":true}', 'secret')"#,
        );
        assert_eq!(t, PGJWT_TOKEN);
        // The payload text is signed as given: whitespace and key order are kept.
        let spaced = text(r#"SELECT auth.sign('{"b": 1,  "a": 2}', 'secret')"#);
        assert_eq!(
            text(&format!(
                "SELECT convert_from(auth.url_decode(split_part('{spaced}', '.', 2)), 'UTF8')"
            )),
            r#"{"b": 1,  "a": 2}"#
        );
    }

    #[pg_test]
    fn jwt_pgjwt_verify_semantics() {
        let row = Spi::get_three::<pgrx::Json, pgrx::Json, bool>(&format!(
            "SELECT header, payload, valid FROM auth.verify('{PGJWT_TOKEN}', 'secret')"
        ))
        .unwrap();
        assert_eq!(row.0.unwrap().0["alg"], "HS256");
        assert_eq!(row.1.unwrap().0["name"], "John Doe");
        assert_eq!(row.2, Some(true));
        assert_eq!(
            one::<bool>(&format!(
                "SELECT valid FROM auth.verify('{PGJWT_TOKEN}', 'wrong')"
            )),
            Some(false)
        );
        assert_eq!(
            one::<bool>(&format!(
                "SELECT valid FROM auth.verify('{PGJWT_TOKEN}', 'secret', 'HS512')"
            )),
            Some(false)
        );
        for (payload, valid) in [
            (r#"{"exp": 1}"#, false),
            (r#"{"exp": "1"}"#, false),
            (r#"{"exp": 99999999999}"#, true),
            (r#"{"nbf": 99999999999}"#, false),
            (r#"{"nbf": 1, "exp": "never"}"#, true),
            (r#"{"exp": true}"#, true),
        ] {
            let got = one::<bool>(&format!(
                "SELECT valid FROM auth.verify(auth.sign('{payload}', 'k'), 'k')"
            ));
            assert_eq!(got, Some(valid), "{payload}");
        }
        // exp exactly now is invalid (pgjwt's half-open range).
        assert_eq!(one::<bool>("SELECT valid FROM auth.verify(auth.sign(json_build_object('exp', extract(epoch from now())), 'k'), 'k')"), Some(false));
    }

    #[pg_test]
    fn jwt_pgjwt_verify_rows_are_independent() {
        // Many tokens in one statement, half checked with the wrong secret: the per-backend
        // decode cache must never hand one row's token to another.
        let (valid, matching) = Spi::get_two::<i64, i64>(
            "WITH t AS (SELECT g, auth.sign(json_build_object('n', g), 'k') AS tok FROM generate_series(1, 200) g)
             SELECT count(*) FILTER (WHERE v.valid), count(*) FILTER (WHERE (v.payload->>'n')::int = t.g)
             FROM t, auth.verify(t.tok, CASE WHEN t.g % 2 = 0 THEN 'k' ELSE 'wrong' END) v",
        )
        .unwrap();
        assert_eq!(valid, Some(100));
        assert_eq!(matching, Some(200));
        assert_eq!(
            one::<bool>(&format!(
                "SELECT valid FROM auth.verify('{PGJWT_TOKEN}', NULL)"
            )),
            None
        );
    }

    #[pg_test]
    fn jwt_every_algorithm_round_trips() {
        for alg in ["HS256", "HS384", "HS512"] {
            let valid = one::<bool>(&format!("SELECT valid FROM auth.verify(auth.sign('{{\"a\":1}}', 'k', '{alg}'), 'k', '{alg}')"));
            assert_eq!(valid, Some(true), "{alg}");
            let header = text(&format!("SELECT header::text FROM auth.verify(auth.sign('{{}}', 'k', '{alg}'), 'k', '{alg}')"));
            assert_eq!(header, format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#));
        }
    }

    #[pg_test]
    fn jwt_pgjwt_bad_arguments() {
        assert_error(
            "SELECT auth.sign('{}', 'k', 'none')",
            "22023",
            "unsupported algorithm",
        );
        assert_error(
            "SELECT auth.sign('{}', 'k', 'hs256')",
            "22023",
            "unsupported algorithm",
        );
        assert_error(
            "SELECT * FROM auth.verify('a.b.c', 'k', 'RS256')",
            "22023",
            "unsupported algorithm",
        );
        assert_error(
            "SELECT auth.sign('{}', '')",
            "22023",
            "secret must not be empty",
        );
        assert_error(
            "SELECT * FROM auth.verify('a.b', 'k')",
            "22P02",
            "expected 3 segments",
        );
        assert_error(
            "SELECT * FROM auth.verify('!.e30.', 'k')",
            "22P02",
            "header is not base64url",
        );
        assert_error(
            "SELECT * FROM auth.verify('W10.e30.', 'k')",
            "22P02",
            "header is not a JSON object",
        );
        assert_error(
            "SELECT auth.url_decode('a+b/')",
            "22P02",
            "invalid base64url",
        );
        // NULL in, NULL out (and no row from the table function).
        assert_eq!(one::<String>("SELECT auth.sign(NULL, 'k')"), None);
        assert_eq!(one::<String>("SELECT auth.sign('{}', NULL)"), None);
        assert_eq!(
            // pgjwt answers NULL arguments with one row of NULLs; so do we.
            one::<i64>("SELECT count(*) FROM auth.verify(NULL, 'k') WHERE header IS NULL AND payload IS NULL AND valid IS NULL"),
            Some(1)
        );
        assert_eq!(one::<String>("SELECT auth.url_encode(NULL)"), None);
    }

    #[pg_test]
    fn jwt_url_encode_decode() {
        assert_eq!(text(r"SELECT auth.url_encode('\xfbff'::bytea)"), "-_8");
        assert_eq!(
            text("SELECT auth.url_encode(convert_to('foobar', 'UTF8'))"),
            "Zm9vYmFy"
        );
        assert_eq!(
            text("SELECT convert_from(auth.url_decode('Zm9vYg'), 'UTF8')"),
            "foob"
        );
        assert_eq!(
            text("SELECT convert_from(auth.url_decode('Zm9vYg=='), 'UTF8')"),
            "foob"
        );
    }

    #[pg_test]
    fn jwt_sign_adds_iat_and_default_exp() {
        let claims = text(
            "SELECT auth.jwt_verify(auth.jwt_sign('{\"sub\":\"alice\",\"role\":\"web\"}'))::text",
        );
        let v: serde_json::Value = serde_json::from_str(&claims).unwrap();
        let now = one::<i64>("SELECT floor(extract(epoch from now()))::bigint").unwrap();
        assert_eq!(v["sub"], "alice");
        assert_eq!(v["iat"], now);
        assert_eq!(v["exp"], now + 3600);
        // A given exp is kept; the TTL setting moves the default.
        let exp = text("SELECT auth.jwt_verify(auth.jwt_sign('{\"exp\": 99999999999}')) ->> 'exp'");
        assert_eq!(exp, "99999999999");
        run("SET LOCAL auth.access_token_ttl = 60");
        assert_eq!(one::<i64>("SELECT (auth.jwt_verify(auth.jwt_sign('{}')) ->> 'exp')::bigint - floor(extract(epoch from now()))::bigint"), Some(60));
        assert_error(
            "SELECT auth.jwt_sign('[1]')",
            "22023",
            "claims must be a JSON object",
        );
        assert_eq!(one::<String>("SELECT auth.jwt_sign(NULL)"), None);
        assert_eq!(
            one::<pgrx::JsonB>("SELECT auth.jwt_verify(NULL)").map(|j| j.0),
            None
        );
    }

    #[pg_test]
    fn jwt_verify_rejections_are_pt401_without_the_token() {
        let good = text("SELECT auth.jwt_sign('{\"role\":\"web\"}')");
        let (h, rest) = good.split_once('.').unwrap();
        let (_, s) = rest.split_once('.').unwrap();
        let admin = text("SELECT auth.url_encode(convert_to('{\"role\":\"admin\"}', 'UTF8'))");
        let none_header = text("SELECT auth.url_encode(convert_to('{\"alg\":\"none\"}', 'UTF8'))");
        let key = "test-secret-that-is-at-least-32-bytes-long";
        let cases = [
            (format!("{h}.{admin}.{s}"), "bad signature"),
            (format!("{none_header}.{admin}."), "wrong algorithm"),
            (text(&format!("SELECT auth.sign('{{\"role\":\"web\"}}', '{key}', 'HS512')")), "wrong algorithm"),
            (text(&format!("SELECT auth.sign('{{\"exp\": 1}}', '{key}')")), "token expired"),
            (text(&format!("SELECT auth.sign(json_build_object('nbf', extract(epoch from now()) + 120), '{key}')")), "token not yet valid"),
            (text(&format!("SELECT auth.sign('{{\"exp\": \"tomorrow\"}}', '{key}')")), "\"exp\" is not a number"),
            ("not-a-token".into(), "malformed token"),
            (format!("{h}.{rest}.x"), "malformed token"),
            (format!("{h}.{}.{s}", &rest[..rest.find('.').unwrap()]).replace(&s[..4], "AAAA"), "bad signature"),
        ];
        for (token, reason) in cases {
            let (state, message) = error_of(&format!("SELECT auth.jwt_verify('{token}')"));
            assert_eq!(state, "PT401", "{token}: {message}");
            assert!(message.contains(reason), "{message} lacks {reason}");
            assert!(
                !message.contains(&token),
                "the token leaked into: {message}"
            );
        }
        // Leeway: a token expired 10 s ago still passes with the default 30 s, not with 0.
        let recent = text(&format!("SELECT auth.sign(json_build_object('exp', extract(epoch from now())::bigint - 10), '{key}')"));
        assert!(one::<pgrx::JsonB>(&format!("SELECT auth.jwt_verify('{recent}')")).is_some());
        run("SET LOCAL auth.jwt_leeway = 0");
        assert_error(
            &format!("SELECT auth.jwt_verify('{recent}')"),
            "PT401",
            "token expired",
        );
        // A token over the size bound is refused before decoding.
        assert_error(
            &format!("SELECT auth.jwt_verify(repeat('a', {}))", 16 * 1024 + 1),
            "PT401",
            "longer than 16384 bytes",
        );
    }

    #[pg_test]
    fn jwt_audience_and_issuer() {
        run("SET LOCAL auth.jwt_audience = 'api'");
        run("SET LOCAL auth.jwt_issuer = 'https://auth.example'");
        let claims = text("SELECT auth.jwt_verify(auth.jwt_sign('{}'))::text");
        assert!(
            claims.contains(r#""aud": "api""#)
                && claims.contains(r#""iss": "https://auth.example""#),
            "{claims}"
        );
        assert_error(
            "SELECT auth.jwt_verify(auth.jwt_sign('{\"aud\":\"web\"}'))",
            "PT401",
            "wrong audience",
        );
        assert!(one::<pgrx::JsonB>(
            "SELECT auth.jwt_verify(auth.jwt_sign('{\"aud\":[\"web\",\"api\"]}'))"
        )
        .is_some());
        assert_error(
            "SELECT auth.jwt_verify(auth.jwt_sign('{\"iss\":\"evil\"}'))",
            "PT401",
            "wrong issuer",
        );
    }

    #[pg_test]
    fn jwt_rfc7515_a1_with_binary_base64_key() {
        run(&format!("SET LOCAL auth.jwt_secret = '{A1_KEY}'"));
        run("SET LOCAL auth.jwt_secret_is_base64 = on");
        // Its exp (2011) is long past: refused as expired, which means the signature verified.
        assert_error(
            &format!("SELECT auth.jwt_verify('{A1_TOKEN}')"),
            "PT401",
            "token expired",
        );
        let tampered = A1_TOKEN.replace("dBjft", "dBjfu");
        assert_error(
            &format!("SELECT auth.jwt_verify('{tampered}')"),
            "PT401",
            "bad signature",
        );
        // Same key read as text is another key.
        run("SET LOCAL auth.jwt_secret_is_base64 = off");
        assert_error(
            &format!("SELECT auth.jwt_verify('{A1_TOKEN}')"),
            "PT401",
            "bad signature",
        );
    }

    #[pg_test]
    fn jwt_algorithm_setting_pins_verification() {
        run("SET LOCAL auth.jwt_secret = 'a-sixty-four-byte-key-for-hs512-a-sixty-four-byte-key-for-hs512!'");
        run("SET LOCAL auth.jwt_algorithm = 'HS512'");
        let t = text("SELECT auth.jwt_sign('{}')");
        assert!(t.starts_with("eyJhbGciOiJIUzUxMiIs"), "{t}");
        assert!(one::<pgrx::JsonB>(&format!("SELECT auth.jwt_verify('{t}')")).is_some());
        run("SET LOCAL auth.jwt_algorithm = 'HS256'");
        assert_error(
            &format!("SELECT auth.jwt_verify('{t}')"),
            "PT401",
            "wrong algorithm",
        );
        run("SET LOCAL auth.jwt_algorithm = 'none'");
        assert_error(
            "SELECT auth.jwt_sign('{}')",
            "22023",
            "unsupported algorithm",
        );
    }

    #[pg_test]
    fn jwt_key_configuration_and_fallbacks() {
        // pgrst.jwt_secret and app.settings.jwt_secret are settings every role can read (any
        // role can SHOW them): a key found there would be no secret, so they are not read.
        let fallback = "a-pgrst-secret-of-more-than-32-bytes!!";
        run("SET LOCAL auth.jwt_secret = ''");
        assert_error(
            "SELECT auth.jwt_sign('{}')",
            "22023",
            "no JWT key is configured",
        );
        run(&format!("SET LOCAL pgrst.jwt_secret = '{fallback}'"));
        run(&format!("SET LOCAL app.settings.jwt_secret = '{fallback}'"));
        assert_error(
            "SELECT auth.jwt_sign('{}')",
            "22023",
            "no JWT key is configured",
        );
        assert_error(
            "SELECT auth.jwt_verify(auth.sign('{}', 'a-pgrst-secret-of-more-than-32-bytes!!'))",
            "22023",
            "no JWT key is configured",
        );
        run("SET LOCAL auth.jwt_secret = 'short-key'");
        let (state, message) = error_of("SELECT auth.jwt_sign('{}')");
        assert_eq!(state, "22023");
        assert!(
            message.contains("9 bytes") && !message.contains("short-key"),
            "{message}"
        );
        run("SET LOCAL auth.jwt_secret = 'not base64!'");
        run("SET LOCAL auth.jwt_secret_is_base64 = on");
        assert_error("SELECT auth.jwt_sign('{}')", "22023", "not valid base64");
    }

    /// The flows read settings by name through one helper; a misspelt name fails loudly instead
    /// of reading as NULL (which would, say, turn the proxy-secret check off).
    #[pg_test]
    fn jwt_setting_helper_fails_closed() {
        assert_eq!(
            one::<String>("SELECT auth_private._setting('proxy_secret_set')").as_deref(),
            Some("false")
        );
        assert_error(
            "SELECT auth_private._setting('proxy_secret_sett')",
            "XX000",
            "unknown setting",
        );
    }

    #[pg_test]
    fn jwt_secret_and_signing_are_closed_to_other_roles() {
        run("CREATE ROLE jwt_probe NOLOGIN");
        run("SET LOCAL ROLE jwt_probe");
        assert_error(
            "SELECT current_setting('auth.jwt_secret')",
            "42501",
            "auth.jwt_secret",
        );
        assert_error("SHOW auth.jwt_secret", "42501", "auth.jwt_secret");
        assert_eq!(
            one::<i64>("SELECT count(*) FROM pg_settings WHERE name = 'auth.jwt_secret'"),
            Some(0)
        );
        assert_error(
            "SET auth.jwt_secret = 'attacker-chosen-key-of-32-bytes-or-more'",
            "42501",
            "auth.jwt_secret",
        );
        assert_error("SET auth.jwt_leeway = 99999", "42501", "auth.jwt_leeway");
        assert_error(
            "SELECT auth.jwt_sign('{\"role\":\"postgres\"}')",
            "42501",
            "permission denied",
        );
        assert_error(
            "SELECT auth.jwt_verify('a.b.c')",
            "42501",
            "permission denied",
        );
        assert_error("SELECT auth.sign('{}', 'k')", "42501", "permission denied");
        // pgjwt's verify is for everyone: it never touches the server key.
        assert_eq!(
            one::<bool>(&format!(
                "SELECT valid FROM auth.verify('{PGJWT_TOKEN}', 'secret')"
            )),
            Some(true)
        );
        // Nor are the helpers of jwt_verify, executable by PUBLIC so that it can be inlined: they
        // check the right to jwt_verify themselves.
        for helper in ["_jwt_claims", "_jwt_rejection", "_jwt_reject"] {
            assert_error(
                &format!("SELECT auth_private.{helper}('a.b.c')"),
                "42501",
                "permission denied for function jwt_verify",
            );
        }
        // The claim helpers are for everyone.
        run("SELECT set_config('request.jwt.claims', '{\"sub\":\"u1\",\"role\":\"web\",\"org\":7}', true)");
        assert_eq!(one::<String>("SELECT auth.uid()").as_deref(), Some("u1"));
        assert_eq!(one::<String>("SELECT auth.role()").as_deref(), Some("web"));
        assert_eq!(
            one::<String>("SELECT auth.claim('org')").as_deref(),
            Some("7")
        );
        assert_eq!(one::<String>("SELECT auth.claim('missing')"), None);
    }

    #[pg_test]
    fn jwt_claim_helpers_outside_a_request() {
        assert_eq!(text("SELECT auth.claims()::text"), "{}");
        run("SELECT set_config('request.jwt.claims', '', true)");
        assert_eq!(text("SELECT auth.claims()::text"), "{}");
        assert_eq!(one::<String>("SELECT auth.uid()"), None);
        assert_eq!(one::<String>("SELECT auth.claim(NULL)"), None);
        let volatility = text("SELECT string_agg(DISTINCT provolatile::text, '') FROM pg_proc WHERE oid IN ('auth.claims()'::regprocedure, 'auth.claim(text)'::regprocedure, 'auth.uid()'::regprocedure, 'auth.role()'::regprocedure)");
        assert_eq!(volatility, "s", "claim helpers are STABLE");
    }

    /// The claim helpers answer from a per-backend cache keyed by the setting's text: every way of
    /// changing `request.jwt.claims` is seen by the very next call.
    #[pg_test]
    fn jwt_claim_helpers_follow_every_change() {
        let uid = || one::<String>("SELECT auth.uid()");
        run("SELECT set_config('request.jwt.claims', '{\"sub\":\"a\",\"role\":\"web\"}', true)");
        assert_eq!(uid().as_deref(), Some("a"));
        // Inside the same transaction, set_config(..., true) again.
        run("SELECT set_config('request.jwt.claims', '{\"sub\":\"b\",\"role\":\"web\"}', true)");
        assert_eq!(uid().as_deref(), Some("b"));
        assert_eq!(text("SELECT auth.claims() ->> 'sub'"), "b");
        // SET, SET LOCAL, and a value set after SET ROLE.
        run("SET request.jwt.claims = '{\"sub\":\"c\"}'");
        assert_eq!(uid().as_deref(), Some("c"));
        assert_eq!(one::<String>("SELECT auth.role()"), None);
        run("CREATE ROLE jwt_claims_reader NOLOGIN");
        run("SET LOCAL ROLE jwt_claims_reader");
        assert_eq!(uid().as_deref(), Some("c"));
        run("SELECT set_config('request.jwt.claims', '{\"sub\":\"d\",\"role\":\"jwt_claims_reader\"}', true)");
        assert_eq!(uid().as_deref(), Some("d"));
        assert_eq!(
            one::<String>("SELECT auth.role()").as_deref(),
            Some("jwt_claims_reader")
        );
        run("RESET ROLE");
        assert_eq!(uid().as_deref(), Some("d"));
        // RESET: no claims at all.
        run("RESET request.jwt.claims");
        assert_eq!(uid(), None);
        assert_eq!(text("SELECT auth.claims()::text"), "{}");
        // The same text again after another one: no stale answer from the older parse.
        run("SELECT set_config('request.jwt.claims', '{\"sub\":\"a\"}', true)");
        assert_eq!(uid().as_deref(), Some("a"));
        // Inside one statement: a call after set_config sees the new value, as current_setting does.
        assert_eq!(
            text("SELECT auth.uid() || set_config('request.jwt.claims', '{\"sub\":\"e\"}', true) || auth.uid()"),
            "a{\"sub\":\"e\"}e"
        );
        // Row after row of one statement (a call site keeps its answer once asked twice for the
        // same), the claims changing every third row: each row sees its own.
        for helper in ["auth.uid()", "auth.claim('sub')", "auth.claims() ->> 'sub'"] {
            assert_eq!(
                text(&format!(
                    "SELECT string_agg(left(CASE WHEN i % 3 = 1 THEN set_config('request.jwt.claims', \
                       json_build_object('sub', 'g' || i)::text, true) ELSE '' END, 0) || ({helper}), ' ' ORDER BY i) \
                     FROM generate_series(1, 8) i"
                )),
                "g1 g1 g1 g4 g4 g4 g7 g7",
                "{helper}"
            );
        }
        // A plpgsql loop in one transaction (its expressions keep their state between runs), as
        // a benchmark or a batch of requests on one connection would do.
        run("DO $$ BEGIN FOR i IN 1..5 LOOP
                 PERFORM set_config('request.jwt.claims', json_build_object('sub', 'u' || i)::text, true);
                 IF auth.uid() IS DISTINCT FROM 'u' || i OR auth.claim('sub') IS DISTINCT FROM 'u' || i THEN
                     RAISE 'stale claim at %', i;
                 END IF;
             END LOOP; END $$");
        assert_eq!(uid().as_deref(), Some("u5"));
        // A value that fails to parse leaves nothing behind: the next good value is read.
        run("SELECT set_config('request.jwt.claims', '{\"sub\":', true)");
        assert_error(
            "SELECT auth.uid()",
            "22P02",
            "request.jwt.claims is not valid JSON",
        );
        assert_error(
            "SELECT auth.claims()",
            "22P02",
            "request.jwt.claims is not valid JSON",
        );
        assert_eq!(one::<String>("SELECT auth.claim(NULL)"), None);
        run("SELECT set_config('request.jwt.claims', '{\"sub\":\"f\"}', true)");
        assert_eq!(uid().as_deref(), Some("f"));
    }

    /// `auth.role()` reads the role at the path of `auth.jwt_role_claim_key` (PostgREST's
    /// jwt-role-claim-key syntax): nested keys, quoted keys, array indexes; the top-level `role`
    /// when the path reaches no string (where PostgREST writes the role it switched to); a change
    /// of the setting is seen by the very next call.
    #[pg_test]
    fn jwt_role_follows_the_role_claim_key() {
        let role = || one::<String>("SELECT auth.role()");
        let path = |p: &str| run(&format!("SET LOCAL auth.jwt_role_claim_key = '{p}'"));
        run(
            r#"SELECT set_config('request.jwt.claims', '{"role":"top","realm_access":{"roles":["admin","viewer",7]},"https://example.com/roles":["editor"],"cognito:groups":["g1"],"app":{"r":5,"n":null,"o":{}},"a":{"b":"first"},"a":{"b":"last"}}', true)"#,
        );
        assert_eq!(text("SHOW auth.jwt_role_claim_key"), ".role");
        assert_eq!(role().as_deref(), Some("top"));
        for (p, want) in [
            (".realm_access.roles[0]", Some("admin")),
            (".realm_access.roles[1]", Some("viewer")),
            (r#"."https://example.com/roles"[0]"#, Some("editor")),
            (r#"."cognito:groups"[0]"#, Some("g1")),
            (".a.b", Some("last")),
            (r#"."role""#, Some("top")),
            // Nothing there, the wrong kind of value for a step, or not a string at the end: the
            // top-level role, which PostgREST sets to the role it switched to.
            (".missing", Some("top")),
            (".realm_access.roles[3]", Some("top")),
            (".realm_access.roles[2]", Some("top")),
            (".realm_access.roles", Some("top")),
            (".realm_access[0]", Some("top")),
            (".role[0]", Some("top")),
            (".app.r", Some("top")),
            (".app.n", Some("top")),
            (".app.o", Some("top")),
        ] {
            path(p);
            assert_eq!(role().as_deref(), want, "{p}");
            // The raw claim stays what it is.
            assert_eq!(text("SELECT auth.claim('role')"), "top", "{p}");
        }
        // New claims under a set path are read at once, and so are no claims at all.
        path(".realm_access.roles[0]");
        run(
            r#"SELECT set_config('request.jwt.claims', '{"realm_access":{"roles":["other"]}}', true)"#,
        );
        assert_eq!(role().as_deref(), Some("other"));
        // Neither the path nor a top-level role: no role.
        run(r#"SELECT set_config('request.jwt.claims', '{"realm_access":{"roles":[7]}}', true)"#);
        assert_eq!(role(), None);
        run("SELECT set_config('request.jwt.claims', '', true)");
        assert_eq!(role(), None);
        run("SELECT set_config('request.jwt.claims', '[\"admin\"]', true)");
        assert_eq!(role(), None);
        run(
            r#"SELECT set_config('request.jwt.claims', '{"role":"top","realm_access":{"roles":["admin"]}}', true)"#,
        );
        assert_eq!(role().as_deref(), Some("admin"));
        // Inside one statement, row after row (a call site keeps its answer once asked twice),
        // the path changing every third row: each row sees the path in force.
        assert_eq!(
            text(
                "SELECT string_agg(left(CASE WHEN i % 3 = 1 THEN set_config('auth.jwt_role_claim_key', \
                   CASE WHEN i % 2 = 1 THEN '.role' ELSE '.realm_access.roles[0]' END, true) ELSE '' END, 0) \
                   || coalesce(auth.role(), '-'), ' ' ORDER BY i) FROM generate_series(1, 8) i"
            ),
            "top top top admin admin admin top top"
        );
        // SET LOCAL ends with its transaction's subtransaction, a function's SET clause with the
        // call, RESET goes back to the default.
        path(".realm_access.roles[0]");
        run("CREATE FUNCTION tests.role_at_top() RETURNS text LANGUAGE sql SET auth.jwt_role_claim_key = '.role' RETURN auth.role()");
        assert_eq!(
            text("SELECT tests.role_at_top() || ' ' || auth.role()"),
            "top admin"
        );
        run("RESET auth.jwt_role_claim_key");
        assert_eq!(role().as_deref(), Some("top"));
        // A plpgsql loop in one transaction, path and claims changing together.
        run("DO $$ BEGIN FOR i IN 1..4 LOOP
                 PERFORM set_config('auth.jwt_role_claim_key', '.x' || i || '[0]', true),
                         set_config('request.jwt.claims', json_build_object('x' || i, json_build_array('r' || i))::text, true);
                 IF auth.role() IS DISTINCT FROM 'r' || i THEN
                     RAISE 'stale role at %', i;
                 END IF;
             END LOOP; END $$");
        // In a policy, as PostgREST runs it: rows whose role column matches the role at the path.
        run("CREATE TABLE tests.role_docs (role text, body text)");
        run("INSERT INTO tests.role_docs SELECT CASE WHEN i % 2 = 0 THEN 'editor' ELSE 'viewer' END, 'doc ' || i FROM generate_series(1, 100) i");
        run("ALTER TABLE tests.role_docs ENABLE ROW LEVEL SECURITY");
        run("CREATE POLICY by_role ON tests.role_docs USING (role = auth.role())");
        run("CREATE ROLE jwt_role_path_reader NOLOGIN");
        run("GRANT SELECT ON tests.role_docs TO jwt_role_path_reader");
        path(r#"."https://example.com/roles"[0]"#);
        run(
            r#"SELECT set_config('request.jwt.claims', '{"role":"jwt_role_path_reader","https://example.com/roles":["editor"]}', true)"#,
        );
        run("SET LOCAL ROLE jwt_role_path_reader");
        assert_eq!(one::<i64>("SELECT count(*) FROM tests.role_docs"), Some(50));
        assert_eq!(
            one::<i64>("SELECT count(*) FROM tests.role_docs WHERE role <> 'editor'"),
            Some(0)
        );
        run("RESET ROLE");
    }

    /// A value of `auth.jwt_role_claim_key` that is not a path is refused where it is set (22023,
    /// the reason as the error's detail), and the path in force stays.
    #[pg_test]
    fn jwt_role_claim_key_refuses_bad_paths() {
        run("CREATE FUNCTION tests.set_role_claim_key(v text, OUT state text, OUT message text, OUT detail text)
             LANGUAGE plpgsql AS $$ BEGIN
                 PERFORM set_config('auth.jwt_role_claim_key', v, true);
             EXCEPTION WHEN OTHERS THEN
                 GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL;
             END $$");
        run("SET LOCAL auth.jwt_role_claim_key = '.app.role'");
        run(r#"SELECT set_config('request.jwt.claims', '{"app":{"role":"kept"}}', true)"#);
        let long = format!(".{}", "a".repeat(256));
        for (value, reason) in [
            ("", "it is empty"),
            ("role", "it must start with \".\""),
            (" .role", "it must start with \".\""),
            (".", "expected a key at byte 1"),
            (".role.", "expected a key at byte 6"),
            (".ro le", "expected \".\" or \"[\" at byte 3"),
            (".\"https://x", "has no closing"),
            (".a[", "decimal digits in brackets"),
            (".a[-1]", "decimal digits in brackets"),
            (".a[0][1]", "a second array index"),
            (".a[4294967296]", "larger than 4294967295"),
            (".roles[?(@ == \"admin\")]", "filters"),
            (long.as_str(), "257 bytes, longer than 256"),
        ] {
            let (state, message, detail) = Spi::get_three::<String, String, String>(&format!(
                "SELECT * FROM tests.set_role_claim_key('{}')",
                value.replace('\'', "''")
            ))
            .unwrap();
            assert_eq!(state.as_deref(), Some("22023"), "{value}");
            assert!(
                message
                    .unwrap()
                    .starts_with("invalid value for parameter \"auth.jwt_role_claim_key\""),
                "{value}"
            );
            let detail = detail.unwrap();
            assert!(
                detail.starts_with("invalid role claim path: ") && detail.contains(reason),
                "{value}: {detail}"
            );
        }
        // SET itself, ALTER ROLE ... SET and a function's SET clause are checked alike.
        assert_error(
            "SET auth.jwt_role_claim_key = 'role'",
            "22023",
            "invalid value for parameter \"auth.jwt_role_claim_key\"",
        );
        run("CREATE ROLE jwt_role_path_alter NOLOGIN");
        assert_error(
            "ALTER ROLE jwt_role_path_alter SET auth.jwt_role_claim_key = '.a['",
            "22023",
            "invalid value for parameter",
        );
        assert_error(
            "CREATE FUNCTION tests.bad_path() RETURNS text LANGUAGE sql SET auth.jwt_role_claim_key = '' RETURN 1",
            "22023",
            "invalid value for parameter",
        );
        assert_eq!(text("SHOW auth.jwt_role_claim_key"), ".app.role");
        assert_eq!(one::<String>("SELECT auth.role()").as_deref(), Some("kept"));
    }

    /// The helpers give exactly what the `::jsonb` reading of the setting gives.
    #[pg_test]
    fn jwt_claim_helpers_match_the_jsonb_reading() {
        for claims in [
            r#"{"sub":"alice","role":"web","org":7,"n":1.50,"e":1e2,"big":123456789012345678901234567890}"#,
            r#"{"sub":42,"role":null,"o":{"a":[1,"x"]},"a":[],"t":true,"s":"caf\u00e9 \"q\" \/"}"#,
            r#"{"sub":"first","sub":"second","role":"r1","role":"r2"}"#,
            r#"  { "sub" : "spaced" , "Sub" : "case" }  "#,
            r#"[{"sub":"x"}]"#,
            r#""just a string""#,
            "42",
            "null",
            "{}",
        ] {
            run(&format!(
                "SELECT set_config('request.jwt.claims', '{}', true)",
                claims.replace('\'', "''")
            ));
            let same = one::<bool>(
                "WITH j AS (SELECT current_setting('request.jwt.claims')::jsonb AS c)
                 SELECT auth.claims() = j.c
                    AND auth.uid() IS NOT DISTINCT FROM j.c ->> 'sub'
                    AND auth.role() IS NOT DISTINCT FROM j.c ->> 'role'
                    AND (SELECT bool_and(auth.claim(k) IS NOT DISTINCT FROM j.c ->> k)
                         FROM unnest(ARRAY['sub', 'role', 'org', 'n', 'e', 'big', 'o', 'a', 't', 's', 'Sub', 'missing', '']) k)
                 FROM j",
            );
            assert_eq!(same, Some(true), "{claims}");
        }
        // More distinct names than the helpers remember per value: still every answer right.
        run("SELECT set_config('request.jwt.claims', (SELECT json_object_agg('k' || i, i)::text FROM generate_series(1, 200) i), true)");
        assert_eq!(
            one::<i64>("SELECT count(*) FROM generate_series(1, 200) i, generate_series(1, 3) r WHERE auth.claim('k' || i) = i::text"),
            Some(600)
        );
    }

    /// What the helpers are, in the catalog: STABLE, PARALLEL SAFE, SECURITY INVOKER.
    #[pg_test]
    fn jwt_claim_helpers_catalog_entries() {
        assert_eq!(
            text(
                "SELECT string_agg(p.oid::regprocedure::text || ' ' || p.provolatile::text || p.proparallel::text || p.prosecdef::text || ' ' || l.lanname, ', ' ORDER BY p.oid::regprocedure::text COLLATE \"C\")
                 FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
                 WHERE p.oid IN ('auth.claims()'::regprocedure, 'auth.claim(text)'::regprocedure,
                                 'auth.uid()'::regprocedure, 'auth.role()'::regprocedure)"
            ),
            "auth.claim(text) ssfalse c, auth.claims() ssfalse c, auth.role() ssfalse c, auth.uid() ssfalse c"
        );
    }

    /// A row-level security policy written the plain way, `owner = auth.uid()`, read by a role
    /// that does not own the table, as PostgREST runs it.
    #[pg_test]
    fn jwt_claim_helpers_in_a_policy() {
        run("CREATE TABLE tests.rls_docs (owner text, body text)");
        run("INSERT INTO tests.rls_docs SELECT 'user-' || (i % 10), 'doc ' || i FROM generate_series(1, 1000) i");
        run("ALTER TABLE tests.rls_docs ENABLE ROW LEVEL SECURITY");
        run("CREATE POLICY own ON tests.rls_docs USING (owner = auth.uid())");
        run("CREATE ROLE jwt_rls_reader NOLOGIN");
        run("GRANT SELECT ON tests.rls_docs TO jwt_rls_reader");
        run("SET LOCAL ROLE jwt_rls_reader");
        let count = || one::<i64>("SELECT count(*) FROM tests.rls_docs");
        assert_eq!(count(), Some(0));
        run("SELECT set_config('request.jwt.claims', '{\"sub\":\"user-3\",\"role\":\"jwt_rls_reader\"}', true)");
        assert_eq!(count(), Some(100));
        assert_eq!(
            one::<i64>("SELECT count(*) FROM tests.rls_docs WHERE owner <> 'user-3'"),
            Some(0)
        );
        run("SELECT set_config('request.jwt.claims', '{\"sub\":\"user-4\"}', true)");
        assert_eq!(count(), Some(100));
        assert_eq!(
            one::<i64>("SELECT count(*) FROM tests.rls_docs WHERE owner = 'user-3'"),
            Some(0)
        );
        run("SELECT set_config('request.jwt.claims', '', true)");
        assert_eq!(count(), Some(0));
        run("RESET ROLE");
    }

    /// jwt_verify is plain SQL the planner inlines, and its helpers answer only a role that may
    /// execute jwt_verify: also when a plan made for one role runs as another.
    #[pg_test]
    fn jwt_verify_is_inlined_and_keeps_its_grant() {
        let token = text("SELECT auth.jwt_sign('{\"sub\":\"alice\"}')");
        run("CREATE FUNCTION tests.jwt_plan(q text) RETURNS text LANGUAGE plpgsql AS $$
             DECLARE line text; plan text := ''; BEGIN
                 FOR line IN EXECUTE 'EXPLAIN (VERBOSE, COSTS OFF) ' || q LOOP plan := plan || line || ' '; END LOOP;
                 RETURN plan;
             END $$");
        let plan = text(&format!(
            "SELECT tests.jwt_plan('SELECT auth.jwt_verify(t) FROM (VALUES (''{token}'')) v(t)')"
        ));
        assert!(
            plan.contains("auth_private._jwt_claims") && !plan.contains("jwt_verify("),
            "not inlined: {plan}"
        );
        run("CREATE ROLE jwt_verifier NOLOGIN");
        run("CREATE ROLE jwt_outsider NOLOGIN");
        run("GRANT EXECUTE ON FUNCTION auth.jwt_verify(text) TO jwt_verifier");
        run("SET LOCAL ROLE jwt_verifier");
        assert_eq!(
            text(&format!("SELECT auth.jwt_verify('{token}') ->> 'sub'")),
            "alice"
        );
        assert_error(
            "SELECT auth.jwt_verify('a.b.c')",
            "PT401",
            "invalid token: malformed token",
        );
        assert_eq!(
            one::<pgrx::JsonB>("SELECT auth.jwt_verify(NULL)").map(|j| j.0),
            None
        );
        // The helpers on their own, for a role that holds the grant.
        assert_eq!(
            text(&format!(
                "SELECT auth_private._jwt_claims('{token}') ->> 'sub'"
            )),
            "alice"
        );
        assert_eq!(
            one::<String>(&format!("SELECT auth_private._jwt_rejection('{token}')")),
            None
        );
        assert!(text("SELECT auth_private._jwt_rejection('a.b.c')")
            .starts_with("invalid token: malformed token: "));
        assert_eq!(
            one::<pgrx::JsonB>("SELECT auth_private._jwt_claims('a.b.c')").map(|j| j.0),
            None
        );
        // A plan made (and inlined) for jwt_verifier, run as jwt_outsider.
        run(&format!(
            "PREPARE jwt_verify_plan AS SELECT auth.jwt_verify('{token}') ->> 'sub'"
        ));
        assert_eq!(text("EXECUTE jwt_verify_plan"), "alice");
        run("RESET ROLE");
        run("SET LOCAL ROLE jwt_outsider");
        assert_error(
            "EXECUTE jwt_verify_plan",
            "42501",
            "permission denied for function jwt_verify",
        );
        assert_error(
            &format!("SELECT auth.jwt_verify('{token}')"),
            "42501",
            "permission denied for function jwt_verify",
        );
        run("RESET ROLE");
        run("DEALLOCATE jwt_verify_plan");
        let attributes = text(
            "SELECT p.provolatile::text || p.proparallel::text || p.proisstrict::text || p.prosecdef::text || ' ' || l.lanname || ' ' || coalesce(p.proconfig::text, '-')
             FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang WHERE p.oid = 'auth.jwt_verify(text)'::regprocedure",
        );
        assert_eq!(attributes, "ssfalsefalse sql -");
    }

    /// The claims jwt_verify returns: the signed JSON. Integers and strings are read exactly;
    /// a payload holding a float is read as it always was (through the decoder's f64s).
    #[pg_test]
    fn jwt_verify_returns_the_signed_claims() {
        let key = "test-secret-that-is-at-least-32-bytes-long";
        let exact = r#"{"sub":"alice","n":42,"neg":-7,"u":18446744073709551615,"s":"caf\u00e9 \"q\" \/","o":{"a":[1,2,null,true]}}"#;
        let token = text(&format!("SELECT auth.sign('{exact}', '{key}')"));
        assert_eq!(
            one::<bool>(&format!(
                "SELECT auth.jwt_verify('{token}') = '{exact}'::jsonb"
            )),
            Some(true)
        );
        let floats = r#"{"sub":"bob","f":1.5,"e":1e2,"big":123456789012345678901234567890}"#;
        let token = text(&format!("SELECT auth.sign('{floats}', '{key}')"));
        assert_eq!(
            text(&format!(
                "SELECT concat_ws(' ', c ->> 'sub', c ->> 'f', c ->> 'e', c ->> 'big') FROM auth.jwt_verify('{token}') c"
            )),
            "bob 1.5 100.0 123456789012345680000000000000"
        );
    }
}
