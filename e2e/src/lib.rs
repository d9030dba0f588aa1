//! Harness of the end-to-end suite (`cargo test -p e2e`): starts and stops a live stack — a
//! scratch PostgreSQL cluster (15 unless `PG_CONFIG` names another) with the installed `auth` extension, PostgREST 12.0.2 with
//! `db-pre-request = auth.check_request`, Caddy (seeds 000/001) and nginx (seed 002) — and gives
//! the scenarios in `tests/` an HTTP client and SQL access. See README.md (section "End-to-end suite").

pub mod db;
pub mod http;
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

#[cfg(test)]
mod tests {
    /// README.md ("End-to-end suite") shows the gateway configurations the suite runs: they must
    /// not drift.
    #[test]
    fn readme_shows_the_configurations_verbatim() {
        let doc = include_str!("../../README.md");
        for (name, conf) in [
            ("e2e/conf/Caddyfile", include_str!("../conf/Caddyfile")),
            ("e2e/conf/nginx.conf", include_str!("../conf/nginx.conf")),
        ] {
            assert!(
                doc.contains(conf),
                "README.md does not contain {name} verbatim"
            );
        }
    }
}
