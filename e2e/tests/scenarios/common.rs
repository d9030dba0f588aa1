//! Helpers shared by the scenarios.

use e2e::stack::Stack;
use postgres::Client;
use serde_json::Value;

/// `auth.jwt_sign(claims)`: a token signed with the server key (adds iat, and exp when absent).
pub fn sign(db: &mut Client, claims: &Value) -> String {
    db.query_one(
        "SELECT auth.jwt_sign($1::text::jsonb)",
        &[&claims.to_string()],
    )
    .unwrap()
    .get(0)
}

/// `auth.sign(payload, secret)`: pgjwt-compatible signing with any key (for wrong-key tokens).
pub fn sign_with(db: &mut Client, payload: &Value, secret: &str) -> String {
    db.query_one(
        "SELECT auth.sign($1::text::json, $2)",
        &[&payload.to_string(), &secret],
    )
    .unwrap()
    .get(0)
}

pub fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// The current time in Unix seconds, from the database (the clock the extension uses).
pub fn db_now(db: &mut Client) -> i64 {
    db.query_one(
        "SELECT floor(extract(epoch FROM clock_timestamp()))::bigint",
        &[],
    )
    .unwrap()
    .get(0)
}

/// One text value from one query.
pub fn text(db: &mut Client, sql: &str, params: &[&(dyn postgres::types::ToSql + Sync)]) -> String {
    db.query_one(sql, params)
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .get(0)
}

/// One bigint value from one query.
pub fn int(db: &mut Client, sql: &str, params: &[&(dyn postgres::types::ToSql + Sync)]) -> i64 {
    db.query_one(sql, params)
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .get(0)
}

/// URLs of the three entry points.
pub fn pgrst(s: &Stack, path: &str) -> String {
    format!("{}{path}", s.postgrest_url)
}
pub fn caddy(s: &Stack, path: &str) -> String {
    format!("{}{path}", s.caddy_url)
}
pub fn nginx(s: &Stack, path: &str) -> String {
    format!("{}{path}", s.nginx_url)
}
