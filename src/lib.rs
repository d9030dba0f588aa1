//! `auth`: authentication for PostgREST-style APIs, inside PostgreSQL.
//!
//! The logic lives in the pure-Rust `auth-core` crate; this crate binds it to SQL. Each module
//! holds one capability's `#[pg_extern]` functions; tables, plpgsql flows and grants are in `sql/`.

use pgrx::prelude::*;

mod accounts;
mod api_keys;
mod api_tokens;
mod check_request;
mod claims;
mod cookie_auth;
mod datum;
mod error;
mod gucs;
mod jwt;
mod keys;
mod owner_call;
mod passwords;
mod request;
mod scopes;
mod sessions;

pgrx::pg_module_magic!();

#[pg_guard]
pub extern "C-unwind" fn _PG_init() {
    gucs::init();
    keys::init();
    passwords::init();
    // SAFETY: a plain flag PostgreSQL sets while it loads shared_preload_libraries.
    let preloaded = unsafe { pg_sys::process_shared_preload_libraries_in_progress };
    if !preloaded && gucs::jwt_secret_configured() {
        // Before this backend loaded us, a postgresql.conf / ALTER SYSTEM / ALTER DATABASE value
        // of auth.jwt_secret was an ordinary placeholder that any role could read.
        warning!(
            "auth.jwt_secret is set but auth is not in shared_preload_libraries: \
             until the library loads, any role can read the setting; add auth to shared_preload_libraries"
        );
    }
}

/// Schema `auth_private`: the internals (helpers of the flows, the request hook's slow path).
/// `auth` holds the API PostgREST may expose; `auth_private` must never be exposed.
#[pg_schema]
mod auth_private {}

extension_sql_file!(
    "../sql/jwt.sql",
    name = "jwt",
    requires = [
        jwt::_jwt_claims,
        jwt::_jwt_rejection,
        jwt::_jwt_header,
        jwt::_jwt_payload,
        jwt::_jwt_valid
    ]
);
extension_sql_file!(
    "../sql/credentials.sql",
    name = "credentials",
    requires = [
        jwt::_setting,
        request::_request_header,
        check_request::_proxy_secret_matches
    ]
);
extension_sql_file!(
    "../sql/audit.sql",
    name = "audit",
    requires = [
        "credentials",
        request::_request_header,
        sessions::_request_client_ip
    ]
);
extension_sql_file!(
    "../sql/api_tokens.sql",
    name = "api_tokens",
    requires = [
        "credentials",
        "audit",
        "users",
        api_tokens::_sign_api_token_scoped,
        api_tokens::_invoking_role,
        check_request::_valid_credential_name,
        scopes::_valid_scopes,
        scopes::_check_scopes,
        request::_require_committing_transaction
    ]
);
extension_sql_file!(
    "../sql/api_keys.sql",
    name = "api_keys",
    requires = [
        "credentials",
        "audit",
        api_keys::_new_api_key,
        api_keys::_imported_api_key,
        api_keys::_api_key_hash,
        api_keys::_sign_api_key_token_scoped,
        check_request::_valid_credential_name,
        check_request::_valid_plan,
        scopes::_valid_scopes,
        scopes::_check_scopes,
        request::_add_response_headers,
        request::_request_header,
        request::_require_committing_transaction
    ]
);
extension_sql_file!(
    "../sql/users.sql",
    name = "users",
    requires = [
        "jwt",
        passwords::hash_password,
        passwords::_password_to_store_for,
        passwords::_expect_imported_hash,
        passwords::_keep_superuser_hash,
        accounts::_normalize_email,
        request::_require_committing_transaction
    ]
);
extension_sql_file!(
    "../sql/sessions.sql",
    name = "sessions",
    requires = [
        "users",
        "audit",
        sessions::_session_timeout,
        sessions::_request_client_ip,
        jwt::jwt_sign,
        jwt::_setting,
        passwords::_check_password,
        passwords::_check_new_password,
        passwords::_hash_to_store,
        passwords::_login_password_matches,
        passwords::_password_needs_rehash,
        sessions::_new_refresh_token,
        sessions::_refresh_token_hash,
        sessions::_clear_session_cookies,
        sessions::_session_response_for,
        sessions::_session_claims,
        sessions::_access_token_hook,
        sessions::_call_access_token_hook,
        request::_add_response_headers,
        request::_request_cookie,
        request::_caller_claims,
        request::_require_committing_transaction,
        check_request::_to_uuid
    ]
);
extension_sql_file!(
    "../sql/my_api_tokens.sql",
    name = "my_api_tokens",
    requires = [
        "api_tokens",
        "sessions",
        jwt::_setting,
        request::_caller_claims,
        request::_require_committing_transaction
    ]
);
extension_sql_file!(
    "../sql/check_request.sql",
    name = "check_request",
    requires = [
        "api_tokens",
        "api_keys",
        "sessions",
        check_request::_claim_markers,
        check_request::_may_carry_markers,
        cookie_auth::_cookie_claims,
        cookie_auth::_cross_origin_refusal
    ]
);
extension_sql_file!(
    "../sql/accounts.sql",
    name = "accounts",
    requires = [
        "sessions",
        "audit",
        "check_request",
        jwt::_setting,
        accounts::_normalize_email,
        accounts::_email_key,
        accounts::_new_one_time_token,
        accounts::_one_time_token_hash,
        passwords::_check_password,
        passwords::_check_new_password,
        passwords::_hash_to_store,
        sessions::_request_client_ip,
        sessions::_clear_session_cookies,
        request::_caller_claims,
        request::_require_committing_transaction
    ]
);
extension_sql_file!(
    "../sql/signing_keys.sql",
    name = "signing_keys",
    requires = [
        "audit",
        jwt::_setting,
        keys::_valid_kid,
        keys::_valid_signing_alg,
        keys::_key_store_changed,
        keys::_generate_signing_key,
        keys::_parse_verification_key,
        keys::_check_signing_key,
        keys::postgrest_jwt_secret
    ]
);
extension_sql_file!("../sql/privileges.sql", name = "privileges", finalize);

#[cfg(any(test, feature = "pg_test"))]
#[path = "../pgrx_tests/mod.rs"]
mod pgrx_tests;

/// Settings for the test cluster pgrx starts (`cargo pgrx test`).
#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}

    pub fn postgresql_conf_options() -> Vec<&'static str> {
        vec![
            // Loaded at server start, so the secret settings are never readable placeholders.
            "shared_preload_libraries = 'auth'",
            "auth.jwt_secret = 'test-secret-that-is-at-least-32-bytes-long'",
            "auth.key_encryption_key = 'test-key-encryption-key-of-32-bytes-at-least'",
        ]
    }
}
