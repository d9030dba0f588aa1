//! The account life: sign-up (open, and with verified addresses), password reset and email
//! verification through one-time tokens and the outbox, email addresses on users, the outbox's
//! privileges, the per-address throttle, single use under concurrency. Requests go through the one
//! emulator of PostgREST (`tests.request`, [`Request`]).

#[pgrx::pg_schema]
mod tests {
    use crate::pgrx_tests::common::{
        assert_error, hold_committed_rows_lock, lit, one, postgrest_roles, run, text, Request,
        Response,
    };
    use pgrx::prelude::*;
    use serde_json::{json, Value};

    const PASSWORD: &str = "account password 1";
    const NEW_PASSWORD: &str = "account password 2";

    fn count(sql: &str) -> i64 {
        one::<i64>(sql).unwrap_or_else(|| panic!("{sql} returned NULL"))
    }

    /// PostgREST's roles for `tag` (grant_session_access), sign-up open with role `<tag>_web`.
    fn setup(tag: &str) {
        postgrest_roles(tag, true);
        run("SET LOCAL auth.allow_signup = on");
        run(&format!("SET LOCAL auth.signup_role = '{tag}_web'"));
    }

    fn anon(tag: &str) -> Request {
        Request::post(&format!("{tag}_anon")).claims(json!({ "role": format!("{tag}_anon") }))
    }

    fn signup(tag: &str, user: &str, password: &str, email: Option<&str>) -> Response {
        anon(tag).call(&format!(
            "SELECT auth.signup({}, {}, {})::text",
            lit(user),
            lit(password),
            email.map_or("NULL".into(), lit)
        ))
    }

    fn login(tag: &str, user: &str, password: &str) -> Response {
        anon(tag).call(&format!(
            "SELECT auth.login({}, {})::text",
            lit(user),
            lit(password)
        ))
    }

    /// The token of the newest outbox row of `user` and `kind`.
    fn outbox_token(user: &str, kind: &str) -> String {
        text(&format!(
            "SELECT token FROM auth.outbox WHERE username = {} AND kind = '{kind}' AND NOT consumed ORDER BY id DESC LIMIT 1",
            lit(user)
        ))
    }

    fn outbox_rows(user: &str) -> i64 {
        count(&format!(
            "SELECT count(*) FROM auth.outbox WHERE username = {}",
            lit(user)
        ))
    }

    /// A request as PostgREST runs it for a client holding `access` in Authorization.
    fn as_user(tag: &str, access: &str) -> Request {
        let claims = text(&format!("SELECT auth.jwt_verify({})::text", lit(access)));
        Request::post(&format!("{tag}_web"))
            .claims(claims)
            .headers(json!({ "authorization": format!("Bearer {access}") }))
    }

    #[pg_test]
    fn accounts_signup_refusals() {
        postgrest_roles("acr", true);
        run("CREATE ROLE acr_super SUPERUSER NOLOGIN");
        run("CREATE ROLE acr_bypass BYPASSRLS NOLOGIN");
        // Off by default.
        let r = signup("acr", "acr_ann", PASSWORD, None);
        assert_eq!(r.failure(), ("PT403".into(), "Sign-up is disabled".into()));
        run("SET LOCAL auth.allow_signup = on");
        // Not configured: no role, an unknown role, a role with powers.
        assert_eq!(
            signup("acr", "acr_ann", PASSWORD, None).failure().0,
            "22023"
        );
        assert!(signup("acr", "acr_ann", PASSWORD, None)
            .failure()
            .1
            .contains("auth.signup_role is not set"));
        for (role, needle) in [
            ("acr_nobody", "names no role"),
            ("acr_super", "superuser"),
            ("acr_bypass", "BYPASSRLS"),
        ] {
            run(&format!("SET LOCAL auth.signup_role = '{role}'"));
            let (state, message) = signup("acr", "acr_ann", PASSWORD, None).failure();
            assert_eq!(state, "22023");
            assert!(message.contains(needle), "{message}");
        }
        run("SET LOCAL auth.signup_role = 'acr_web'");
        // Bad arguments: 22023 with the reason, never the password.
        run("SET LOCAL auth.password_min_length = 12");
        for (user, password, email, needle) in [
            (None, Some(PASSWORD), None, "must not be NULL"),
            (Some("acr_ann"), None, None, "must not be NULL"),
            (Some("ab"), Some(PASSWORD), None, "3 to 256 characters"),
            (Some("acr_ann"), Some("short pw"), None, "at least 12"),
            (Some("acr_ann"), Some(""), None, "empty"),
            (
                Some("acr_ann"),
                Some(PASSWORD),
                Some("not-an-address"),
                "not a valid address",
            ),
            (
                Some("acr_ann"),
                Some(PASSWORD),
                Some("a b@example.com"),
                "not a valid address",
            ),
        ] {
            let stmt = format!(
                "SELECT auth.signup({}, {}, {})::text",
                user.map_or("NULL".into(), lit),
                password.map_or("NULL".into(), lit),
                email.map_or("NULL".into(), lit)
            );
            let (state, message) = anon("acr").call(&stmt).failure();
            assert_eq!(state, "22023", "{stmt}: {message}");
            assert!(message.contains(needle), "{stmt}: {message}");
            assert!(!message.contains("short pw"), "{message}");
        }
        // With verified addresses required, an address is.
        run("SET LOCAL auth.require_verified_email = on");
        let (state, message) = signup("acr", "acr_ann", PASSWORD, None).failure();
        assert_eq!(
            (state.as_str(), message.as_str()),
            ("22023", "email is required")
        );
        // Read-only (GET) and rolled-back requests: 25006 before anything.
        let r = Request::get("acr_anon").call(&format!(
            "SELECT auth.signup('acr_ann', {}, 'ann@example.com')::text",
            lit(PASSWORD)
        ));
        assert_eq!(r.failure().0, "25006");
        assert_eq!(
            count("SELECT count(*) FROM auth.users WHERE username LIKE 'acr%'"),
            0
        );
    }

    #[pg_test]
    fn accounts_signup_logs_in() {
        setup("acs");
        let r = signup("acs", "acs_ann", PASSWORD, Some("Ann@Example.com")).ok();
        assert_eq!(r.status, None, "{r:?}");
        let body = r.body();
        assert_eq!(body["username"], "acs_ann");
        assert_eq!(body["role"], "acs_web");
        let access = r.cookie("access_token").expect("access cookie");
        assert!(r.cookie("refresh_token").is_some());
        // The user: the configured role, a hash, the address lower-cased and not verified.
        assert_eq!(
            text("SELECT json_build_array(role, password LIKE '$2_$%', email, email_verified_at IS NULL)::text FROM auth.users WHERE username = 'acs_ann'"),
            r#"["acs_web", true, "ann@example.com", true]"#
        );
        // A session like a login's, recorded as started by sign-up; its token carries the
        // user's app_metadata like any session token.
        assert_eq!(
            one::<String>("SELECT method FROM auth.sessions WHERE username = 'acs_ann'").as_deref(),
            Some("signup")
        );
        assert_eq!(
            text(&format!(
                "SELECT (auth.jwt_verify({}) -> 'app_metadata')::text",
                lit(&access)
            )),
            "{}"
        );
        let me = as_user("acs", &access)
            .call("SELECT count(*)::text FROM auth.my_sessions()")
            .ok();
        assert_eq!(me.result.as_deref(), Some("1"));
        // The address gets a verification token in the outbox, announced on auth_outbox.
        assert_eq!(outbox_rows("acs_ann"), 1);
        assert_eq!(
            text("SELECT json_build_array(kind, email, length(token), expires_at > now() + interval '23 hours')::text FROM auth.outbox WHERE username = 'acs_ann'"),
            r#"["email_verification", "ann@example.com", 43, true]"#
        );
        // A taken username or address: 409 through response.status, nothing written.
        // (Counted by this test's prefix: tests run concurrently, and some commit users.)
        let users = count("SELECT count(*) FROM auth.users WHERE username LIKE 'acs%'");
        for (user, email) in [("acs_ann", None), ("acs_bob", Some("ANN@example.com"))] {
            let r = signup("acs", user, PASSWORD, email).ok();
            assert_eq!(r.status.as_deref(), Some("409"), "{r:?}");
            assert_eq!(r.body()["code"], "PT409");
            assert_eq!(r.body()["message"], "Username or email already taken");
            assert!(r.set_cookies().is_empty());
        }
        assert_eq!(
            count("SELECT count(*) FROM auth.users WHERE username LIKE 'acs%'"),
            users
        );
        // Without an address: no outbox row. Recorded in the audit log either way.
        signup("acs", "acs_cid", PASSWORD, None).ok();
        assert_eq!(outbox_rows("acs_cid"), 0);
        assert_eq!(
            text("SELECT json_agg(detail->>'created' ORDER BY id)::text FROM auth.audit_log WHERE event = 'signup' AND username LIKE 'acs%'"),
            r#"["true", "false", "false", "true"]"#
        );
    }

    #[pg_test]
    fn accounts_signup_with_verification_does_not_enumerate() {
        setup("acv");
        run("SET LOCAL auth.require_verified_email = on");
        let first = signup("acv", "acv_ann", PASSWORD, Some("ann@acv.example")).ok();
        assert_eq!(first.status.as_deref(), Some("201"));
        assert_eq!(first.body(), json!({ "verification_required": true }));
        assert!(first.set_cookies().is_empty(), "{first:?}");
        // A taken username, a taken address: the very same answer, no row, no mail.
        for (user, email) in [
            ("acv_ann", "other@acv.example"),
            ("acv_bob", "ANN@acv.example"),
        ] {
            let again = signup("acv", user, NEW_PASSWORD, Some(email)).ok();
            assert_eq!(
                (&again.status, &again.result, &again.headers),
                (&first.status, &first.result, &first.headers)
            );
        }
        assert_eq!(
            count("SELECT count(*) FROM auth.users WHERE username LIKE 'acv%'"),
            1
        );
        assert_eq!(outbox_rows("acv_ann"), 1);
        // Login waits for the address: refused after the password check, nothing else.
        let (state, message) = login("acv", "acv_ann", PASSWORD).failure();
        assert_eq!(
            (state.as_str(), message.as_str()),
            ("PT403", "Email address not verified")
        );
        assert_eq!(
            login("acv", "acv_ann", NEW_PASSWORD).status.as_deref(),
            Some("401")
        );
        // The link of the mail verifies the address; then login works.
        let token = outbox_token("acv_ann", "email_verification");
        let v = anon("acv")
            .call(&format!("SELECT auth.verify_email({})::text", lit(&token)))
            .ok();
        assert_eq!(v.body()["email"], "ann@acv.example");
        assert!(v.body()["email_verified_at"].is_string());
        assert!(login("acv", "acv_ann", PASSWORD)
            .ok()
            .cookie("access_token")
            .is_some());
        // The token is spent, and the outbox row consumed with its token erased.
        let (state, message) = anon("acv")
            .call(&format!("SELECT auth.verify_email({})::text", lit(&token)))
            .failure();
        assert_eq!(
            (state.as_str(), message.as_str()),
            ("PT401", "Invalid or expired token")
        );
        assert_eq!(
            text("SELECT json_agg(json_build_array(consumed, token))::text FROM auth.outbox WHERE username = 'acv_ann'"),
            "[[true, null]]"
        );
        // Users without an address (made by an administrator) are not concerned by the rule.
        run(&format!(
            "INSERT INTO auth.users (username, password, role) VALUES ('acv_admin_made', {}, 'acv_web')",
            lit(PASSWORD)
        ));
        login("acv", "acv_admin_made", PASSWORD).ok();
    }

    #[pg_test]
    fn accounts_password_reset_flow() {
        setup("acp");
        run(&format!(
            "INSERT INTO auth.users (username, password, role, email) VALUES ('acp_ann', {}, 'acp_web', 'ann@acp.example')",
            lit(PASSWORD)
        ));
        let session = login("acp", "acp_ann", PASSWORD).ok();
        let refresh = session.cookie("refresh_token").unwrap();
        // Known and unknown accounts: the same (empty) answer; only the known one gets a mail.
        let ask = |who: &str| {
            anon("acp").call(&format!(
                "SELECT auth.request_password_reset({})::text",
                lit(who)
            ))
        };
        let known = ask("ANN@acp.example").ok();
        let unknown = ask("nobody@acp.example").ok();
        assert_eq!(
            (&known.status, &known.result, &known.headers),
            (&unknown.status, &unknown.result, &unknown.headers)
        );
        assert_eq!(outbox_rows("acp_ann"), 1);
        assert_eq!(
            text("SELECT detail::text FROM auth.audit_log WHERE event = 'password_reset_requested' AND username = 'nobody@acp.example'"),
            r#"{"queued": false, "user_exists": false}"#
        );
        let token = outbox_token("acp_ann", "password_reset");
        // Only the hash is stored with the token's metadata.
        assert_eq!(
            count(&format!(
                "SELECT count(*) FROM auth.one_time_tokens WHERE username = 'acp_ann' AND purpose = 'password_reset' \
                 AND token_hash = sha256(convert_to({}, 'UTF8')) AND expires_at BETWEEN now() + interval '59 minutes' AND now() + interval '61 minutes'",
                lit(&token)
            )),
            1
        );
        // Within 60 seconds a second request (by username this time) sends nothing new.
        ask("acp_ann").ok();
        assert_eq!(outbox_rows("acp_ann"), 1);
        // A password the policy refuses: 22023, and the token is not spent.
        let reset = |t: &str, p: &str| {
            anon("acp").call(&format!(
                "SELECT auth.reset_password({}, {})::text",
                lit(t),
                lit(p)
            ))
        };
        run("SET LOCAL auth.password_min_length = 12");
        let (state, message) = reset(&token, "too short").failure();
        assert_eq!(state, "22023");
        assert!(
            message.contains("at least 12") && !message.contains("too short"),
            "{message}"
        );
        // Unknown token: 401.
        assert_eq!(
            reset("x".repeat(43).as_str(), NEW_PASSWORD).failure(),
            ("PT401".into(), "Invalid or expired token".into())
        );
        // The reset: password set, every session ended, cookies cleared, address verified.
        let r = reset(&token, NEW_PASSWORD).ok();
        assert_eq!(
            r.body(),
            json!({ "username": "acp_ann", "revoked_sessions": 1 })
        );
        assert!(r.set_cookie("access_token").unwrap().contains("Max-Age=0"));
        assert_eq!(
            text(
                "SELECT json_agg(ended_reason)::text FROM auth.sessions WHERE username = 'acp_ann'"
            ),
            r#"["password_reset"]"#
        );
        assert_eq!(
            one::<bool>(
                "SELECT email_verified_at IS NOT NULL FROM auth.users WHERE username = 'acp_ann'"
            ),
            Some(true)
        );
        let dead = anon("acp")
            .cookies(json!({ "refresh_token": refresh }))
            .call("SELECT auth.refresh_token()::text")
            .ok();
        assert_eq!(dead.status.as_deref(), Some("401"));
        assert_eq!(
            login("acp", "acp_ann", PASSWORD).status.as_deref(),
            Some("401")
        );
        login("acp", "acp_ann", NEW_PASSWORD).ok();
        // Single use.
        assert_eq!(reset(&token, "account password 3").failure().0, "PT401");
        // A new request after the minute replaces an unspent token; an expired one is refused.
        run("UPDATE auth.one_time_tokens SET created_at = created_at - interval '2 minutes' WHERE username = 'acp_ann'");
        ask("acp_ann").ok();
        let old = outbox_token("acp_ann", "password_reset");
        run("UPDATE auth.one_time_tokens SET created_at = created_at - interval '2 minutes' WHERE username = 'acp_ann'");
        ask("acp_ann").ok();
        let new = outbox_token("acp_ann", "password_reset");
        assert_ne!(old, new);
        assert_eq!(
            count("SELECT count(*) FROM auth.outbox WHERE username = 'acp_ann' AND NOT consumed"),
            1,
            "the undelivered row of the replaced token is gone"
        );
        assert_eq!(reset(&old, "account password 4").failure().0, "PT401");
        run("UPDATE auth.one_time_tokens SET expires_at = now() - interval '1 second' WHERE consumed_at IS NULL AND username = 'acp_ann'");
        assert_eq!(reset(&new, "account password 4").failure().0, "PT401");
        // A verification token is not a reset token.
        run("UPDATE auth.one_time_tokens SET created_at = created_at - interval '2 minutes' WHERE username = 'acp_ann'");
        run("UPDATE auth.users SET email_verified_at = NULL WHERE username = 'acp_ann'");
        anon("acp")
            .call("SELECT auth.request_email_verification('ann@acp.example')::text")
            .ok();
        let verification = outbox_token("acp_ann", "email_verification");
        assert_eq!(
            reset(&verification, "account password 4").failure().0,
            "PT401"
        );
        // NULLs, read-only requests.
        assert_error(
            "SELECT auth.request_password_reset(NULL)",
            "22023",
            "must not be NULL",
        );
        assert_error(
            "SELECT auth.reset_password(NULL, 'x')",
            "22023",
            "must not be NULL",
        );
        let ro =
            Request::get("acp_anon").call("SELECT auth.request_password_reset('acp_ann')::text");
        assert_eq!(ro.failure().0, "25006");
        // Audited, never with the token.
        assert_eq!(
            count(&format!(
                "SELECT count(*) FROM auth.audit_log WHERE detail::text LIKE {} OR detail::text LIKE {}",
                lit(&format!("%{token}%")),
                lit(&format!("%{new}%"))
            )),
            0
        );
        assert_eq!(
            count("SELECT count(*) FROM auth.audit_log WHERE event = 'password_reset' AND username = 'acp_ann'"),
            1
        );
    }

    #[pg_test]
    fn accounts_email_addresses_and_verification() {
        setup("ace");
        run(&format!(
            "INSERT INTO auth.users (username, password, role, email) VALUES ('ace_ann', {p}, 'ace_web', 'Ann@ACE.example'), ('ace_bob', {p}, 'ace_web', NULL)",
            p = lit(PASSWORD)
        ));
        assert_eq!(
            one::<String>("SELECT email FROM auth.users WHERE username = 'ace_ann'").as_deref(),
            Some("ann@ace.example")
        );
        // One address per user, whatever its case; invalid ones refused.
        assert_error(
            "UPDATE auth.users SET email = 'ANN@ace.example' WHERE username = 'ace_bob'",
            "23505",
            "users_email_key",
        );
        assert_error(
            "UPDATE auth.users SET email = 'bob at ace' WHERE username = 'ace_bob'",
            "22023",
            "not a valid address",
        );
        // Logged in: without an address, 22023; with one, a token in the outbox.
        let bob = login("ace", "ace_bob", PASSWORD)
            .ok()
            .cookie("access_token")
            .unwrap();
        let ask_own = |access: &str| {
            as_user("ace", access).call("SELECT auth.request_email_verification()::text")
        };
        assert_eq!(
            ask_own(&bob).failure(),
            ("22023".into(), "No email address to verify".into())
        );
        let ann = login("ace", "ace_ann", PASSWORD)
            .ok()
            .cookie("access_token")
            .unwrap();
        ask_own(&ann).ok();
        assert_eq!(outbox_rows("ace_ann"), 1);
        // Not logged in, without an address: PT401.
        assert_eq!(
            anon("ace")
                .call("SELECT auth.request_email_verification()::text")
                .failure()
                .0,
            "PT401"
        );
        // An address changed since the mail: the token no longer verifies anything.
        let token = outbox_token("ace_ann", "email_verification");
        run("UPDATE auth.users SET email = 'ann2@ace.example' WHERE username = 'ace_ann'");
        assert_eq!(
            anon("ace")
                .call(&format!("SELECT auth.verify_email({})::text", lit(&token)))
                .failure()
                .0,
            "PT401"
        );
        // Verified, then a change of address unverifies it (unless the UPDATE sets it too).
        run("UPDATE auth.users SET email_verified_at = now() WHERE username = 'ace_ann'");
        run("UPDATE auth.users SET email = 'ANN2@ace.example' WHERE username = 'ace_ann'");
        assert_eq!(
            one::<bool>(
                "SELECT email_verified_at IS NOT NULL FROM auth.users WHERE username = 'ace_ann'"
            ),
            Some(true),
            "the same address in another case is no change"
        );
        run("UPDATE auth.users SET email = 'ann3@ace.example' WHERE username = 'ace_ann'");
        assert_eq!(
            one::<bool>(
                "SELECT email_verified_at IS NULL FROM auth.users WHERE username = 'ace_ann'"
            ),
            Some(true)
        );
        run("UPDATE auth.users SET email = 'ann4@ace.example', email_verified_at = now() WHERE username = 'ace_ann'");
        assert_eq!(
            one::<bool>(
                "SELECT email_verified_at IS NOT NULL FROM auth.users WHERE username = 'ace_ann'"
            ),
            Some(true)
        );
        // Anyone may ask for a new link for an unverified address: the same answer for every
        // address, a mail only for an unverified one.
        run("UPDATE auth.users SET email = 'ann5@ace.example' WHERE username = 'ace_ann'");
        run("UPDATE auth.one_time_tokens SET created_at = created_at - interval '2 minutes' WHERE username = 'ace_ann'");
        let before = count("SELECT count(*) FROM auth.outbox WHERE username LIKE 'ace%'");
        for address in ["ann5@ace.example", "ann4@ace.example", "nobody@ace.example"] {
            let r = anon("ace")
                .call(&format!(
                    "SELECT auth.request_email_verification({})::text",
                    lit(address)
                ))
                .ok();
            assert_eq!((r.status.as_deref(), r.json()), (None, None));
        }
        // One mail, for the unverified address (it replaces the undelivered one of the old address).
        assert_eq!(
            count("SELECT count(*) FROM auth.outbox WHERE username LIKE 'ace%'"),
            before
        );
        assert_eq!(
            text("SELECT json_agg(email)::text FROM auth.outbox WHERE username = 'ace_ann' AND NOT consumed"),
            r#"["ann5@ace.example"]"#
        );
        let token = outbox_token("ace_ann", "email_verification");
        let v = anon("ace")
            .call(&format!("SELECT auth.verify_email({})::text", lit(&token)))
            .ok();
        assert_eq!(v.body()["username"], "ace_ann");
        assert_eq!(v.body()["email"], "ann5@ace.example");
        assert_error(
            "SELECT auth.verify_email(NULL)",
            "22023",
            "must not be NULL",
        );
    }

    #[pg_test]
    fn accounts_import_user_with_email() {
        run("CREATE ROLE aci_web NOLOGIN");
        let hash = "$2y$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW";
        run(&format!(
            "SELECT auth.import_user('aci_ann', {}, 'aci_web', 'Ann@aci.example', true)",
            lit(hash)
        ));
        run(&format!(
            "SELECT auth.import_user('aci_bob', {}, 'aci_web', 'bob@aci.example')",
            lit(hash)
        ));
        assert_eq!(
            text("SELECT json_agg(json_build_array(username, email, email_verified_at IS NOT NULL) ORDER BY username)::text FROM auth.users WHERE username LIKE 'aci%'"),
            r#"[["aci_ann", "ann@aci.example", true], ["aci_bob", "bob@aci.example", false]]"#
        );
        assert_error(
            &format!(
                "SELECT auth.import_user('aci_cid', {}, 'aci_web', 'ANN@aci.example')",
                lit(hash)
            ),
            "23505",
            "users_email_key",
        );
        assert_error(
            &format!(
                "SELECT auth.import_user('aci_cid', {}, 'aci_web', 'nope')",
                lit(hash)
            ),
            "22023",
            "not a valid address",
        );
        assert_error(
            &format!(
                "SELECT auth.import_user('aci_cid', {}, 'aci_web', NULL, NULL)",
                lit(hash)
            ),
            "22023",
            "must not be NULL",
        );
    }

    #[pg_test]
    fn accounts_outbox_privileges() {
        setup("aco");
        run(&format!(
            "INSERT INTO auth.users (username, password, role, email) VALUES ('aco_ann', {}, 'aco_web', 'ann@aco.example')",
            lit(PASSWORD)
        ));
        anon("aco")
            .call("SELECT auth.request_password_reset('aco_ann')::text")
            .ok();
        run("CREATE ROLE aco_mailer NOLOGIN");
        run("CREATE ROLE aco_other NOLOGIN");
        assert_error(
            "SELECT auth.grant_outbox_access('public')",
            "22023",
            "not PUBLIC",
        );
        assert_error("SELECT auth.grant_outbox_access(NULL)", "22023", "not NULL");
        run("SELECT auth.grant_outbox_access('aco_mailer')");
        run("SET LOCAL ROLE aco_mailer");
        // The mailer's statements: claim, read, mark consumed.
        let id = one::<i64>(
            "SELECT id FROM auth.outbox WHERE NOT consumed AND expires_at > now() ORDER BY id FOR UPDATE SKIP LOCKED LIMIT 1",
        )
        .unwrap();
        assert_eq!(
            one::<i32>(&format!(
                "SELECT length(token) FROM auth.outbox WHERE id = {id}"
            )),
            Some(43)
        );
        // Nothing else: no other column, no insert, no delete, nothing of the token table.
        for stmt in [
            format!("UPDATE auth.outbox SET token = 'x' WHERE id = {id}"),
            format!("UPDATE auth.outbox SET email = 'evil@example.com' WHERE id = {id}"),
            "INSERT INTO auth.outbox (kind, username, expires_at) VALUES ('password_reset', 'aco_ann', now())".into(),
            format!("DELETE FROM auth.outbox WHERE id = {id}"),
            "SELECT * FROM auth.one_time_tokens".into(),
            "SELECT * FROM auth.users".into(),
        ] {
            assert_error(&stmt, "42501", "permission denied");
        }
        run(&format!(
            "UPDATE auth.outbox SET consumed = true WHERE id = {id}"
        ));
        // Consumed erases the token, and stays consumed.
        run(&format!(
            "UPDATE auth.outbox SET consumed = false WHERE id = {id}"
        ));
        assert_eq!(
            text(&format!(
                "SELECT json_build_array(consumed, token)::text FROM auth.outbox WHERE id = {id}"
            )),
            "[true, null]"
        );
        run("RESET ROLE");
        // Without the grant: nothing.
        run("SET LOCAL ROLE aco_other");
        assert_error("SELECT * FROM auth.outbox", "42501", "permission denied");
        run("RESET ROLE");
        // Housekeeping deletes consumed rows and spent or expired tokens.
        run("SELECT auth.purge_sessions()");
        assert_eq!(outbox_rows("aco_ann"), 0);
        // Deleting a user deletes their pending tokens and mail.
        run("UPDATE auth.one_time_tokens SET created_at = created_at - interval '2 minutes' WHERE username = 'aco_ann'");
        anon("aco")
            .call("SELECT auth.request_password_reset('aco_ann')::text")
            .ok();
        assert_eq!(outbox_rows("aco_ann"), 1);
        run("SELECT auth.delete_user('aco_ann')");
        assert_eq!(
            count("SELECT count(*) FROM auth.outbox WHERE username = 'aco_ann'"),
            0
        );
        assert_eq!(
            count("SELECT count(*) FROM auth.one_time_tokens WHERE username = 'aco_ann'"),
            0
        );
    }

    #[pg_test]
    fn accounts_requests_throttled_per_address() {
        setup("act");
        run("SET LOCAL auth.client_ip_header = 'X-Forwarded-For'");
        run("SET LOCAL auth.max_account_requests_per_ip = 3");
        let from = |ip: &str, stmt: &str| {
            anon("act")
                .headers(json!({ "x-forwarded-for": ip }))
                .call(stmt)
        };
        from(
            "198.51.100.1",
            &format!(
                "SELECT auth.signup('act_ann', {}, NULL)::text",
                lit(PASSWORD)
            ),
        )
        .ok();
        from(
            "198.51.100.1",
            "SELECT auth.request_password_reset('nobody')::text",
        )
        .ok();
        from(
            "198.51.100.1",
            "SELECT auth.request_email_verification('nobody@example.com')::text",
        )
        .ok();
        // The fourth from that address: 429 with Retry-After, in PostgREST's custom-error form.
        let refused = from(
            "198.51.100.1",
            "SELECT auth.request_password_reset('act_ann')::text",
        );
        let failure = refused.error.clone().expect("refused");
        assert_eq!(failure.state, "PGRST");
        let message: Value = serde_json::from_str(&failure.message).unwrap();
        assert_eq!(message["code"], "PT429");
        let detail: Value = serde_json::from_str(failure.detail.as_deref().unwrap()).unwrap();
        assert_eq!(detail["status"], 429);
        let retry: i64 = detail["headers"]["Retry-After"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=900).contains(&retry), "{retry}");
        assert_eq!(outbox_rows("act_ann"), 0);
        // Another address is not concerned; 0 turns the limit off.
        from(
            "198.51.100.2",
            "SELECT auth.request_password_reset('act_ann')::text",
        )
        .ok();
        run("SET LOCAL auth.max_account_requests_per_ip = 0");
        from(
            "198.51.100.1",
            "SELECT auth.request_password_reset('nobody')::text",
        )
        .ok();
    }

    /// Two connections spend one reset token at once: the second waits for the first, then finds
    /// it spent. Exactly one reset happens. Committed rows, so the data is written and removed
    /// over dblink.
    #[pg_test]
    fn accounts_reset_token_single_use_under_concurrency() {
        hold_committed_rows_lock();
        run("CREATE EXTENSION IF NOT EXISTS dblink");
        let conn = "'host=' || split_part(current_setting('unix_socket_directories'), ',', 1) || ' port=' || current_setting('port') || ' dbname=' || current_database() || ' user=' || current_user";
        run(&format!("SELECT dblink_connect('acc_a', {conn})"));
        run(&format!("SELECT dblink_connect('acc_b', {conn})"));
        let exec = |c: &str, sql: &str| {
            run(&format!("SELECT dblink_exec('{c}', {})", lit(sql)));
        };
        let remote = |c: &str, sql: &str| -> Option<String> {
            one::<String>(&format!(
                "SELECT r FROM dblink('{c}', {}) AS t(r text)",
                lit(sql)
            ))
        };
        let cleanup = || {
            exec("acc_a", "DELETE FROM auth.users WHERE username = 'acc_ann'");
            exec("acc_a", "DROP ROLE IF EXISTS acc_web");
        };
        cleanup();
        exec("acc_a", "CREATE ROLE acc_web NOLOGIN");
        exec("acc_a", "SET auth.bcrypt_cost = 4");
        exec("acc_b", "SET auth.bcrypt_cost = 4");
        exec("acc_a", &format!("INSERT INTO auth.users (username, password, role) VALUES ('acc_ann', {}, 'acc_web')", lit(PASSWORD)));
        remote(
            "acc_a",
            "SELECT auth.request_password_reset('acc_ann')::text",
        );
        let token = remote(
            "acc_a",
            "SELECT token FROM auth.outbox WHERE username = 'acc_ann'",
        )
        .unwrap();
        let b_pid = remote("acc_b", "SELECT pg_backend_pid()::text").unwrap();
        // A resets inside an open transaction, holding the token's row...
        exec("acc_a", "BEGIN");
        let first = remote(
            "acc_a",
            &format!(
                "SELECT auth.reset_password({}, 'first new password')::text",
                lit(&token)
            ),
        )
        .unwrap();
        // ...while B's reset with the same token waits for it.
        run(&format!(
            "SELECT dblink_send_query('acc_b', {})",
            lit(&format!(
                "SELECT state FROM tests.sqlstate_of({})",
                lit(&format!(
                    "SELECT auth.reset_password({}, 'second new password')",
                    lit(&token)
                ))
            ))
        ));
        assert_eq!(
            one::<bool>(&format!("SELECT tests.wait_for_lock_wait({b_pid})")),
            Some(true),
            "B never waited on a lock"
        );
        exec("acc_a", "COMMIT");
        let second = one::<String>("SELECT r FROM dblink_get_result('acc_b') AS t(r text)");
        run("SELECT * FROM dblink_get_result('acc_b', false) AS t(r text)");
        assert!(first.contains("\"username\": \"acc_ann\""), "{first}");
        assert_eq!(second.as_deref(), Some("PT401"));
        // The first password is the one set.
        let matches = |p: &str| {
            remote(
                "acc_a",
                &format!(
                    "SELECT auth_private._login_password_matches({}, password)::text FROM auth.users WHERE username = 'acc_ann'",
                    lit(p)
                ),
            )
        };
        assert_eq!(matches("first new password").as_deref(), Some("true"));
        assert_eq!(matches("second new password").as_deref(), Some("false"));
        cleanup();
        run("SELECT dblink_disconnect('acc_a')");
        run("SELECT dblink_disconnect('acc_b')");
    }
}
