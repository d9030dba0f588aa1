//! The end-to-end suite: one live stack (PostgreSQL + auth, PostgREST 12.0.2, Caddy, nginx)
//! shared by every scenario, run in sequence. A failing scenario does not stop the others; the
//! test fails at the end listing them all. `E2E_ONLY=name,name` runs a subset (names below).

mod scenarios;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

use e2e::stack::Stack;

type Scenario = fn(&mut Stack);

const SCENARIOS: &[(&str, Scenario)] = &[
    ("jwt_over_postgrest", scenarios::jwt::jwt_over_postgrest),
    (
        "key_rotation_over_postgrest",
        scenarios::keys::key_rotation_over_postgrest,
    ),
    (
        "browser_session_via_caddy",
        scenarios::session::browser_session_via_caddy,
    ),
    (
        "api_tokens_over_postgrest",
        scenarios::api_tokens::api_tokens_over_postgrest,
    ),
    (
        "api_keys_via_nginx",
        scenarios::api_keys::api_keys_via_nginx,
    ),
    (
        "imported_api_keys_via_psql",
        scenarios::api_scopes::imported_api_keys_via_psql,
    ),
    (
        "my_api_token_over_http",
        scenarios::api_scopes::my_api_token_over_http,
    ),
    ("rls_matrix", scenarios::rls::rls_matrix),
    (
        "concurrent_refresh",
        scenarios::concurrency::concurrent_refresh,
    ),
    (
        "concurrent_logins",
        scenarios::concurrency::concurrent_logins,
    ),
    ("revocation_races", scenarios::concurrency::revocation_races),
    (
        "read_only_credential_calls",
        scenarios::attacks::read_only_credential_calls,
    ),
    (
        "rollback_preference",
        scenarios::attacks::rollback_preference,
    ),
    (
        "logged_out_cookie_proves_nothing",
        scenarios::attacks::logged_out_cookie_proves_nothing,
    ),
    (
        "cookie_tossing_via_gateways",
        scenarios::attacks::cookie_tossing_via_gateways,
    ),
    (
        "private_helpers_unreachable",
        scenarios::attacks::private_helpers_unreachable,
    ),
    (
        "minting_for_unheld_role",
        scenarios::attacks::minting_for_unheld_role,
    ),
    (
        "change_password_with_stolen_token",
        scenarios::attacks::change_password_with_stolen_token,
    ),
    (
        "my_sessions_over_postgrest",
        scenarios::my_sessions::my_sessions_over_postgrest,
    ),
    (
        "cookie_auth_postgrest_alone",
        scenarios::cookie_auth::cookie_auth_postgrest_alone,
    ),
    (
        "browser_cookie_session",
        scenarios::browser::browser_cookie_session,
    ),
    (
        "signup_verify_login",
        scenarios::accounts::signup_verify_login,
    ),
    (
        "password_reset_over_http",
        scenarios::accounts::password_reset_over_http,
    ),
    (
        "email_verification_request",
        scenarios::accounts::email_verification_request,
    ),
    ("dump_restore", scenarios::durability::dump_restore),
    (
        "extension_versions",
        scenarios::durability::extension_versions,
    ),
];

/// Scenarios that need client programs the PostgreSQL under test may lack (docs/versions.md).
const NEEDS_PG_TOOLS: &[(&str, &[&str])] = &[("dump_restore", &["pg_dump", "pg_restore"])];

#[test]
fn e2e_suite() {
    let only: Option<Vec<String>> = std::env::var("E2E_ONLY")
        .ok()
        .filter(|s| !s.is_empty())
        .map(|s| s.split(',').map(|x| x.trim().to_string()).collect());
    if let Some(only) = &only {
        for name in only {
            assert!(
                SCENARIOS.iter().any(|(n, _)| n == name),
                "E2E_ONLY: no scenario named {name}"
            );
        }
    }
    let t0 = Instant::now();
    let mut stack = Stack::start();
    let mut failed = Vec::new();
    let mut skipped = Vec::new();
    let mut ran = 0;
    for (name, scenario) in SCENARIOS {
        if only.as_ref().is_some_and(|o| !o.iter().any(|n| n == name)) {
            continue;
        }
        let needs = NEEDS_PG_TOOLS.iter().find(|(n, _)| n == name);
        if let Some(note) = needs.and_then(|(_, tools)| stack.missing_pg_tools(tools)) {
            eprintln!(
                "[e2e] scenario {name}: SKIPPED on PostgreSQL {}: {note}",
                stack.pg_version
            );
            skipped.push(*name);
            continue;
        }
        ran += 1;
        let t = Instant::now();
        eprintln!("[e2e] scenario {name} ...");
        let result = catch_unwind(AssertUnwindSafe(|| {
            scenario(&mut stack);
            stack.assert_alive();
        }));
        match result {
            Ok(()) => eprintln!(
                "[e2e] scenario {name}: ok ({:.1} s)",
                t.elapsed().as_secs_f64()
            ),
            Err(_) => {
                eprintln!(
                    "[e2e] scenario {name}: FAILED ({:.1} s)",
                    t.elapsed().as_secs_f64()
                );
                failed.push(*name);
            }
        }
    }
    let log = stack.postgres_log();
    drop(stack);
    eprintln!(
        "[e2e] {} scenarios, {} failed, {:.1} s in all{}",
        ran,
        failed.len(),
        t0.elapsed().as_secs_f64(),
        if skipped.is_empty() {
            String::new()
        } else {
            format!("; skipped (see above): {skipped:?}")
        }
    );
    assert!(failed.is_empty(), "failed scenarios: {failed:?}");
    // No backend may have crashed (a panic is an ERROR, not a crash; a crash restarts them all).
    assert!(
        !log.contains("terminated by signal") && !log.contains("reinitializing"),
        "PostgreSQL log shows a crashed backend:\n{log}"
    );
}
