//! Helpers shared by the in-database tests.

use pgrx::prelude::*;
use serde_json::{Map, Value};

/// Runs `sql` and returns the SQLSTATE and message it fails with; panics if it succeeds.
/// The statement runs in a subtransaction, so the test can go on after it.
pub fn error_of(sql: &str) -> (String, String) {
    let quoted = sql.replace('\'', "''");
    let row =
        Spi::get_two::<String, String>(&format!("SELECT * FROM tests.sqlstate_of('{quoted}')"))
            .expect("sqlstate_of failed");
    match row {
        (Some(state), Some(message)) => (state, message),
        _ => panic!("expected an error from: {sql}"),
    }
}

/// Asserts `sql` fails with `state` and a message containing `needle`.
pub fn assert_error(sql: &str, state: &str, needle: &str) {
    let (got, message) = error_of(sql);
    assert_eq!(got, state, "{sql}: {message}");
    assert!(
        message.contains(needle),
        "{sql}: message {message:?} lacks {needle:?}"
    );
}

pub fn one<T: pgrx::datum::FromDatum + pgrx::datum::IntoDatum>(sql: &str) -> Option<T> {
    Spi::get_one::<T>(sql).unwrap_or_else(|e| panic!("{sql}: {e}"))
}

pub fn run(sql: &str) {
    Spi::run(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// PostgREST's roles as the docs set them up: `<tag>_anon` (the anonymous role) and `<tag>_web`
/// (the users' role) with auth.grant_session_access, and with `hook` auth.grant_request_check
/// too. Cheap bcrypt for the users the test then adds.
pub fn postgrest_roles(tag: &str, hook: bool) {
    run("SET LOCAL auth.bcrypt_cost = 4");
    run(&format!("CREATE ROLE {tag}_anon NOLOGIN"));
    run(&format!("CREATE ROLE {tag}_web NOLOGIN"));
    run(&format!(
        "SELECT auth.grant_session_access('{tag}_anon', ARRAY['{tag}_web'])"
    ));
    if hook {
        run(&format!(
            "SELECT auth.grant_request_check(ARRAY['{tag}_anon', '{tag}_web']::name[])"
        ));
    }
}

/// The key of the transaction-level advisory lock that keeps the tests committing rows apart
/// from the tests counting them. Every test runs in its own transaction, rolled back at its end,
/// so no test sees another's rows, except the rows a test commits through dblink (concurrent
/// connections need them committed). The bad-input table compares the rows of every auth table
/// before and after each of its cases, and would count those as its own writes. Both kinds take
/// this lock first ([`hold_committed_rows_lock`]); it is released when the test's transaction
/// ends, after the dblink tests have removed what they committed.
pub const COMMITTED_ROWS_LOCK: i64 = 0x6175_7468_726f_7773;

/// Takes [`COMMITTED_ROWS_LOCK`] for the rest of the test's transaction (waiting for any other
/// test holding it).
pub fn hold_committed_rows_lock() {
    run(&format!(
        "SELECT pg_advisory_xact_lock({COMMITTED_ROWS_LOCK})"
    ));
}

/// SQL string literal.
pub fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The text a query returns; panics on NULL.
pub fn text(sql: &str) -> String {
    one::<String>(sql).unwrap_or_else(|| panic!("{sql} returned NULL"))
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

/// One request as PostgREST 12.0.2 runs it in the database, replayed by `tests.request` inside
/// the test's transaction (docs/postgrest.md, "How PostgREST runs a request"). Built with the
/// methods below, run with [`Request::call`]. What is not given is not set, except the
/// `request.*` settings, which every request sets ('' when absent).
#[derive(Clone, Debug)]
pub struct Request(Map<String, Value>);

impl Request {
    /// A POST (READ WRITE) as `role`.
    pub fn post(role: &str) -> Self {
        Request(Map::new()).role(role)
    }

    /// A GET (READ ONLY, then rolled back) as `role`.
    pub fn get(role: &str) -> Self {
        Request::post(role).method("GET")
    }

    /// A POST with these verified claims as PostgREST derives its role from them: the `role`
    /// claim, else the anonymous role `anon`.
    pub fn with_claims(claims: &str, anon: &str) -> Self {
        let role = serde_json::from_str::<Value>(claims)
            .ok()
            .and_then(|c| c["role"].as_str().map(str::to_string))
            .unwrap_or_else(|| anon.to_string());
        Request::post(&role).claims(claims)
    }

    /// A statement from a trusted SQL caller: no role switch, POST-like (READ WRITE, kept).
    pub fn sql() -> Self {
        Request(Map::new())
    }

    fn set(mut self, key: &str, value: Value) -> Self {
        self.0.insert(key.into(), value);
        self
    }

    /// The role PostgREST switches to.
    pub fn role(self, role: &str) -> Self {
        self.set("role", role.into())
    }

    /// The HTTP method: GET and HEAD begin READ ONLY (and are rolled back at the end).
    pub fn method(self, method: &str) -> Self {
        self.set("method", method.into())
    }

    /// `request.jwt.claims`, as given (not necessarily JSON).
    pub fn claims(self, claims: impl ToString) -> Self {
        self.set("claims", claims.to_string().into())
    }

    /// `request.headers`: a JSON object with lower-case names (any text for hostile cases). A
    /// `prefer` header asking for `tx=rollback` rolls the request back at the end, as PostgREST
    /// with `db-tx-end = commit-allow-override` does.
    pub fn headers(self, headers: impl ToString) -> Self {
        self.set("headers", headers.to_string().into())
    }

    /// `request.path` (`/rpc/call` when not given).
    pub fn path(self, path: &str) -> Self {
        self.set("path", path.into())
    }

    /// `request.cookies`: a JSON object.
    pub fn cookies(self, cookies: impl ToString) -> Self {
        self.set("cookies", cookies.to_string().into())
    }

    /// The search_path PostgREST sets (db-schemas and db-extra-search-path); unchanged if not given.
    pub fn search_path(self, path: &str) -> Self {
        self.set("search_path", path.into())
    }

    /// `response.headers` as an earlier step of the request (another pre-request function, say)
    /// left them; '' if not given.
    pub fn response_headers(self, headers: &str) -> Self {
        self.set("response_headers", headers.into())
    }

    /// A server setting (`auth.*`) for this request only.
    pub fn setting(mut self, name: &str, value: &str) -> Self {
        self.0
            .entry("settings")
            .or_insert_with(|| Value::Object(Map::new()))
            .as_object_mut()
            .unwrap()
            .insert(name.into(), value.into());
        self
    }

    /// Runs the db-pre-request function `auth.check_request()` before the statement.
    pub fn hook(self) -> Self {
        self.set("pre_request", true.into())
    }

    /// The options as `tests.request` takes them.
    pub fn options(&self) -> Value {
        Value::Object(self.0.clone())
    }

    /// Runs the request: the prologue, the hook if asked, then `stmt` (the call; its one value
    /// becomes the result, as text).
    pub fn call(&self, stmt: &str) -> Response {
        request(stmt, &self.options())
    }

    /// Only the prologue and the hook: `"ok"` or `"SQLSTATE: message"`.
    pub fn pre_request(&self) -> String {
        request_options(None, &self.clone().hook().options()).outcome()
    }
}

/// How a request failed (PostgREST rolls it back and answers the error).
#[derive(Clone, Debug, PartialEq)]
pub struct Failure {
    pub state: String,
    pub message: String,
    pub detail: Option<String>,
    pub hint: Option<String>,
}

/// What one request gave: its failure, or the statement's value as text with `response.status`
/// and `response.headers` (NULL when unset or '').
#[derive(Clone, Debug, PartialEq)]
pub struct Response {
    pub error: Option<Failure>,
    pub result: Option<String>,
    pub status: Option<String>,
    pub headers: Option<String>,
}

impl Response {
    /// `"ok"`, or `"SQLSTATE: message"` when the request failed.
    pub fn outcome(&self) -> String {
        match &self.error {
            None => "ok".into(),
            Some(f) => format!("{}: {}", f.state, f.message),
        }
    }

    /// The SQLSTATE and message of a failed request; panics if it succeeded.
    pub fn failure(&self) -> (String, String) {
        let f = self
            .error
            .as_ref()
            .unwrap_or_else(|| panic!("expected the request to fail: {self:?}"));
        (f.state.clone(), f.message.clone())
    }

    /// Panics if the request failed.
    pub fn ok(self) -> Self {
        assert!(self.error.is_none(), "the request failed: {self:?}");
        self
    }

    /// `response.headers` parsed: PostgREST reads a JSON array of one-entry objects with string
    /// values, and so does this (it panics on anything else).
    pub fn headers_json(&self) -> Option<Value> {
        self.headers
            .as_ref()
            .map(|h| serde_json::from_str(h).expect("response.headers is JSON"))
    }

    /// `response.headers` as (name, value) pairs, in order.
    pub fn header_list(&self) -> Vec<(String, String)> {
        let Some(headers) = self.headers_json() else {
            return Vec::new();
        };
        headers
            .as_array()
            .expect("response.headers is an array")
            .iter()
            .map(|o| {
                let o = o.as_object().expect("one-key objects");
                assert_eq!(o.len(), 1, "{o:?}");
                let (k, v) = o.iter().next().unwrap();
                (k.clone(), v.as_str().expect("string values").to_string())
            })
            .collect()
    }

    /// The first value of header `name`.
    pub fn header(&self, name: &str) -> Option<String> {
        self.header_list()
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }

    /// Every Set-Cookie header.
    pub fn set_cookies(&self) -> Vec<String> {
        self.header_list()
            .into_iter()
            .filter(|(k, _)| k == "Set-Cookie")
            .map(|(_, v)| v)
            .collect()
    }

    /// The Set-Cookie header of cookie `name`.
    pub fn set_cookie(&self, name: &str) -> Option<String> {
        self.set_cookies()
            .into_iter()
            .find(|c| c.starts_with(&format!("{name}=")))
    }

    /// The value a Set-Cookie gives to cookie `name`.
    pub fn cookie(&self, name: &str) -> Option<String> {
        let c = self.set_cookie(name)?;
        let pair = c.split_once(';').map_or(c.as_str(), |(p, _)| p);
        Some(pair[name.len() + 1..].to_string())
    }

    /// The body PostgREST would send: the result as JSON (None when empty, as for void).
    pub fn json(&self) -> Option<Value> {
        self.result
            .as_deref()
            .filter(|b| !b.is_empty())
            .map(|b| serde_json::from_str(b).expect("a JSON result"))
    }

    /// The JSON body; panics without one.
    pub fn body(&self) -> Value {
        self.json().expect("a JSON body")
    }

    /// The body's `message`.
    pub fn message(&self) -> String {
        self.body()["message"].as_str().unwrap_or("").to_string()
    }
}

/// Runs `tests.request(stmt, options)` (options as [`Request::options`] builds them).
pub fn request(stmt: &str, options: &Value) -> Response {
    request_options(Some(stmt), options)
}

fn request_options(stmt: Option<&str>, options: &Value) -> Response {
    let sql = format!(
        "SELECT tests.request({}, {}::jsonb)",
        stmt.map_or("NULL".into(), lit),
        lit(&options.to_string())
    );
    let out = match one::<pgrx::JsonB>(&sql).map(|j| j.0) {
        Some(Value::Object(m)) => m,
        other => panic!("{sql}: {other:?}"),
    };
    let s = |k: &str| out.get(k).and_then(Value::as_str).map(str::to_string);
    Response {
        error: s("state").map(|state| Failure {
            state,
            message: s("message").unwrap_or_default(),
            detail: s("detail"),
            hint: s("hint"),
        }),
        result: s("result"),
        status: s("status"),
        headers: s("headers"),
    }
}

extension_sql!(
    r#"
CREATE SCHEMA IF NOT EXISTS tests;
-- Privilege tests switch to unprivileged roles and still call these helpers.
GRANT USAGE ON SCHEMA tests TO PUBLIC;
-- Runs a statement and reports how it failed (NULLs when it did not), inside a subtransaction.
CREATE FUNCTION tests.sqlstate_of(stmt text, OUT state text, OUT message text)
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE stmt;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT;
END
$$;
-- Polls the lock manager until backend `pid` waits for a lock (true), for at most 20 s (false).
-- The condition interleavings wait for, instead of a sleep that guesses.
CREATE FUNCTION tests.wait_for_lock_wait(pid integer) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 1..2000 LOOP
        IF EXISTS (SELECT FROM pg_catalog.pg_locks l WHERE l.pid = $1 AND NOT l.granted) THEN
            RETURN true;
        END IF;
        PERFORM pg_catalog.pg_sleep(0.01);
    END LOOP;
    RETURN false;
END
$$;
-- One request as PostgREST 12.0.2 runs it in the database (docs/postgrest.md, "How PostgREST
-- runs a request"), replayed inside the test's transaction. `options` (every key optional):
--   method            'POST' by default; 'GET' and 'HEAD' begin READ ONLY
--   role              the role PostgREST switches to (unchanged when absent: a trusted caller)
--   claims, headers, cookies   request.jwt.claims, request.headers, request.cookies ('' when absent)
--   path              request.path ('/rpc/call' when absent)
--   search_path       set when given (PostgREST's db-schemas and db-extra-search-path)
--   settings          {"auth.…": "…"}: server settings for this request only, set first
--   response_headers  what an earlier step left in response.headers ('' when absent)
--   pre_request       true: the db-pre-request function auth.check_request() runs first
-- Then `stmt` (when not NULL) runs and its one value is kept as text. The answer is
-- {state, message, detail, hint} when anything raised (the request is rolled back, as PostgREST
-- does), else {result, status, headers} (response.status and response.headers, NULL when '').
-- A READ ONLY request, and one whose `prefer` header asks for tx=rollback (PostgREST with
-- db-tx-end = commit-allow-override), is rolled back after its answer is read; any other is kept
-- like PostgREST's COMMIT. Every setting it made ends with it, as at PostgREST's COMMIT: the
-- prior values come back (the secrets by RESET, as they read back only as a mask).
-- Between setting search_path and restoring it nothing of its own resolves through that path:
-- every call is schema-qualified and no operator runs (a test may set a trap there).
CREATE FUNCTION tests.request(stmt text, options jsonb DEFAULT '{}') RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    method text := coalesce(options ->> 'method', 'POST');
    read_only boolean := method IN ('GET', 'HEAD');
    rolls_back boolean;
    has_role boolean := options ? 'role';
    has_path boolean := options ? 'search_path';
    search_path text := options ->> 'search_path';
    prior_path text := pg_catalog.current_setting('search_path');
    hook boolean := coalesce((options ->> 'pre_request')::boolean, false);
    -- What the request sets, in order (role last but search_path): [name, value] pairs.
    plan jsonb;
    saved jsonb;
    k text;
    v text;
    res text;
    outcome jsonb;
    st text;
    msg text;
    det text;
    hnt text;
    kept boolean := false;
BEGIN
    BEGIN
        rolls_back := read_only OR coalesce(
            ((options ->> 'headers')::jsonb ->> 'prefer') ~ '(^|[,; ])tx=rollback($|[,; ])', false);
    EXCEPTION WHEN OTHERS THEN
        rolls_back := read_only; -- headers that are not JSON carry no preference
    END;
    plan := coalesce((SELECT jsonb_agg(jsonb_build_array(e.key, e.value) ORDER BY e.key)
                      FROM jsonb_each_text(options -> 'settings') e), '[]')
        || jsonb_build_array(
            jsonb_build_array('response.headers', coalesce(options ->> 'response_headers', '')),
            jsonb_build_array('response.status', ''),
            jsonb_build_array('request.jwt.claims', coalesce(options ->> 'claims', '')),
            jsonb_build_array('request.method', method),
            jsonb_build_array('request.path', coalesce(options ->> 'path', '/rpc/call')),
            jsonb_build_array('request.headers', coalesce(options ->> 'headers', '')),
            jsonb_build_array('request.cookies', coalesce(options ->> 'cookies', '')))
        || CASE WHEN has_role THEN jsonb_build_array(jsonb_build_array('role', options ->> 'role'))
           ELSE '[]' END;
    SELECT coalesce(jsonb_agg(jsonb_build_array(p ->> 0, current_setting(p ->> 0, true))), '[]')
      INTO saved FROM jsonb_array_elements(plan) p;
    BEGIN
        IF read_only THEN
            -- BEGIN READ ONLY: allowed mid-transaction; the subtransaction's rollback ends it.
            PERFORM pg_catalog.set_config('transaction_read_only', 'on', true);
        END IF;
        FOR k, v IN SELECT p ->> 0, p ->> 1 FROM jsonb_array_elements(plan) p LOOP
            PERFORM pg_catalog.set_config(k, v, true);
        END LOOP;
        IF has_path THEN
            PERFORM pg_catalog.set_config('search_path', search_path, true);
        END IF;
        IF hook THEN
            PERFORM auth.check_request();
        END IF;
        IF stmt IS NOT NULL THEN
            EXECUTE stmt INTO res;
        END IF;
        PERFORM pg_catalog.set_config('search_path', prior_path, true);
        outcome := pg_catalog.jsonb_build_object(
            'result', res,
            'status', NULLIF(pg_catalog.current_setting('response.status', true), ''),
            'headers', NULLIF(pg_catalog.current_setting('response.headers', true), ''));
        IF rolls_back THEN
            RAISE SQLSTATE 'TS000';
        END IF;
        kept := true;
    EXCEPTION
        WHEN SQLSTATE 'TS000' THEN
            NULL;
        WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
                                    det = PG_EXCEPTION_DETAIL, hnt = PG_EXCEPTION_HINT;
            outcome := pg_catalog.jsonb_build_object('state', st, 'message', msg, 'detail', det, 'hint', hnt);
    END;
    -- A rollback restored every setting already; after a kept request, put back the prior
    -- values, the role first (the secrets are reset as the test's own role).
    FOR k, v IN SELECT p ->> 0, p ->> 1 FROM jsonb_array_elements(saved) p
                WHERE kept ORDER BY p ->> 0 <> 'role' LOOP
        IF k IN ('auth.jwt_secret', 'auth.proxy_secret') THEN
            EXECUTE pg_catalog.format('RESET %s', k);
        ELSE
            PERFORM pg_catalog.set_config(k, coalesce(v, CASE WHEN k = 'role' THEN 'none' ELSE '' END), true);
        END IF;
    END LOOP;
    RETURN outcome;
END
$$;
"#,
    name = "tests_common"
);
