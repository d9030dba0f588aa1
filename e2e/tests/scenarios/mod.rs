//! The scenarios, one module per topic. Each takes the shared stack and panics (through
//! assertions that print the whole HTTP exchange) on the first wrong status, header or body.

pub mod accounts;
pub mod api_keys;
pub mod api_scopes;
pub mod api_tokens;
pub mod attacks;
pub mod browser;
mod common;
pub mod concurrency;
pub mod cookie_auth;
pub mod durability;
pub mod jwt;
pub mod keys;
pub mod my_sessions;
pub mod rls;
pub mod session;
