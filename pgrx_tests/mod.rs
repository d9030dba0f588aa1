//! In-database tests, run by `cargo pgrx test`. pgrx runs every `#[pg_test]` in schema `tests`,
//! so each file holds one `#[pg_schema] mod tests` and prefixes its test names.

mod access_token_hook;
mod accounts;
mod api_keys;
mod api_scopes;
mod api_tokens;
mod bad_inputs;
mod check_request;
mod common;
mod cookie_auth;
mod jwt;
mod passwords;
mod privileges;
mod session_management;
mod sessions;
mod signing_keys;
