//! PostgREST-shaped requests for the API token, API key and check_request tests: what PostgREST 12
//! runs in the database per request (docs/postgrest.md describes it), inside the test transaction.

use pgrx::prelude::*;
use serde_json::Value;

use crate::pgrx_tests::common::{one, run};

/// The text a query returns; panics on NULL.
pub fn text(sql: &str) -> String {
    one::<String>(sql).unwrap_or_else(|| panic!("{sql} returned NULL"))
}

/// SQL string literal.
pub fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The claims PostgREST would put in `request.jwt.claims` for `token` (it verified the token;
/// so does this, with the server key).
pub fn claims_of(token: &str) -> Value {
    serde_json::from_str(&text(&format!(
        "SELECT auth.jwt_verify({})::text",
        lit(token)
    )))
    .unwrap()
}

/// What one PostgREST request gave: "ok" or "SQLSTATE: message", the statement's result, and
/// response.headers.
#[derive(Debug)]
pub struct Outcome {
    pub outcome: String,
    pub result: Option<String>,
    pub headers: Option<Value>,
}

/// One PostgREST-shaped request (see `tests.request`): claims and headers as PostgREST sets them,
/// READ ONLY like a GET when `read_only`, else READ WRITE like a POST; the hook runs first,
/// then `stmt` when given. The role is the claims' role, else `{tag}_anon`.
pub fn request(
    tag: &str,
    claims: &str,
    headers: &Value,
    read_only: bool,
    stmt: Option<&str>,
) -> Outcome {
    let sql = format!(
        "SELECT outcome, result, response_headers FROM tests.request({}, {}::jsonb, {read_only}, {}, {})",
        lit(claims),
        lit(&headers.to_string()),
        lit(&format!("{tag}_anon")),
        stmt.map_or("NULL".into(), lit)
    );
    let (outcome, result, headers) =
        Spi::get_three::<String, String, String>(&sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    Outcome {
        outcome: outcome.expect("outcome"),
        result,
        headers: headers.map(|h| serde_json::from_str(&h).unwrap()),
    }
}

/// Only the hook (db-pre-request) of a request: its outcome.
pub fn pre_request(tag: &str, claims: &str, headers: &Value, read_only: bool) -> String {
    request(tag, claims, headers, read_only, None).outcome
}

/// Both a GET and a POST with these claims and headers; asserts they agree and returns the outcome.
pub fn get_and_post(tag: &str, claims: &str, headers: &Value) -> String {
    let get = pre_request(tag, claims, headers, true);
    let post = pre_request(tag, claims, headers, false);
    assert_eq!(get, post, "GET and POST differ for {claims}");
    get
}

/// PostgREST-like roles for one test: `{tag}_anon` (anonymous), `{tag}_web` (API credentials),
/// `{tag}_admin` (manages credentials); all may run the hook.
pub fn make_roles(tag: &str) {
    for r in ["anon", "web", "admin"] {
        run(&format!("CREATE ROLE {tag}_{r} NOLOGIN"));
    }
    run(&format!(
        "SELECT auth.grant_request_check(ARRAY['{tag}_anon', '{tag}_web', '{tag}_admin']::name[])"
    ));
}

extension_sql!(
    r#"
-- One PostgREST request: the set_config prologue (role from the claims, else `anon`), READ ONLY
-- for a GET, the db-pre-request hook auth.check_request(), then `stmt` (the RPC or query) if
-- any. Returns the outcome ('ok' or 'SQLSTATE: message'), the statement's result as text and
-- response.headers. A failed request is rolled back, as PostgREST does; a read-only one is
-- rolled back too (to leave read-only mode), which loses nothing since it cannot write.
CREATE FUNCTION tests.request(claims text, headers jsonb, read_only boolean, anon name, stmt text,
    OUT outcome text, OUT result text, OUT response_headers text)
LANGUAGE plpgsql AS $$
BEGIN
    outcome := 'ok';
    BEGIN
        IF read_only THEN
            -- Switching to read-only is allowed mid-transaction; the subtransaction's rollback
            -- below switches back.
            PERFORM pg_catalog.set_config('transaction_read_only', 'on', true);
        END IF;
        PERFORM pg_catalog.set_config('request.jwt.claims', claims, true),
                pg_catalog.set_config('request.headers', headers::text, true),
                pg_catalog.set_config('request.method', CASE WHEN read_only THEN 'GET' ELSE 'POST' END, true),
                pg_catalog.set_config('request.path', '/items', true),
                pg_catalog.set_config('response.headers', '', true),
                pg_catalog.set_config('role',
                    coalesce(CASE WHEN claims <> '' THEN claims::jsonb ->> 'role' END, anon), true);
        PERFORM auth.check_request();
        IF stmt IS NOT NULL THEN
            EXECUTE stmt INTO result;
        END IF;
        response_headers := nullif(pg_catalog.current_setting('response.headers', true), '');
        PERFORM pg_catalog.set_config('role', 'none', true);
        IF read_only THEN
            RAISE SQLSTATE 'TS000';
        END IF;
    EXCEPTION WHEN OTHERS THEN
        IF SQLSTATE <> 'TS000' THEN
            outcome := SQLSTATE || ': ' || SQLERRM;
            result := NULL;
            response_headers := NULL;
        END IF;
    END;
END
$$;

-- A login session for sid tests: a new user of `role` in auth.users and a row of auth.sessions.
CREATE FUNCTION tests.new_session(role name, expires_at timestamptz, revoked_at timestamptz DEFAULT NULL)
RETURNS uuid LANGUAGE plpgsql AS $$
DECLARE
    id uuid := pg_catalog.gen_random_uuid();
    who text := 'tests_user_' || pg_catalog.left(id::text, 8);
BEGIN
    PERFORM pg_catalog.set_config('auth.bcrypt_cost', '4', true);
    EXECUTE 'INSERT INTO auth.users (username, password, role) VALUES ($1, $2, $3)'
        USING who, 'a password for ' || who, role;
    EXECUTE 'INSERT INTO auth.sessions (id, username, expires_at, revoked_at) VALUES ($1, $2, $3, $4)'
        USING id, who, expires_at, revoked_at;
    RETURN id;
END
$$;

-- Runs `stmt` while this transaction holds a row lock on API token `tid` (as a long request
-- using the token would), then releases the lock by rolling the subtransaction back.
CREATE FUNCTION tests.with_row_locked(tid uuid, stmt text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    result text;
BEGIN
    BEGIN
        PERFORM FROM auth.api_tokens WHERE id = tid FOR UPDATE;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'token % is not visible', tid;
        END IF;
        EXECUTE stmt INTO result;
        RAISE SQLSTATE 'TS000';
    EXCEPTION WHEN SQLSTATE 'TS000' THEN
        NULL;
    END;
    RETURN result;
END
$$;
"#,
    name = "tests_requests",
    requires = ["tests_common"]
);
