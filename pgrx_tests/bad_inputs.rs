//! The bad-input suite: a table of hostile inputs driven through the SQL API, each with the typed
//! outcome it must have. For every case:
//! - the documented SQLSTATE (never XX000: a panic or an internal error is a bug), or, for the
//!   flows that answer errors through `response.status` instead of raising (login, refresh), that
//!   status and message;
//! - no secret in what comes back (message, detail, hint, result, response headers): neither the
//!   configured `auth.jwt_secret` nor the case's own token, password or key;
//! - nothing written: the row count of every table of schema `auth` (listed from pg_class, so
//!   new tables are covered) is unchanged, except the one documented write of a failed login
//!   (its throttling record).
//!
//! The cases run through the one PostgREST request of the tests (`tests.request`): `request.*`
//! settings for the call only, some as the anonymous role, others as a trusted SQL caller. docs/security.md (section "Bad-input suite") summarises the table.

use pgrx::prelude::*;

extension_sql!(
    r#"
-- Every table of schema auth (from pg_class, so new tables are covered): its row count and an
-- md5 of its rows, as {"table": {"rows": n, "digest": "..."}}. The digest catches updates too
-- (a session revoked, a last_used_at recorded).
CREATE FUNCTION tests.auth_row_counts() RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    t text;
    n bigint;
    d text;
    counts jsonb := '{}';
BEGIN
    FOR t IN SELECT c.oid::regclass::text FROM pg_catalog.pg_class c
             WHERE c.relnamespace IN ('auth'::regnamespace, 'auth_private'::regnamespace) AND c.relkind IN ('r', 'p')
             ORDER BY 1
    LOOP
        EXECUTE pg_catalog.format(
            'SELECT count(*), md5(coalesce(string_agg(r::text, E''\n'' ORDER BY r::text), '''')) FROM %s r',
            t) INTO n, d;
        counts := counts || pg_catalog.jsonb_build_object(t, pg_catalog.jsonb_build_object('rows', n, 'digest', d));
    END LOOP;
    RETURN counts;
END
$$;
"#,
    name = "tests_bad_inputs",
    requires = ["tests_common"]
);

#[pgrx::pg_schema]
mod tests {
    use auth_core::{base64url, Algorithm};
    use pgrx::prelude::*;
    use serde_json::{json, Map, Value};

    use crate::pgrx_tests::common::{
        hold_committed_rows_lock, lit, one, request, run, Request, Response,
    };

    const TAG: &str = "bi";
    const PASSWORD: &str = "correct horse battery";
    const UUID: &str = "0b5ea6b2-3c4d-4e5f-8a9b-0c1d2e3f4a5b";
    const MB: usize = 1 << 20;

    /// Keys made by OpenSSL in every form (core/vectors), for the key-import cases.
    static KEYS: std::sync::LazyLock<Value> = std::sync::LazyLock::new(|| {
        serde_json::from_str(include_str!("../core/vectors/openssl_test_keys.json")).unwrap()
    });

    /// What a case must do.
    #[derive(Debug, Clone)]
    enum Expect {
        /// Raise this SQLSTATE with a message containing the fragment.
        Raises(&'static str, &'static str),
        /// Answer without raising: this `response.status` and a body containing the fragment
        /// (login and refresh_token answer refusals so, to keep their records).
        Answers(&'static str, &'static str),
        /// Return this value (as text; None for NULL): the documented non-error outcome.
        Returns(Option<&'static str>),
    }

    struct Case {
        what: &'static str,
        sql: String,
        /// How the call is made: the options of `tests.request` (crate::pgrx_tests::common),
        /// `{}` for a trusted SQL caller with no request.
        request: Value,
        expect: Expect,
        /// Strings that must not appear in anything the call gives back (tokens, passwords, keys).
        hidden: Vec<String>,
        /// Documented writes: (table, rows added).
        writes: Vec<(&'static str, i64)>,
    }

    impl Case {
        fn with(mut self, request: Value) -> Self {
            self.request = request;
            self
        }
        fn hiding(mut self, s: impl Into<String>) -> Self {
            self.hidden.push(s.into());
            self
        }
        fn writing(mut self, table: &'static str, rows: i64) -> Self {
            self.writes.push((table, rows));
            self
        }
    }

    fn case(what: &'static str, sql: impl Into<String>, expect: Expect) -> Case {
        Case {
            what,
            sql: sql.into(),
            request: json!({}),
            expect,
            hidden: Vec::new(),
            writes: Vec::new(),
        }
    }

    fn raises(
        what: &'static str,
        sql: impl Into<String>,
        state: &'static str,
        frag: &'static str,
    ) -> Case {
        case(what, sql, Expect::Raises(state, frag))
    }

    fn b64(s: &str) -> String {
        base64url::encode(s.as_bytes())
    }

    /// A token with this header and payload, signed HS256 with `key`.
    fn signed(header: &str, payload: &str, key: &[u8]) -> String {
        let input = format!("{}.{}", b64(header), b64(payload));
        let mac = Algorithm::HS256.sign(key, input.as_bytes());
        format!("{input}.{}", base64url::encode(&mac))
    }

    /// `auth.jwt_verify` of a token, with the token kept out of every answer.
    fn verify_raises(what: &'static str, token: &str, frag: &'static str) -> Case {
        raises(
            what,
            format!("SELECT auth.jwt_verify({})", lit(token)),
            "PT401",
            frag,
        )
        .hiding(token)
    }

    fn setup() -> String {
        run("SET LOCAL auth.bcrypt_cost = 4");
        run(&format!("CREATE ROLE {TAG}_anon NOLOGIN"));
        run(&format!("CREATE ROLE {TAG}_web NOLOGIN"));
        run(&format!(
            "SELECT auth.grant_session_access('{TAG}_anon', ARRAY['{TAG}_web'])"
        ));
        run(&format!(
            "SELECT auth.grant_request_check(ARRAY['{TAG}_anon', '{TAG}_web']::name[])"
        ));
        run(&format!(
            "GRANT EXECUTE ON FUNCTION auth.exchange_api_key(text) TO {TAG}_anon"
        ));
        run(&format!(
            "INSERT INTO auth.users (username, password, role) VALUES ('{TAG}_alice', {}, '{TAG}_web')",
            lit(PASSWORD)
        ));
        // The key the test cluster's postgresql.conf sets (src/lib.rs); SHOW only shows a mask.
        "test-secret-that-is-at-least-32-bytes-long".to_string()
    }

    fn cases(secret: &str) -> Vec<Case> {
        let key = secret.as_bytes();
        let std_header = r#"{"alg":"HS256","typ":"JWT"}"#;
        let good_payload =
            format!(r#"{{"role":"{TAG}_web","sub":"{TAG}_alice","exp":99999999999}}"#);
        let good = signed(std_header, &good_payload, key);
        let (signing_input, signature) = good.rsplit_once('.').unwrap();
        let (good_h, good_p) = signing_input.split_once('.').unwrap();
        let sig32 = base64url::encode(&[7u8; 32]);
        // A payload whose base64url has '-' and '_', spelled in the standard alphabet instead.
        let std_alphabet = b64(r#"{"a":"???>>>~~~"}"#)
            .replace('-', "+")
            .replace('_', "/");
        assert!(std_alphabet.contains('+') && std_alphabet.contains('/'));
        let with_payload = |p: &str| signed(std_header, p, key);
        let anon_claims = json!({"role": format!("{TAG}_anon")}).to_string();
        let as_anon = |extra: Value| {
            let mut s = json!({"role": format!("{TAG}_anon"), "claims": anon_claims});
            for (k, v) in extra.as_object().unwrap() {
                s[k] = v.clone();
            }
            s
        };
        let claims = |c: &str| json!({"claims": c});
        let big = "A".repeat(MB);
        let refused_refresh = Expect::Answers("401", "Invalid or expired refresh token");
        let bad_login = Expect::Answers("401", "Invalid user or password");
        let dummy_hash = "$2a$04$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW";

        vec![
            // ---- JWT structure (auth.jwt_verify: PT401 naming the reason) ----
            verify_raises("empty token", "", "expected 3 segments"),
            verify_raises("one segment", "abcdef", "expected 3 segments"),
            verify_raises("two segments", signing_input, "expected 3 segments"),
            verify_raises("four segments", &format!("{good}.{sig32}"), "expected 3 segments"),
            verify_raises("trailing dot", &format!("{good}."), "expected 3 segments"),
            verify_raises("header not base64url", &format!("!!!.{good_p}.{signature}"), "header is not base64url"),
            verify_raises("padded header", &format!("{}==.{good_p}.{signature}", &good_h[..good_h.len() - 2]), "header is not base64url"),
            verify_raises("payload in the standard alphabet", &format!("{good_h}.{}.{signature}", std_alphabet), "payload is not base64url"),
            verify_raises("signature not base64url", &format!("{signing_input}.{}+/", &signature[..40]), "signature is not base64url"),
            verify_raises("header is a JSON array", &format!("{}.{good_p}.{signature}", b64("[]")), "header is not a JSON object"),
            verify_raises("header is a JSON string", &format!("{}.{good_p}.{signature}", b64(r#""HS256""#)), "header is not a JSON object"),
            verify_raises("header is not JSON", &format!("{}.{good_p}.{signature}", b64("alg=HS256")), "header is not a JSON object"),
            verify_raises("header is not UTF-8", &format!("{}.{good_p}.{signature}", base64url::encode(&[0x7b, 0xff, 0xfe, 0x7d])), "header is not UTF-8"),
            verify_raises("payload is a JSON array", &with_payload("[1,2]"), "payload is not a JSON object"),
            verify_raises("payload is a number", &with_payload("42"), "payload is not a JSON object"),
            verify_raises("payload is null", &with_payload("null"), "payload is not a JSON object"),
            verify_raises("payload is not UTF-8", &format!("{good_h}.{}.{signature}", base64url::encode(&[0x7b, 0xc3, 0x28, 0x7d])), "payload is not UTF-8"),
            verify_raises("payload nests 10000 arrays", &with_payload(&format!("{{\"a\":{}{}}}", "[".repeat(10_000), "]".repeat(10_000))), "longer than 16384 bytes"),
            verify_raises("payload nests 200 arrays", &with_payload(&format!("{{\"a\":{}{}}}", "[".repeat(200), "]".repeat(200))), "payload is not a JSON object"),
            verify_raises("exp beyond f64", &with_payload(r#"{"exp":1e400}"#), "payload is not a JSON object"),
            // ---- algorithms ----
            verify_raises("alg none, no signature", &format!("{}.{good_p}.", b64(r#"{"alg":"none","typ":"JWT"}"#)), "wrong algorithm"),
            verify_raises("alg None", &signed(r#"{"alg":"None"}"#, &good_payload, key), "wrong algorithm"),
            verify_raises("alg NONE", &signed(r#"{"alg":"NONE"}"#, &good_payload, key), "wrong algorithm"),
            verify_raises("alg hs256 (case)", &signed(r#"{"alg":"hs256"}"#, &good_payload, key), "wrong algorithm"),
            verify_raises("alg is a number", &signed(r#"{"alg":256}"#, &good_payload, key), "wrong algorithm"),
            verify_raises("alg missing", &signed(r#"{"typ":"JWT"}"#, &good_payload, key), "header has no \"alg\""),
            verify_raises("alg with a NUL", &signed(r#"{"alg":"HS256\u0000"}"#, &good_payload, key), "wrong algorithm"),
            // Duplicate member names and crit (RFC 7515 4.1.11, 5.2): refused whichever comes last.
            verify_raises("duplicate alg, last none", &signed(r#"{"alg":"HS256","alg":"none"}"#, &good_payload, key), "header has a duplicate member name"),
            verify_raises("duplicate alg, first none", &signed(r#"{"alg":"none","alg":"HS256"}"#, &good_payload, key), "header has a duplicate member name"),
            verify_raises("duplicate exp", &signed(std_header, r#"{"role":"bi_web","exp":1,"exp":99999999999}"#, key), "payload has a duplicate member name"),
            verify_raises("duplicate role, escaped", &signed(std_header, r#"{"role":"bi_web","r\u006fle":"postgres","exp":99999999999}"#, key), "payload has a duplicate member name"),
            verify_raises("crit header", &signed(r#"{"alg":"HS256","crit":["exp"]}"#, &good_payload, key), "header has \"crit\""),
            verify_raises("empty crit header", &signed(r#"{"alg":"HS256","crit":[]}"#, &good_payload, key), "header has \"crit\""),
            raises("HS256 token to an HS512 verifier", format!("SELECT auth.jwt_verify({})", lit(&good)), "PT401", "wrong algorithm")
                .with(Request::sql().setting("auth.jwt_algorithm", "HS512").setting("auth.jwt_secret", &"k".repeat(64)).options())
                .hiding(&good)
                .hiding("k".repeat(64)),
            // ---- signatures ----
            verify_raises("stripped signature", &format!("{signing_input}."), "signature has the wrong length"),
            verify_raises("truncated signature", &format!("{signing_input}.{}", &signature[..40]), "signature has the wrong length"),
            verify_raises("signature one byte long", &format!("{signing_input}.AA"), "signature has the wrong length"),
            verify_raises("HS512-length signature", &format!("{signing_input}.{}", base64url::encode(&[1u8; 64])), "signature has the wrong length"),
            verify_raises("tampered payload", &format!("{good_h}.{}.{signature}", b64(&good_payload.replace("_web", "_admin"))), "bad signature"),
            verify_raises("tampered header", &format!("{}.{good_p}.{signature}", b64(r#"{"alg":"HS256","typ":"JWS"}"#)), "bad signature"),
            verify_raises("signed with another key", &signed(std_header, &good_payload, b"another key that is 32 bytes long!"), "bad signature"),
            verify_raises("signature of another token", &format!("{signing_input}.{sig32}"), "bad signature"),
            // ---- time claims ----
            verify_raises("exp as a string", &with_payload(r#"{"exp":"99999999999"}"#), "\"exp\" is not a number"),
            verify_raises("nbf as a string", &with_payload(r#"{"nbf":"0"}"#), "\"nbf\" is not a number"),
            verify_raises("iat as an array", &with_payload(r#"{"iat":[0]}"#), "\"iat\" is not a number"),
            verify_raises("exp as a boolean", &with_payload(r#"{"exp":true}"#), "\"exp\" is not a number"),
            verify_raises("exp a float in the past", &with_payload(r#"{"exp":1.5}"#), "token expired"),
            verify_raises("exp negative", &with_payload(r#"{"exp":-1}"#), "token expired"),
            verify_raises("exp hugely negative", &with_payload(r#"{"exp":-1e308}"#), "token expired"),
            verify_raises("nbf huge", &with_payload(r#"{"nbf":1e300}"#), "token not yet valid"),
            verify_raises("iat in the far future", &with_payload(r#"{"iat":99999999999}"#), "token not yet valid"),
            case("exp huge: never expires", format!("SELECT ((auth.jwt_verify({}) ->> 'exp')::float8 > 1e299)::text", lit(&with_payload(r#"{"exp":1e300}"#))), Expect::Returns(Some("true"))),
            verify_raises("NUL escape in a verified payload", &with_payload(r#"{"exp":99999999999,"x":"a\u0000b"}"#), "payload holds a NUL character"),
            verify_raises("NUL escape in a nested claim name", &with_payload(r#"{"exp":99999999999,"x":{"a\u0000":1}}"#), "payload holds a NUL character"),
            // ---- size ----
            raises("1 MB token", format!("SELECT auth.jwt_verify(repeat('A', {MB}) || '.e30.e30')"), "PT401", "longer than 16384 bytes").hiding(&big[..4096]),
            raises("1 MB token, three real segments", format!("SELECT auth.jwt_verify({} || repeat('A', {MB}))", lit(&format!("{signing_input}."))), "PT401", "longer than 16384 bytes").hiding(&big[..4096]),
            raises("1 MB token to pgjwt verify", format!("SELECT valid::text FROM auth.verify(repeat('A', {MB}) || '.e30.e30', 'secret')"), "22P02", "longer than 16384 bytes").hiding(&big[..4096]),
            // ---- NULLs and empty strings ----
            case("jwt_verify(NULL)", "SELECT auth.jwt_verify(NULL)", Expect::Returns(None)),
            case("jwt_sign(NULL)", "SELECT auth.jwt_sign(NULL)", Expect::Returns(None)),
            case("pgjwt verify with NULL secret", format!("SELECT coalesce(valid::text, 'null') FROM auth.verify({}, NULL)", lit(&good)), Expect::Returns(Some("null"))),
            raises("jwt_sign of an array", "SELECT auth.jwt_sign('[1,2]')", "22023", "claims must be a JSON object"),
            raises("jwt_sign of a string", r#"SELECT auth.jwt_sign('"role"')"#, "22023", "claims must be a JSON object"),
            raises("jwt_sign of null JSON", "SELECT auth.jwt_sign('null')", "22023", "claims must be a JSON object"),
            raises("jwt_sign with a short key", "SELECT auth.jwt_sign('{}')", "22023", "needs at least 32").with(Request::sql().setting("auth.jwt_secret", "short-key").options()).hiding("short-key"),
            // ---- pgjwt API ----
            raises("sign with alg none", "SELECT auth.sign('{}', 'secret', 'none')", "22023", "unsupported algorithm"),
            raises("sign with alg NONE", "SELECT auth.sign('{}', 'secret', 'NONE')", "22023", "unsupported algorithm"),
            raises("sign with an empty secret", "SELECT auth.sign('{}', '', 'HS256')", "22023", "secret must not be empty"),
            raises("sign with an empty algorithm", "SELECT auth.sign('{}', 'secret', '')", "22023", "unsupported algorithm"),
            raises("sign a non-JSON payload", "SELECT auth.sign('{', 'secret')", "22P02", "invalid input syntax for type json"),
            raises("pgjwt verify, two segments", format!("SELECT valid::text FROM auth.verify({}, 'secret')", lit(signing_input)), "22P02", "expected 3 segments").hiding(signing_input),
            raises("pgjwt verify, header an array", format!("SELECT valid::text FROM auth.verify({}, 'secret')", lit(&format!("{}.{good_p}.{signature}", b64("[]")))), "22P02", "header is not a JSON object"),
            raises("pgjwt verify, alg None", format!("SELECT valid::text FROM auth.verify({}, 'secret', 'None')", lit(&good)), "22023", "unsupported algorithm"),
            case("pgjwt verify, HS256 token as HS512", format!("SELECT valid::text FROM auth.verify({}, {}, 'HS512')", lit(&good), lit(secret)), Expect::Returns(Some("false"))),
            case("pgjwt verify, exp a string in the past", format!("SELECT valid::text FROM auth.verify({}, {})", lit(&with_payload(r#"{"exp":"1"}"#)), lit(secret)), Expect::Returns(Some("false"))),
            case("pgjwt verify, tampered payload", format!("SELECT valid::text FROM auth.verify({}, {})", lit(&format!("{good_h}.{}.{signature}", b64(r#"{"role":"x"}"#))), lit(secret)), Expect::Returns(Some("false"))),
            // ---- bytes: url_encode / url_decode ----
            raises("url_decode of '!!'", "SELECT auth.url_decode('!!')", "22P02", "invalid base64url"),
            raises("url_decode of one character", "SELECT auth.url_decode('Z')", "22P02", "invalid base64url"),
            raises("url_decode with bad padding", "SELECT auth.url_decode('Zg=')", "22P02", "invalid base64url"),
            raises("url_decode with a space", "SELECT auth.url_decode('Zm9v Yg')", "22P02", "invalid base64url"),
            case("NUL and invalid UTF-8 bytes round-trip", r"SELECT auth.url_decode(auth.url_encode('\x00ff00fe'::bytea))::text", Expect::Returns(Some(r"\x00ff00fe"))),
            raises("decoded invalid UTF-8 through convert_from", r"SELECT convert_from(auth.url_decode(auth.url_encode('\xc328'::bytea)), 'UTF8')", "22021", "invalid byte sequence"),
            raises("decoded NUL through convert_from", "SELECT convert_from(auth.url_decode('AA'), 'UTF8')", "22021", "invalid byte sequence"),
            case("url_encode(NULL)", "SELECT auth.url_encode(NULL)", Expect::Returns(None)),
            // ---- claims of the request (RLS helpers, check_request) ----
            raises("claims() of non-JSON claims", "SELECT auth.claims()", "22P02", "request.jwt.claims is not valid JSON").with(claims("not json")),
            raises("uid() of truncated claims", "SELECT auth.uid()", "22P02", "request.jwt.claims is not valid JSON").with(claims(r#"{"sub":"#)),
            raises("role() of claims with a lone surrogate", "SELECT auth.role()", "22P02", "request.jwt.claims is not valid JSON").with(claims(r#"{"role":"\ud800"}"#)),
            raises("uid() of claims with a NUL escape", "SELECT auth.uid()", "22P05", "unsupported Unicode escape sequence").with(claims(r#"{"sub":"a\u0000b"}"#)),
            case("uid() of 1 MB of claims", "SELECT auth.uid()", Expect::Returns(Some("big"))).with(claims(&format!(r#"{{"pad":"{}","sub":"big"}}"#, "p".repeat(MB)))),
            case("claim() of array claims", "SELECT auth.claim('sub')", Expect::Returns(None)).with(claims(r#"[{"sub":"x"}]"#)),
            raises("check_request: claims not JSON", "SELECT auth.check_request()", "PT401", "not a JSON object").with(as_anon(json!({"claims": r#"garbage "tid""#}))),
            raises("check_request: claims an array", "SELECT auth.check_request()", "PT401", "not a JSON object").with(as_anon(json!({"claims": format!(r#"[{{"tid":"{UUID}"}}]"#)}))),
            raises("check_request: tid not a uuid", "SELECT auth.check_request()", "PT401", "claim \"tid\" is not a UUID").with(as_anon(json!({"claims": r#"{"role":"bi_anon","tid":"' OR 1=1 --"}"#}))),
            raises("check_request: tid a number", "SELECT auth.check_request()", "PT401", "claim \"tid\" is not a UUID").with(as_anon(json!({"claims": r#"{"role":"bi_anon","tid":42}"#}))),
            raises("check_request: tid an array", "SELECT auth.check_request()", "PT401", "claim \"tid\" is not a UUID").with(as_anon(json!({"claims": format!(r#"{{"role":"bi_anon","tid":["{UUID}"]}}"#)}))),
            raises("check_request: tid a braced uuid", "SELECT auth.check_request()", "PT401", "claim \"tid\" is not a UUID").with(as_anon(json!({"claims": format!(r#"{{"role":"bi_anon","tid":"{{{UUID}}}"}}"#)}))),
            raises("check_request: sid not a uuid", "SELECT auth.check_request()", "PT401", "claim \"sid\" is not a UUID").with(as_anon(json!({"claims": r#"{"role":"bi_anon","sid":"session-1"}"#}))),
            raises("check_request: key_id an object", "SELECT auth.check_request()", "PT401", "claim \"key_id\" is not a UUID").with(as_anon(json!({"claims": r#"{"role":"bi_anon","key_id":{}}"#}))),
            raises("check_request: unknown tid", "SELECT auth.check_request()", "PT401", "API token revoked, expired or unknown").with(as_anon(json!({"claims": format!(r#"{{"role":"bi_anon","tid":"{UUID}"}}"#)}))),
            raises("check_request: unknown sid", "SELECT auth.check_request()", "PT401", "session ended").with(as_anon(json!({"claims": format!(r#"{{"role":"bi_anon","sid":"{}"}}"#, UUID.to_uppercase())}))),
            raises("check_request: 1 MB of claims with a tid", "SELECT auth.check_request()", "PT401", "not a JSON object").with(as_anon(json!({"claims": format!("{{\"tid\":{}", "1".repeat(MB))}))),
            case("check_request: garbage without markers passes", "SELECT auth.check_request()", Expect::Returns(Some(""))).with(as_anon(json!({"claims": "not json at all"}))),
            // ---- refresh_token: cookies and arguments (401 through response.status) ----
            case("refresh: no cookie", "SELECT auth.refresh_token()", refused_refresh.clone()).with(as_anon(json!({}))),
            case("refresh: request.cookies not JSON", "SELECT auth.refresh_token()", refused_refresh.clone()).with(as_anon(json!({"cookies": "refresh_token=abc"}))),
            case("refresh: request.cookies an array", "SELECT auth.refresh_token()", refused_refresh.clone()).with(as_anon(json!({"cookies": r#"["refresh_token"]"#}))),
            case("refresh: cookie a number", "SELECT auth.refresh_token()", refused_refresh.clone()).with(as_anon(json!({"cookies": r#"{"refresh_token":43}"#}))),
            case("refresh: cookie empty", "SELECT auth.refresh_token()", refused_refresh.clone()).with(as_anon(json!({"cookies": r#"{"refresh_token":""}"#}))),
            case("refresh: cookie with a NUL", "SELECT auth.refresh_token()", refused_refresh.clone()).with(as_anon(json!({"cookies": r#"{"refresh_token":"a\u0000b"}"#}))),
            case("refresh: Cookie header without '='", "SELECT auth.refresh_token()", refused_refresh.clone()).with(as_anon(json!({"headers": r#"{"cookie":"refresh_token"}"#}))),
            case("refresh: Cookie header garbage", "SELECT auth.refresh_token()", refused_refresh.clone()).with(as_anon(json!({"headers": r#"{"cookie":";;=;==;\"\";refresh_token=;"}"#}))),
            case("refresh: duplicate cookies", "SELECT auth.refresh_token()", refused_refresh.clone()).with(as_anon(json!({"headers": format!(r#"{{"cookie":"refresh_token={}; refresh_token={}"}}"#, "A".repeat(43), "B".repeat(43))}))),
            case("refresh: quoted cookie value", "SELECT auth.refresh_token()", refused_refresh.clone()).with(as_anon(json!({"headers": format!(r#"{{"cookie":"refresh_token=\"{}\""}}"#, "A".repeat(43))}))),
            case("refresh: Cookie header a number", "SELECT auth.refresh_token()", refused_refresh.clone()).with(as_anon(json!({"headers": r#"{"cookie":7}"#}))),
            case("refresh: garbage argument", "SELECT auth.refresh_token('garbage; Path=/')", refused_refresh.clone()).with(as_anon(json!({}))),
            case("refresh: 1 MB argument", format!("SELECT auth.refresh_token(repeat('A', {MB}))"), refused_refresh.clone()).with(as_anon(json!({}))).hiding(&big[..4096]),
            case("refresh: an access token as refresh token", format!("SELECT auth.refresh_token({})", lit(&good)), refused_refresh.clone()).with(as_anon(json!({}))).hiding(&good),
            // ---- logout ----
            raises("logout with an unknown scope", "SELECT auth.logout('everywhere')", "22023", "scope must be 'local', 'global' or 'others'").with(as_anon(json!({}))),
            raises("logout with a NULL scope", "SELECT auth.logout(NULL)", "22023", "scope must be").with(as_anon(json!({}))),
            case("logout with garbage cookies", "SELECT auth.logout()", Expect::Returns(Some(""))).with(as_anon(json!({"cookies": format!(r#"{{"refresh_token":"x","access_token":"{}"}}"#, "A".repeat(20_000))}))),
            case("logout with a NUL in the refresh cookie", "SELECT auth.logout()", Expect::Returns(Some(""))).with(as_anon(json!({"cookies": r#"{"refresh_token":"\u0000"}"#}))),
            case("logout with a forged access cookie", "SELECT auth.logout('global')", Expect::Returns(Some(""))).with(as_anon(json!({"cookies": json!({"access_token": format!("{}.{}.{sig32}", b64(r#"{"alg":"none"}"#), b64(&format!(r#"{{"sid":"{UUID}"}}"#)))}).to_string()}))),
            // ---- login (bad arguments raise 22023; bad credentials answer 401 and record it) ----
            raises("login with NULL username", "SELECT auth.login(NULL, 'pw')", "22023", "must not be NULL").with(as_anon(json!({}))),
            raises("login with NULL password", "SELECT auth.login('bi_alice', NULL)", "22023", "must not be NULL").with(as_anon(json!({}))),
            raises("login with an empty password", "SELECT auth.login('bi_alice', '')", "22023", "password must not be empty").with(as_anon(json!({}))),
            raises("login with a 73-byte password", format!("SELECT auth.login('bi_alice', {})", lit(&"x".repeat(73))), "22023", "73 bytes").with(as_anon(json!({}))).hiding("x".repeat(73)),
            raises("login with 37 two-byte characters", format!("SELECT auth.login('bi_alice', {})", lit(&"é".repeat(37))), "22023", "74 bytes").with(as_anon(json!({}))).hiding("é".repeat(37)),
            raises("login with a 1 MB password", format!("SELECT auth.login('bi_alice', repeat('p', {MB}))"), "22023", "bytes").with(as_anon(json!({}))).hiding("p".repeat(4096)),
            raises("login with 1 MB username and password", format!("SELECT auth.login(repeat('u', {MB}), repeat('p', {MB}))"), "22023", "bytes").with(as_anon(json!({}))).hiding("u".repeat(4096)),
            case("login with a 1 MB username", format!("SELECT auth.login(repeat('u', {MB}), {})", lit(PASSWORD)), bad_login.clone()).with(as_anon(json!({}))).hiding("u".repeat(300)).hiding(PASSWORD).writing("auth.login_failures", 1).writing("auth.audit_log", 1),
            case("login with an empty username", format!("SELECT auth.login('', {})", lit(PASSWORD)), bad_login.clone()).with(as_anon(json!({}))).hiding(PASSWORD).writing("auth.login_failures", 1).writing("auth.audit_log", 1),
            case("login with SQL in the username", format!("SELECT auth.login({}, {})", lit("bi_alice' OR '1'='1"), lit(PASSWORD)), bad_login.clone()).with(as_anon(json!({}))).hiding(PASSWORD).writing("auth.login_failures", 1).writing("auth.audit_log", 1),
            case("login with a bcrypt hash as password", format!("SELECT auth.login('bi_alice', {})", lit(dummy_hash)), bad_login.clone()).with(as_anon(json!({}))).writing("auth.login_failures", 1).writing("auth.audit_log", 1),
            // ---- accounts (sign-up, reset, verification) ----
            raises("signup while sign-up is off", format!("SELECT auth.signup('bi_new', {}, NULL)", lit(PASSWORD)), "PT403", "Sign-up is disabled").with(as_anon(json!({}))).hiding(PASSWORD),
            raises("signup with 1 MB username and password", format!("SELECT auth.signup(repeat('u', {MB}), repeat('p', {MB}), NULL)"), "PT403", "Sign-up is disabled").with(as_anon(json!({}))).hiding("p".repeat(4096)),
            raises("reset_password with a NULL token", format!("SELECT auth.reset_password(NULL, {})", lit(PASSWORD)), "22023", "must not be NULL").with(as_anon(json!({}))).hiding(PASSWORD),
            raises("reset_password with a 1 MB token", format!("SELECT auth.reset_password(repeat('t', {MB}), {})", lit(PASSWORD)), "PT401", "Invalid or expired token").with(as_anon(json!({}))).hiding(PASSWORD),
            raises("reset_password with an unknown token", format!("SELECT auth.reset_password({}, {})", lit(&"A".repeat(43)), lit(PASSWORD)), "PT401", "Invalid or expired token").with(as_anon(json!({}))).hiding(PASSWORD),
            raises("reset_password with a 73-byte password", format!("SELECT auth.reset_password('t', {})", lit(&"x".repeat(73))), "22023", "73 bytes").with(as_anon(json!({}))).hiding("x".repeat(73)),
            raises("verify_email with a 1 MB token", format!("SELECT auth.verify_email(repeat('t', {MB}))"), "PT401", "Invalid or expired token").with(as_anon(json!({}))),
            raises("verify_email with NULL", "SELECT auth.verify_email(NULL)", "22023", "must not be NULL").with(as_anon(json!({}))),
            raises("request_password_reset with NULL", "SELECT auth.request_password_reset(NULL)", "22023", "must not be NULL").with(as_anon(json!({}))),
            case("request_password_reset for 1 MB of name", format!("SELECT auth.request_password_reset(repeat('u', {MB}))"), Expect::Returns(Some(""))).with(as_anon(json!({}))).hiding("u".repeat(300)).writing("auth.audit_log", 1),
            case("request_password_reset with SQL", format!("SELECT auth.request_password_reset({})", lit("x' OR '1'='1")), Expect::Returns(Some(""))).with(as_anon(json!({}))).writing("auth.audit_log", 1),
            raises("request_email_verification without a session", "SELECT auth.request_email_verification()", "PT401", "Not logged in").with(as_anon(json!({}))),
            raises("user with an invalid email", format!("INSERT INTO auth.users (username, password, role, email) VALUES ('bi_bob', {}, 'bi_web', 'not an address')", lit(PASSWORD)), "22023", "not a valid address").hiding(PASSWORD).hiding("not an address"),
            raises("user with a 1 MB email", format!("INSERT INTO auth.users (username, password, role, email) VALUES ('bi_bob', {}, 'bi_web', repeat('e', {MB}) || '@x')", lit(PASSWORD)), "22023", "3 to 254 characters").hiding(PASSWORD),
            raises("grant_outbox_access to PUBLIC", "SELECT auth.grant_outbox_access('public')", "22023", "not PUBLIC"),
            // ---- users, passwords ----
            raises("user with a 257-character name", format!("INSERT INTO auth.users (username, password, role) VALUES (repeat('u', 257), {}, 'bi_web')", lit(PASSWORD)), "23514", "users_username_length").hiding(PASSWORD),
            raises("user with a 2-character name", format!("INSERT INTO auth.users (username, password, role) VALUES ('ab', {}, 'bi_web')", lit(PASSWORD)), "23514", "users_username_length").hiding(PASSWORD),
            raises("user with a 1 MB name", format!("INSERT INTO auth.users (username, password, role) VALUES (repeat('u', {MB}), {}, 'bi_web')", lit(PASSWORD)), "23514", "users_username_length").hiding(PASSWORD),
            raises("user with NULL name", format!("INSERT INTO auth.users (username, password, role) VALUES (NULL, {}, 'bi_web')", lit(PASSWORD)), "23502", "username").hiding(PASSWORD),
            raises("user with a 73-byte password", format!("INSERT INTO auth.users (username, password, role) VALUES ('bi_bob', {}, 'bi_web')", lit(&"y".repeat(73))), "22023", "73 bytes").hiding("y".repeat(73)),
            raises("user with a 1 MB password", format!("INSERT INTO auth.users (username, password, role) VALUES ('bi_bob', repeat('y', {MB}), 'bi_web')"), "22023", "bytes").hiding("y".repeat(4096)),
            raises("user with an empty password", "INSERT INTO auth.users (username, password, role) VALUES ('bi_bob', '', 'bi_web')", "22023", "password must not be empty"),
            raises("user with NULL password", "INSERT INTO auth.users (username, password, role) VALUES ('bi_bob', NULL, 'bi_web')", "23502", "password"),
            raises("user with an unknown role", format!("INSERT INTO auth.users (username, password, role) VALUES ('bi_bob', {}, 'no_such_role')", lit(PASSWORD)), "23503", "role \"no_such_role\" does not exist").hiding(PASSWORD),
            // A hash-shaped password is hashed like any other; existing hashes come only through
            // auth.import_user, which caps the cost.
            case("user with a cost-31 hash as password", format!("INSERT INTO auth.users (username, password, role) VALUES ('bi_bob', {}, 'bi_web') RETURNING left(password, 7)", lit(&dummy_hash.replace("$04$", "$31$"))), Expect::Returns(Some("$2a$04$"))).writing("auth.users", 1),
            raises("import_user with a cost-31 hash", format!("SELECT auth.import_user('bi_carl', {}, 'bi_web')", lit(&dummy_hash.replace("$04$", "$31$"))), "22023", "from 4 to 14"),
            raises("import_user with a cost-15 hash", format!("SELECT auth.import_user('bi_carl', {}, 'bi_web')", lit(&dummy_hash.replace("$04$", "$15$"))), "22023", "from 4 to 14"),
            raises("import_user with plain text", "SELECT auth.import_user('bi_carl', 'not a hash', 'bi_web')", "22023", "not a supported password hash").hiding("not a hash"),
            raises("user with a 7-character password", "INSERT INTO auth.users (username, password, role) VALUES ('bi_bob', 'seven77', 'bi_web')", "22023", "at least 8").hiding("seven77"),
            raises("import_user with an argon2 hash over the memory cap", "SELECT auth.import_user('bi_carl', '$argon2id$v=19$m=524288,t=2,p=1$7DLnqssaZq54Yz2CxlZzeQ$I+fMHIiiIDXAr2jp8rXOroGFt7LpM61CpWOm9yM4lIo', 'bi_web')", "22023", "at most 262144").hiding("7DLnqssaZq54Yz2CxlZzeQ"),
            raises("import_user with an argon2d hash", "SELECT auth.import_user('bi_carl', '$argon2d$v=19$m=19456,t=2,p=1$7DLnqssaZq54Yz2CxlZzeQ$I+fMHIiiIDXAr2jp8rXOroGFt7LpM61CpWOm9yM4lIo', 'bi_web')", "22023", "argon2d is not accepted").hiding("7DLnqssaZq54Yz2CxlZzeQ"),
            raises("password changed to 73 bytes", format!("UPDATE auth.users SET password = {} WHERE username = 'bi_alice'", lit(&"z".repeat(73))), "22023", "73 bytes").hiding("z".repeat(73)),
            raises("hash_password of 73 bytes", format!("SELECT auth.hash_password({})", lit(&"x".repeat(73))), "22023", "73 bytes").hiding("x".repeat(73)),
            raises("hash_password of 1 MB", format!("SELECT auth.hash_password(repeat('x', {MB}))"), "22023", "bytes").hiding("x".repeat(4096)),
            raises("hash_password of ''", "SELECT auth.hash_password('')", "22023", "password must not be empty"),
            raises("verify_password against garbage", format!("SELECT auth.verify_password({}, 'garbage')", lit(PASSWORD)), "22P02", "not a bcrypt hash").hiding(PASSWORD),
            raises("verify_password against ''", format!("SELECT auth.verify_password({}, '')", lit(PASSWORD)), "22P02", "not a bcrypt hash").hiding(PASSWORD),
            raises("verify_password against a cost-31 hash", format!("SELECT auth.verify_password({}, {})", lit(PASSWORD), lit(&dummy_hash.replace("$04$", "$31$"))), "22023", "above 20").hiding(PASSWORD),
            raises("verify_password of a 73-byte password", format!("SELECT auth.verify_password({}, {})", lit(&"x".repeat(73)), lit(dummy_hash)), "22023", "73 bytes").hiding("x".repeat(73)),
            raises("bcrypt cost 3", "SELECT set_config('auth.bcrypt_cost', '3', true)", "22023", "auth.bcrypt_cost"),
            raises("bcrypt cost 21", "SELECT set_config('auth.bcrypt_cost', '21', true)", "22023", "auth.bcrypt_cost"),
            raises("change_password when not logged in", format!("SELECT auth.change_password({}, 'new password')", lit(PASSWORD)), "PT401", "Not logged in").with(json!({"role": "bi_web", "claims": r#"{"role":"bi_web"}"#})).hiding(PASSWORD),
            raises("change_password with forged claims and no token", format!("SELECT auth.change_password({}, 'new password')", lit(PASSWORD)), "PT401", "Not logged in").with(json!({"role": "bi_web", "claims": r#"{"role":"bi_web","sub":"bi_alice"}"#})).hiding(PASSWORD),
            raises("change_password with a garbage sid", format!("SELECT auth.change_password({}, 'new password')", lit(PASSWORD)), "PT401", "Not logged in").with(json!({"role": "bi_web", "claims": r#"{"role":"bi_web","sub":"bi_alice","sid":"x"}"#})).hiding(PASSWORD),
            raises("change_password to 73 bytes", format!("SELECT auth.change_password({}, {})", lit(PASSWORD), lit(&"n".repeat(73))), "22023", "73 bytes").with(json!({"role": "bi_web", "claims": r#"{"role":"bi_web","sub":"bi_alice"}"#, "headers": json!({"authorization": format!("Bearer {good}")}).to_string()})).hiding(PASSWORD).hiding("n".repeat(73)),
            // ---- private functions, called by the anonymous role ----
            raises("anon calls jwt_sign", r#"SELECT auth.jwt_sign('{"role":"postgres"}')"#, "42501", "permission denied").with(as_anon(json!({}))),
            raises("anon calls hash_password", "SELECT auth.hash_password('pw')", "42501", "permission denied").with(as_anon(json!({}))),
            raises("anon calls create_api_key", "SELECT auth.create_api_key('bi_web')", "42501", "permission denied").with(as_anon(json!({}))),
            raises("anon reads auth.users", "SELECT count(*) FROM auth.users", "42501", "permission denied").with(as_anon(json!({}))),
            // ---- grant helpers ----
            raises("grant_session_access to PUBLIC", "SELECT auth.grant_session_access('public')", "22023", "does not grant to PUBLIC"),
            raises("grant_session_access to nobody", "SELECT auth.grant_session_access(NULL, NULL)", "22023", "name an anonymous role"),
            raises("grant_session_access to a NULL role", "SELECT auth.grant_session_access(NULL, ARRAY[NULL]::name[])", "22023", "authenticated_roles must name roles"),
            raises("grant_session_access to an unknown role", "SELECT auth.grant_session_access('no_such_role')", "42704", "does not exist"),
            raises("grant_request_check of no roles", "SELECT auth.grant_request_check('{}')", "22023", "at least one role"),
            raises("grant_request_check of an unknown role", "SELECT auth.grant_request_check(ARRAY['no_such_role']::name[])", "23503", "does not exist"),
            // ---- API keys and tokens ----
            raises("exchange_api_key of garbage", "SELECT auth.exchange_api_key('garbage')", "PT401", "Invalid API key").with(as_anon(json!({}))),
            raises("exchange_api_key of a key-shaped unknown", format!("SELECT auth.exchange_api_key('pgauth_{}')", "A".repeat(43)), "PT401", "Invalid API key").with(as_anon(json!({}))).hiding(format!("pgauth_{}", "A".repeat(43))),
            raises("exchange_api_key of 1 MB", format!("SELECT auth.exchange_api_key('pgauth_' || repeat('A', {MB}))"), "PT401", "Invalid API key").with(as_anon(json!({}))).hiding(&big[..4096]),
            raises("exchange_api_key with no key", "SELECT auth.exchange_api_key()", "PT401", "API key required").with(as_anon(json!({}))),
            raises("exchange_api_key of ''", "SELECT auth.exchange_api_key('')", "PT401", "API key required").with(as_anon(json!({}))),
            raises("exchange_api_key: header a number", "SELECT auth.exchange_api_key()", "PT401", "API key required").with(as_anon(json!({"headers": r#"{"x-api-key":5}"#}))),
            raises("exchange_api_key: headers not JSON", "SELECT auth.exchange_api_key()", "PT401", "API key required").with(as_anon(json!({"headers": "x-api-key: pgauth_x"}))),
            raises("exchange_api_key: header with a NUL", "SELECT auth.exchange_api_key()", "PT401", "API key required").with(as_anon(json!({"headers": r#"{"x-api-key":"pgauth_\u0000"}"#}))),
            raises("exchange_api_key: an access token as key", format!("SELECT auth.exchange_api_key({})", lit(&good)), "PT401", "Invalid API key").with(as_anon(json!({}))).hiding(&good),
            raises("create_api_key for an unknown role", "SELECT auth.create_api_key('no_such_role')", "23503", "does not exist"),
            raises("create_api_key for NULL role", "SELECT auth.create_api_key(NULL)", "22023", "role must not be NULL"),
            raises("create_api_key with a bad plan", "SELECT auth.create_api_key('bi_web', 'gold; DROP TABLE x')", "22023", "plan must be"),
            raises("create_api_key expiring in the past", "SELECT auth.create_api_key('bi_web', NULL, now() - interval '1 day')", "22023", "expires_at must be in the future"),
            raises("create_api_token with an empty name", "SELECT auth.create_api_token('', 'bi_web')", "22023", "name must be 1 to 256 characters"),
            raises("create_api_token with a 1 MB name", format!("SELECT auth.create_api_token(repeat('n', {MB}), 'bi_web')"), "22023", "name must be 1 to 256 characters"),
            raises("create_api_token overriding tid", "SELECT auth.create_api_token('n', 'bi_web', NULL, '{\"tid\":\"x\"}')", "22023", "reserved"),
            raises("create_api_token overriding role", "SELECT auth.create_api_token('n', 'bi_web', NULL, '{\"role\":\"postgres\"}')", "22023", "reserved"),
            raises("create_api_token with array claims", "SELECT auth.create_api_token('n', 'bi_web', NULL, '[1]')", "22023", "claims must be a JSON object"),
            raises("create_api_token for an unknown role", "SELECT auth.create_api_token('n', 'no_such_role')", "23503", "does not exist"),
            raises("create_api_token expiring in the past", "SELECT auth.create_api_token('n', 'bi_web', now() - interval '1 second')", "22023", "expires_at must be in the future"),
            raises("revoke_api_token of a non-uuid", "SELECT auth.revoke_api_token('not-a-uuid')", "22P02", "invalid input syntax for type uuid"),
            case("disable_api_key of an unknown key", format!("SELECT auth.disable_api_key('{UUID}')::text"), Expect::Returns(Some("false"))),
            // ---- custom claims: auth.access_token_hook settings that name no usable function
            // refuse the login before anything is kept; app_metadata is an object ----
            raises("login with a hook setting that is not schema.name", format!("SELECT auth.login('{TAG}_alice', {})", lit(PASSWORD)), "22023", "auth.access_token_hook must be a schema-qualified function name")
                .with(as_anon(json!({"settings": {"auth.access_token_hook": "no_schema"}}))).hiding(PASSWORD),
            raises("login with a hook setting of 1 MB", format!("SELECT auth.login('{TAG}_alice', {})", lit(PASSWORD)), "22023", "auth.access_token_hook names no function schema.name(event jsonb)")
                .with(as_anon(json!({"settings": {"auth.access_token_hook": format!("a.{}", "b".repeat(MB))}}))).hiding(PASSWORD),
            raises("login with a hook setting that injects SQL", format!("SELECT auth.login('{TAG}_alice', {})", lit(PASSWORD)), "22023", "auth.access_token_hook must be a schema-qualified function name")
                .with(as_anon(json!({"settings": {"auth.access_token_hook": "pg_catalog.now(); DROP TABLE auth.users"}}))).hiding(PASSWORD),
            raises("login with a hook naming no function", format!("SELECT auth.login('{TAG}_alice', {})", lit(PASSWORD)), "22023", "auth.access_token_hook names no function schema.name(event jsonb)")
                .with(as_anon(json!({"settings": {"auth.access_token_hook": "public.no_such_hook"}}))).hiding(PASSWORD),
            raises("login with a hook of another signature", format!("SELECT auth.login('{TAG}_alice', {})", lit(PASSWORD)), "22023", "auth.access_token_hook names no function schema.name(event jsonb)")
                .with(as_anon(json!({"settings": {"auth.access_token_hook": "pg_catalog.to_jsonb"}}))).hiding(PASSWORD),
            raises("login with a hook returning another type", format!("SELECT auth.login('{TAG}_alice', {})", lit(PASSWORD)), "22023", "auth.access_token_hook must name a plain function returning jsonb")
                .with(as_anon(json!({"settings": {"auth.access_token_hook": "pg_catalog.jsonb_typeof"}}))).hiding(PASSWORD),
            raises("app_metadata that is an array", "UPDATE auth.users SET app_metadata = '[]'", "23514", "users_app_metadata_object"),
            raises("app_metadata that is a string", "UPDATE auth.users SET app_metadata = '\"admin\"'", "23514", "users_app_metadata_object"),
            raises("app_metadata NULL", "UPDATE auth.users SET app_metadata = NULL", "23502", "app_metadata"),
            // ---- deleting accounts (nothing deleted, nothing recorded) ----
            raises("delete_user of NULL", "SELECT auth.delete_user(NULL)", "22023", "username must not be NULL"),
            case("delete_user of a 1 MB unknown name", format!("SELECT auth.delete_user(repeat('u', {MB}))::text"), Expect::Returns(Some("false"))),
            raises("delete_my_account with no token", "SELECT auth.delete_my_account('a password')", "PT401", "Not logged in"),
            // ---- signing keys (the store stays empty: nothing half-written) ----
            verify_raises("a kid no key has", &signed(r#"{"alg":"HS256","kid":"nope"}"#, &good_payload, key), "unknown signing key (kid)"),
            verify_raises("a kid that is a number", &signed(r#"{"alg":"HS256","kid":7}"#, &good_payload, key), "kid"),
            raises("create_signing_key of alg none", "SELECT auth.create_signing_key('none')", "22023", "unsupported algorithm"),
            raises("create_signing_key of RS256", "SELECT auth.create_signing_key('RS256')", "22023", "RS256"),
            raises("create_signing_key of NULL", "SELECT auth.create_signing_key(NULL)", "22023", "alg must not be NULL"),
            raises("create_signing_key of 1 MB", format!("SELECT auth.create_signing_key(repeat('E', {MB}))"), "22023", "unsupported algorithm"),
            raises("activate_signing_key of an unknown kid", "SELECT auth.activate_signing_key('nope')", "22023", "no signing key has kid"),
            raises("activate_signing_key of a 1 MB kid", format!("SELECT auth.activate_signing_key(repeat('k', {MB}))"), "22023", "no signing key has kid"),
            raises("retire_signing_key of NULL", "SELECT auth.retire_signing_key(NULL)", "22023", "kid must not be NULL"),
            raises("import_verification_key of ''", "SELECT auth.import_verification_key('')", "22023", ""),
            raises("import_verification_key of 1 MB", format!("SELECT auth.import_verification_key(repeat('A', {MB}))"), "22023", "longer than"),
            raises("import_verification_key of a private PEM", format!("SELECT auth.import_verification_key({})", lit(KEYS["es256"]["private_pkcs8_pem"].as_str().unwrap())), "22023", "private key").hiding(KEYS["es256"]["private_pkcs8_pem"].as_str().unwrap()[30..90].to_owned()),
            raises("import_verification_key of a private JWK", format!("SELECT auth.import_verification_key({})", lit(&KEYS["rsa2048"]["private_jwk"].to_string())), "22023", "private key").hiding(KEYS["rsa2048"]["private_jwk"]["d"].as_str().unwrap()[..40].to_owned()),
            raises("import_verification_key of an HMAC JWK", r#"SELECT auth.import_verification_key('{"kty":"oct","k":"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"}')"#, "22023", "HMAC secret").hiding("c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"),
            raises("import_verification_key of a P-384 key", format!("SELECT auth.import_verification_key({})", lit(KEYS["p384"]["public_pem"].as_str().unwrap())), "22023", "only P-256"),
            raises("import_verification_key of secp256k1", format!("SELECT auth.import_verification_key({})", lit(KEYS["secp256k1"]["public_pem"].as_str().unwrap())), "22023", "only P-256"),
            raises("import_verification_key of RSA 1024", format!("SELECT auth.import_verification_key({})", lit(KEYS["rsa1024"]["public_pem"].as_str().unwrap())), "22023", "1024 bits"),
            raises("import_verification_key with a spaced kid", format!("SELECT auth.import_verification_key({}, 'a kid')", lit(KEYS["es256"]["public_pem"].as_str().unwrap())), "22023", "key id (kid)"),
            raises("import_verification_key with a 1 MB kid", format!("SELECT auth.import_verification_key({}, repeat('k', {MB}))", lit(KEYS["es256"]["public_pem"].as_str().unwrap())), "22023", "key id (kid)"),
            raises("import_verification_key of a JWK set", format!("SELECT auth.import_verification_key('{{\"keys\":[{}]}}')", KEYS["es256"]["jwk"]), "22023", "one at a time"),
        ]
    }

    /// Everything a call gives back, for the secrecy checks.
    fn visible(r: &Response) -> String {
        let e = r.error.as_ref();
        [
            e.map(|e| &e.message),
            e.and_then(|e| e.detail.as_ref()),
            e.and_then(|e| e.hint.as_ref()),
            r.result.as_ref(),
            r.headers.as_ref(),
        ]
        .into_iter()
        .flatten()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join("\n")
    }

    fn row_counts() -> Map<String, Value> {
        match one::<pgrx::JsonB>("SELECT tests.auth_row_counts()").map(|j| j.0) {
            Some(Value::Object(m)) => m,
            other => panic!("auth_row_counts gave {other:?}"),
        }
    }

    /// Runs one case; returns what is wrong with its outcome, if anything.
    fn check(c: &Case, secret: &str) -> Option<String> {
        let before = row_counts();
        let outcome = request(&c.sql, &c.request);
        let after = row_counts();
        let s = |k: &str| {
            let e = outcome.error.as_ref();
            match k {
                "state" => e.map(|e| e.state.as_str()),
                "message" => e.map(|e| e.message.as_str()),
                "result" => outcome.result.as_deref(),
                "status" => outcome.status.as_deref(),
                _ => unreachable!("{k}"),
            }
        };
        let mut wrong = Vec::new();

        match (&c.expect, s("state")) {
            (_, Some("XX000")) => {
                wrong.push(format!("internal error (a panic?): {:?}", s("message")))
            }
            (Expect::Raises(state, frag), Some(got)) => {
                if got != *state {
                    wrong.push(format!("SQLSTATE {got}, want {state} ({:?})", s("message")));
                }
                if !s("message").unwrap_or("").contains(frag) {
                    wrong.push(format!("message {:?} lacks {frag:?}", s("message")));
                }
            }
            (Expect::Raises(state, _), None) => wrong.push(format!(
                "did not raise {state}; returned {:?} (status {:?})",
                s("result").map(|r| r.chars().take(200).collect::<String>()),
                s("status")
            )),
            (_, Some(got)) => wrong.push(format!("raised {got}: {:?}", s("message"))),
            (Expect::Answers(status, frag), None) => {
                if s("status") != Some(status) {
                    wrong.push(format!("response.status {:?}, want {status}", s("status")));
                }
                if !s("result").unwrap_or("").contains(frag) {
                    wrong.push(format!("body {:?} lacks {frag:?}", s("result")));
                }
            }
            (Expect::Returns(want), None) => {
                if s("result") != *want {
                    wrong.push(format!("returned {:?}, want {want:?}", s("result")));
                }
            }
        }

        let seen = visible(&outcome);
        if seen.contains(secret) {
            wrong.push("the configured jwt secret is in the answer".into());
        }
        for h in c.hidden.iter().filter(|h| h.len() >= 4) {
            if seen.contains(h.as_str()) {
                wrong.push(format!("the input {:.20}... is in the answer", h));
            }
        }
        // Messages stay short: nothing large is ever echoed back.
        if s("message").is_some_and(|m| m.len() > 300) {
            wrong.push(format!("message of {} bytes", s("message").unwrap().len()));
        }

        for (table, now) in &after {
            let was = &before[table];
            let rows = |v: &Value| v["rows"].as_i64().unwrap_or(-1);
            match c.writes.iter().find(|(t, _)| t == table) {
                Some((_, added)) if rows(now) - rows(was) == *added => {}
                Some((_, added)) => wrong.push(format!(
                    "{table}: {} -> {} rows (documented +{added})",
                    rows(was),
                    rows(now)
                )),
                None if now != was => wrong.push(format!(
                    "{table} changed: {} -> {} rows",
                    rows(was),
                    rows(now)
                )),
                None => {}
            }
        }
        if after.len() != before.len() {
            wrong.push("the set of auth tables changed".into());
        }
        (!wrong.is_empty()).then(|| wrong.join("; "))
    }

    #[pg_test]
    fn bad_inputs_table() {
        // No test commits rows (through dblink) while the row counts are compared.
        hold_committed_rows_lock();
        let secret = setup();
        let table = cases(&secret);
        let raising = table
            .iter()
            .filter(|c| matches!(c.expect, Expect::Raises(..) | Expect::Answers(..)))
            .count();
        assert!(
            raising >= 60,
            "only {raising} hostile inputs with a typed error"
        );
        let mut names: Vec<&str> = table.iter().map(|c| c.what).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), table.len(), "case names are unique");

        let failures: Vec<String> = table
            .iter()
            .filter_map(|c| check(c, &secret).map(|why| format!("{}: {why}", c.what)))
            .collect();
        assert!(
            failures.is_empty(),
            "{} of {} cases failed:\n{}",
            failures.len(),
            table.len(),
            failures.join("\n")
        );
    }

    /// The checks above can fail: a case expecting the wrong SQLSTATE, one leaking its input, one
    /// writing a row, are each reported.
    #[pg_test]
    fn bad_inputs_checks_can_fail() {
        // Its checks count rows too.
        hold_committed_rows_lock();
        let secret = setup();
        let wrong_state = raises("x", "SELECT auth.url_decode('!!')", "22023", "invalid");
        assert!(check(&wrong_state, &secret)
            .unwrap()
            .contains("SQLSTATE 22P02"));
        let echoed = case(
            "x",
            "SELECT 'a token'::text",
            Expect::Returns(Some("a token")),
        )
        .hiding("a token");
        assert!(check(&echoed, &secret)
            .unwrap()
            .contains("is in the answer"));
        let leaks_key = case(
            "x",
            format!("SELECT {}", lit(&secret)),
            Expect::Returns(Some("")),
        );
        assert!(check(&leaks_key, &secret).unwrap().contains("jwt secret"));
        let writes = case(
            "x",
            "INSERT INTO auth.login_failures (username) VALUES ('x') RETURNING 'ok'",
            Expect::Returns(Some("ok")),
        );
        assert!(check(&writes, &secret)
            .unwrap()
            .contains("auth.login_failures changed: 0 -> 1 rows"));
        let updates = case(
            "x",
            "UPDATE auth.users SET role = 'bi_anon' RETURNING 'ok'",
            Expect::Returns(Some("ok")),
        );
        assert!(check(&updates, &secret)
            .unwrap()
            .contains("auth.users changed"));
        let internal = raises(
            "x",
            "DO $$ BEGIN RAISE SQLSTATE 'XX000'; END $$",
            "XX000",
            "",
        );
        assert!(check(&internal, &secret)
            .unwrap()
            .contains("internal error"));
    }
}
