//! Harness of the end-to-end suite (`cargo test -p e2e`): starts and stops a live stack — a
//! scratch PostgreSQL cluster (15 unless `PG_CONFIG` names another) with the installed `auth`
//! extension, PostgREST 12.0.2 with `db-pre-request = auth.check_request`, Caddy (browser
//! sessions) and nginx (API keys), each run with its file from `e2e/conf/` — and gives the
//! scenarios in `tests/` an HTTP client, SQL access, and for the account scenarios an SMTP sink and
//! the documented mailer (`mail`). See CONTRIBUTING.md (section "End-to-end suite").

pub mod db;
pub mod http;
pub mod mail;
pub mod process;
pub mod stack;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::Value;

/// The claims of a JWT, decoded without verification (the server verified it; tests read it).
pub fn jwt_claims(token: &str) -> Value {
    let payload = token
        .split('.')
        .nth(1)
        .unwrap_or_else(|| panic!("not a JWT: {token:.40}"));
    let bytes = URL_SAFE_NO_PAD
        .decode(payload)
        .expect("JWT payload is base64url");
    serde_json::from_slice(&bytes).expect("JWT payload is JSON")
}
