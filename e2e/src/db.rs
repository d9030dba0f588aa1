//! SQL access to the scratch cluster: superuser connections over its Unix socket, and a replay of
//! the transaction PostgREST 12 runs for one request (docs/postgrest.md describes it), for the
//! concurrency and dump/restore checks that need many connections or a second database.

use std::path::{Path, PathBuf};
use std::time::Duration;

use postgres::{Client, Config, NoTls};
use serde_json::{json, Value};

use crate::http::{set_cookie_named, SetCookie};

/// Where and how to reach the cluster.
#[derive(Clone, Debug)]
pub struct PgAddr {
    pub socket_dir: PathBuf,
    pub port: u16,
}

impl PgAddr {
    /// A superuser (`postgres`) connection to `dbname`, with a statement timeout so that no
    /// query of the suite can hang it.
    pub fn connect(&self, dbname: &str) -> Client {
        self.try_connect(dbname)
            .unwrap_or_else(|e| panic!("connect to database {dbname}: {e}"))
    }

    pub fn try_connect(&self, dbname: &str) -> Result<Client, postgres::Error> {
        let mut c = Config::new()
            .host_path(&self.socket_dir)
            .port(self.port)
            .user("postgres")
            .dbname(dbname)
            .connect_timeout(Duration::from_secs(10))
            .options("-c statement_timeout=60s -c lock_timeout=30s")
            .connect(NoTls)?;
        c.batch_execute("SET application_name = 'auth-e2e'")?;
        Ok(c)
    }

    pub fn socket_dir(&self) -> &Path {
        &self.socket_dir
    }
}

/// The request context PostgREST sets before calling a function.
#[derive(Clone, Debug)]
pub struct RequestCtx {
    /// The role PostgREST switches to (the JWT's role, or the anonymous role).
    pub role: String,
    /// `request.jwt.claims`: `{"role": <anon>}` without a JWT.
    pub claims: Value,
    /// `request.headers` (lower-case names).
    pub headers: Value,
    /// `request.cookies`.
    pub cookies: Value,
    pub method: String,
    pub path: String,
    /// READ ONLY for GET/HEAD and STABLE functions.
    pub read_only: bool,
    /// `auth.*` settings set for this transaction only, before the role switch (as a superuser
    /// would with ALTER ROLE ... SET), e.g. `auth.refresh_reuse_interval`.
    pub settings: Vec<(String, String)>,
}

impl RequestCtx {
    /// An anonymous POST to `/rpc/<function>`.
    pub fn anon_rpc(anon_role: &str, function: &str) -> RequestCtx {
        RequestCtx {
            role: anon_role.to_string(),
            claims: json!({ "role": anon_role }),
            headers: json!({}),
            cookies: json!({}),
            method: "POST".into(),
            path: format!("/rpc/{function}"),
            read_only: false,
            settings: Vec::new(),
        }
    }

    /// A request carrying verified JWT claims (their `role` is the role switched to).
    pub fn with_claims(mut self, claims: Value) -> RequestCtx {
        if let Some(r) = claims.get("role").and_then(Value::as_str) {
            self.role = r.to_string();
        }
        self.claims = claims;
        self
    }

    pub fn cookie(mut self, name: &str, value: &str) -> RequestCtx {
        self.cookies[name] = json!(value);
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> RequestCtx {
        self.headers[name.to_ascii_lowercase()] = json!(value);
        self
    }

    pub fn setting(mut self, name: &str, value: &str) -> RequestCtx {
        self.settings.push((name.to_string(), value.to_string()));
        self
    }
}

/// What PostgREST would answer: the status (`response.status`, else 200, or the one mapped from a
/// raised SQLSTATE), the `response.headers` entries, and the result or error.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// The function's result as JSON text parsed (Null for void).
    pub body: Value,
    /// (SQLSTATE, message) when the transaction raised (and was rolled back).
    pub error: Option<(String, String)>,
}

impl Outcome {
    pub fn set_cookie(&self, name: &str) -> Option<SetCookie> {
        set_cookie_named(
            self.headers
                .iter()
                .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
                .map(|(_, v)| v.as_str()),
            name,
        )
    }
}

/// SQLSTATE -> HTTP status, as PostgREST 12 maps them (the cases the suite meets).
fn http_status_of(sqlstate: &str, anonymous: bool) -> u16 {
    if let Some(code) = sqlstate.strip_prefix("PT") {
        return code.parse().unwrap_or(500);
    }
    match sqlstate {
        "42501" if anonymous => 401,
        "42501" => 403,
        s if s.starts_with("28") => 403,
        "P0001" => 400,
        "23503" | "23505" => 409,
        "25006" => 405,
        _ => 400,
    }
}

/// Replays PostgREST's transaction for one request on `client`: BEGIN (READ ONLY or READ WRITE),
/// the request settings and role in one statement, `auth.check_request()` (our db-pre-request),
/// `call` (an SQL expression, e.g. `auth.refresh_token($1)`, with `params`), then the response
/// settings, COMMIT — or ROLLBACK when anything raised, as PostgREST does.
pub fn postgrest_call(
    client: &mut Client,
    ctx: &RequestCtx,
    anon_role: &str,
    call: &str,
    params: &[&(dyn postgres::types::ToSql + Sync)],
) -> Outcome {
    let mode = if ctx.read_only {
        "READ ONLY"
    } else {
        "READ WRITE"
    };
    client
        .batch_execute(&format!("BEGIN ISOLATION LEVEL READ COMMITTED {mode}"))
        .expect("BEGIN");
    let result = (|| -> Result<(Value, Option<String>, Option<String>), postgres::Error> {
        for (name, value) in &ctx.settings {
            client.execute("SELECT pg_catalog.set_config($1, $2, true)", &[name, value])?;
        }
        client.execute(
            "SELECT pg_catalog.set_config('role', $1, true),
                    pg_catalog.set_config('request.jwt.claims', $2, true),
                    pg_catalog.set_config('request.method', $3, true),
                    pg_catalog.set_config('request.path', $4, true),
                    pg_catalog.set_config('request.headers', $5, true),
                    pg_catalog.set_config('request.cookies', $6, true)",
            &[
                &ctx.role,
                &ctx.claims.to_string(),
                &ctx.method,
                &ctx.path,
                &ctx.headers.to_string(),
                &ctx.cookies.to_string(),
            ],
        )?;
        client.execute("SELECT auth.check_request()", &[])?;
        let row = client.query_one(&format!("SELECT to_json(({call}))::text"), params)?;
        let text: Option<String> = row.get(0);
        let body = text
            .map(|t| serde_json::from_str(&t).expect("result is JSON"))
            .unwrap_or(Value::Null);
        let row = client.query_one(
            "SELECT nullif(current_setting('response.status', true), ''),
                    nullif(current_setting('response.headers', true), '')",
            &[],
        )?;
        Ok((body, row.get(0), row.get(1)))
    })();
    match result {
        Ok((body, status, headers)) => {
            client.batch_execute("COMMIT").expect("COMMIT");
            let headers = headers
                .map(|h| {
                    let v: Value = serde_json::from_str(&h).expect("response.headers is JSON");
                    v.as_array()
                        .expect("response.headers is an array")
                        .iter()
                        .flat_map(|o| {
                            o.as_object()
                                .expect("response.headers entries are objects")
                                .iter()
                                .map(|(k, v)| {
                                    (k.clone(), v.as_str().unwrap_or_default().to_string())
                                })
                                .collect::<Vec<_>>()
                        })
                        .collect()
                })
                .unwrap_or_default();
            Outcome {
                status: status.map_or(200, |s| s.parse().expect("response.status is a number")),
                headers,
                body,
                error: None,
            }
        }
        Err(e) => {
            client.batch_execute("ROLLBACK").expect("ROLLBACK");
            let db = e
                .as_db_error()
                .unwrap_or_else(|| panic!("{call}: not a database error: {e}"));
            let code = db.code().code().to_string();
            Outcome {
                status: http_status_of(&code, ctx.role == anon_role),
                headers: Vec::new(),
                body: Value::Null,
                error: Some((code, db.message().to_string())),
            }
        }
    }
}
