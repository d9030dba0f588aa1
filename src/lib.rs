//! `auth`: authentication for PostgREST-style APIs, inside PostgreSQL.
//!
//! The logic lives in the pure-Rust `auth-core` crate; this crate binds it to SQL. Each module
//! holds one capability's `#[pg_extern]` functions; tables, plpgsql flows and grants are in `sql/`.

use pgrx::prelude::*;

mod error;
mod gucs;
mod jwt;

pgrx::pg_module_magic!();

#[pg_guard]
pub extern "C-unwind" fn _PG_init() {
    gucs::init();
}

extension_sql_file!(
    "../sql/jwt.sql",
    name = "jwt",
    requires = [jwt::_jwt_verify, jwt::_sign, jwt::_verify]
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
        ]
    }
}
