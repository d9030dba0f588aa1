//! Durability: `pg_dump` of a database holding the extension with users, sessions, refresh
//! tokens, API tokens, API keys and throttling state, restored with `pg_restore` into a fresh
//! database: every table comes back row for row (each is registered with
//! pg_extension_config_dump), and every login and credential works there as it did before.
//! Also the upgrade path: there is no previous released version yet (0.1.0 is the first), which
//! this checks so that a second version cannot ship without its ALTER EXTENSION UPDATE test.

use std::fs;

use e2e::db::{postgrest_call, Outcome, RequestCtx};
use e2e::jwt_claims;
use e2e::stack::{chown_postgres, Stack, ANON};
use postgres::Client;
use serde_json::Value;

use super::common::*;

const SRC: &str = "e2e_dump_src";
/// Tables the extension script fills and nothing writes afterwards (not dumped, see dump_restore).
const STATIC_TABLES: [&str; 1] = ["auth_private.login_locks"];
/// What the extension leaves out of a dump on purpose: pending one-time tokens and the outbox
/// messages that carry them (docs/accounts.md: nothing pending is worth restoring; a user asks
/// again). The restored database has none.
const PENDING_TABLES: [&str; 3] = ["auth.one_time_tokens", "auth.outbox", "auth.outbox_id_seq"];
const COPY: &str = "e2e_dump_copy";

fn anon(function: &str) -> RequestCtx {
    RequestCtx::anon_rpc(ANON, function)
}

fn login(c: &mut Client, user: &str, password: &str) -> Outcome {
    postgrest_call(
        c,
        &anon("login"),
        ANON,
        "auth.login($1, $2)",
        &[&user, &password],
    )
}

fn refresh(c: &mut Client, token: &str, ctx: RequestCtx) -> Outcome {
    postgrest_call(
        c,
        &ctx.cookie("refresh_token", token),
        ANON,
        "auth.refresh_token()",
        &[],
    )
}

fn cookie(o: &Outcome, name: &str) -> String {
    o.set_cookie(name)
        .filter(|c| !c.value.is_empty())
        .unwrap_or_else(|| panic!("no {name} cookie: {o:?}"))
        .value
}

fn check(c: &mut Client, claims: &Value, proxy_secret: &str) -> Option<String> {
    let ctx = anon("whoami")
        .with_claims(claims.clone())
        .header("x-proxy-secret", proxy_secret);
    postgrest_call(c, &ctx, ANON, "true", &[])
        .error
        .map(|(code, m)| format!("{code}: {m}"))
}

fn exchange(c: &mut Client, key: &str, proxy_secret: &str) -> Outcome {
    let ctx = anon("exchange_api_key")
        .header("x-api-key", key)
        .header("x-proxy-secret", proxy_secret);
    postgrest_call(c, &ctx, ANON, "auth.exchange_api_key()", &[])
}

/// Every table of schema auth with its rows as JSON, in a stable order.
fn snapshot(c: &mut Client) -> Vec<(String, Value)> {
    let tables: Vec<String> = c
        .query(
            "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'auth' AND c.relkind IN ('r', 'p') ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    tables
        .into_iter()
        .map(|t| {
            let rows: Value = c
                .query_one(
                    &format!(
                        "SELECT coalesce(jsonb_agg(to_jsonb(x) ORDER BY to_jsonb(x)::text), '[]')
                         FROM auth.{t} x"
                    ),
                    &[],
                )
                .unwrap()
                .get(0);
            (t, rows)
        })
        .collect()
}

fn drop_databases(admin: &mut Client) {
    for db in [SRC, COPY] {
        admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
            .unwrap();
    }
}

pub fn dump_restore(s: &mut Stack) {
    let secret = s.proxy_secret.clone();
    let mut admin = s.db();
    drop_databases(&mut admin);
    admin
        .batch_execute(&format!("CREATE DATABASE {SRC}"))
        .unwrap();
    let mut src = s.pg.connect(SRC);
    // The extension and the documented grants (per database); the grants must survive too, every
    // call below runs as PostgREST's roles.
    src.batch_execute(
        "CREATE EXTENSION auth;
         SELECT auth.grant_session_access('anon', ARRAY['member']::name[]);
         SELECT auth.grant_request_check(ARRAY['anon', 'member', 'tokenauthed', 'web_trial', 'web_paid']::name[]);
         GRANT EXECUTE ON FUNCTION auth.exchange_api_key(text) TO anon;",
    )
    .unwrap();

    // Every table (and sequence) of the extension is dumped with its data, except the tables
    // whose rows the extension script itself writes and nothing changes afterwards: CREATE
    // EXTENSION in the restored database writes them again (dumping them too would insert them
    // twice). auth_private.login_locks holds the 256 lock rows of password checks for unknown
    // usernames. Pending one-time tokens and their outbox are left out by design.
    let unregistered: Vec<String> = src
        .query(
            "SELECT c.oid::regclass::text FROM pg_class c
             JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e'
             JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'auth'
             WHERE c.relkind IN ('r', 'p', 'S') AND c.oid <> ALL (coalesce(e.extconfig, '{}'))
               AND c.oid::regclass::text <> ALL ($1::text[])
             ORDER BY 1",
            &[&[&STATIC_TABLES[..], &PENDING_TABLES[..]].concat()],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(
        unregistered.is_empty(),
        "extension tables not registered with pg_extension_config_dump (their rows would be lost \
         by pg_dump): {unregistered:?}"
    );

    // The state to carry over.
    src.batch_execute(
        "INSERT INTO auth.users (username, password, role) VALUES
             ('keeper', 'keeper password', 'member'),
             ('leaver', 'leaver password', 'member')",
    )
    .unwrap();
    let o = login(&mut src, "keeper", "keeper password");
    let access = cookie(&o, "access_token");
    let first_refresh = cookie(&o, "refresh_token");
    let sid = jwt_claims(&access)["sid"].as_str().unwrap().to_string();
    // Rotated once: the first token is spent, the second live.
    let live_refresh = cookie(
        &refresh(&mut src, &first_refresh, anon("refresh_token")),
        "refresh_token",
    );
    // A logged-out session.
    let o = login(&mut src, "leaver", "leaver password");
    let leaver_refresh = cookie(&o, "refresh_token");
    let leaver_claims = jwt_claims(&cookie(&o, "access_token"));
    let o = postgrest_call(
        &mut src,
        &anon("logout").cookie("refresh_token", &leaver_refresh),
        ANON,
        "auth.logout()",
        &[],
    );
    assert_eq!(o.error, None);
    // Two failed logins (throttling state).
    for _ in 0..2 {
        assert_eq!(login(&mut src, "keeper", "wrong").status, 401);
    }
    let api_token = text(
        &mut src,
        "SELECT auth.create_api_token('kept', 'tokenauthed', NULL, '{\"sub\": \"org-a\"}')",
        &[],
    );
    let revoked_token = text(
        &mut src,
        "SELECT auth.create_api_token('gone', 'tokenauthed', NULL, '{\"sub\": \"org-a\"}')",
        &[],
    );
    src.execute(
        "SELECT auth.revoke_api_token($1::text::uuid)",
        &[&jwt_claims(&revoked_token)["tid"].as_str().unwrap()],
    )
    .unwrap();
    let key = text(
        &mut src,
        "SELECT auth.create_api_key('web_paid', 'pro', NULL, 'kept key')",
        &[],
    );
    let disabled_key = text(
        &mut src,
        "SELECT auth.create_api_key('web_trial', 'free_trial')",
        &[],
    );
    src.execute(
        "SELECT auth.disable_api_key(id) FROM auth.api_keys WHERE key_hash = sha256(convert_to($1, 'UTF8'))",
        &[&disabled_key],
    )
    .unwrap();
    let exchanged = exchange(&mut src, &key, &secret);
    let key_jwt = exchanged.body["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("exchange: {exchanged:?}"))
        .to_string();
    let before = snapshot(&mut src);
    for (table, rows) in &before {
        if [
            "users",
            "sessions",
            "refresh_tokens",
            "api_tokens",
            "api_keys",
            "login_failures",
        ]
        .contains(&table.as_str())
        {
            assert!(
                rows.as_array().is_some_and(|r| !r.is_empty()),
                "{table} has rows to dump"
            );
        }
    }
    drop(src);

    // pg_dump -Fc, pg_restore into a fresh database, as postgres.
    let dump_dir = s.dir.join("dump");
    fs::create_dir_all(&dump_dir).unwrap();
    chown_postgres(&dump_dir);
    let file = dump_dir.join("auth.dump");
    let file = file.to_str().unwrap();
    s.pg_tool("pg_dump", &["-Fc", "-d", SRC, "-f", file]);
    admin
        .batch_execute(&format!("CREATE DATABASE {COPY}"))
        .unwrap();
    s.pg_tool("pg_restore", &["--exit-on-error", "-d", COPY, file]);

    let mut copy = s.pg.connect(COPY);
    let after = snapshot(&mut copy);
    // The stored password hashes first, by themselves: a restore that changes them (a trigger
    // taking each dumped hash for a password and hashing it again) locks every user out.
    let users = |rows: &[(String, Value)]| rows.iter().find(|(t, _)| t == "users").cloned();
    assert_eq!(
        users(&after),
        users(&before),
        "auth.users: the restore changed the stored password hashes, so no user can log in \
         after pg_restore (auth_private._users_before_write hashes every written password, \
         the dumped bcrypt hashes included)"
    );
    assert_eq!(
        after.iter().map(|(t, _)| t).collect::<Vec<_>>(),
        before.iter().map(|(t, _)| t).collect::<Vec<_>>(),
        "same tables"
    );
    for ((table, a), (_, b)) in after.iter().zip(&before) {
        assert_eq!(a, b, "auth.{table} restored row for row");
    }

    // The static tables come back from CREATE EXTENSION, once.
    assert_eq!(
        int(
            &mut copy,
            "SELECT count(*) FROM auth_private.login_locks",
            &[]
        ),
        256,
        "auth_private.login_locks restored by CREATE EXTENSION"
    );

    // Everything works in the copy as it did in the original.
    let o = login(&mut copy, "keeper", "keeper password");
    assert_eq!(o.status, 200, "login after restore: {o:?}");
    let o = login(&mut copy, "nobody-restored", "any password");
    assert_eq!(
        o.status, 401,
        "an unknown user (a lock row of login_locks): {o:?}"
    );
    assert_eq!(
        check(&mut copy, &jwt_claims(&access), &secret),
        None,
        "the session's access token"
    );
    let next = cookie(
        &refresh(&mut copy, &live_refresh, anon("refresh_token")),
        "refresh_token",
    );
    assert_ne!(next, live_refresh);
    assert_eq!(
        check(&mut copy, &jwt_claims(&api_token), &secret),
        None,
        "API token"
    );
    assert_eq!(
        check(&mut copy, &jwt_claims(&revoked_token), &secret).as_deref(),
        Some("PT401: API token revoked, expired or unknown"),
        "a revoked API token stays revoked"
    );
    assert_eq!(
        check(&mut copy, &jwt_claims(&key_jwt), &secret),
        None,
        "JWT of an API key"
    );
    let o = exchange(&mut copy, &key, &secret);
    assert_eq!(o.error, None, "API key exchange after restore: {o:?}");
    let c = jwt_claims(o.body["access_token"].as_str().unwrap());
    assert_eq!(
        (c["role"].as_str(), c["plan"].as_str()),
        (Some("web_paid"), Some("pro"))
    );
    assert_eq!(
        exchange(&mut copy, &disabled_key, &secret).error,
        Some(("PT401".to_string(), "Invalid API key".to_string())),
        "a disabled key stays disabled"
    );
    assert_eq!(
        check(&mut copy, &leaver_claims, &secret).as_deref(),
        Some("PT401: session ended: log in again"),
        "a logged-out session stays logged out"
    );
    assert_eq!(
        refresh(&mut copy, &leaver_refresh, anon("refresh_token")).status,
        401
    );
    // Reuse detection survives too: the spent first token revokes the session.
    let o = refresh(
        &mut copy,
        &first_refresh,
        anon("refresh_token").setting("auth.refresh_reuse_interval", "0"),
    );
    assert_eq!(o.status, 401, "{o:?}");
    let revoked: bool = copy
        .query_one(
            "SELECT revoked_at IS NOT NULL FROM auth.sessions WHERE id = $1::text::uuid",
            &[&sid],
        )
        .unwrap()
        .get(0);
    assert!(
        revoked,
        "reuse of a spent token revokes the restored session"
    );
    drop(copy);
    drop_databases(&mut admin);
}

/// The versions of auth the server offers: 0.2.0 is the one this build installs, and the update
/// script from the released 0.1.0 ships with it (pg_extension_update_paths: 0.1.0 -> 0.2.0 in one
/// step). 0.1.0 is offered too while its released install script sits in PostgreSQL's shared
/// extension directory (an upgrade test puts it there; this build does not). This suite does not
/// run ALTER EXTENSION auth UPDATE itself. When a third version appears, this fails until its
/// upgrade is tested and this check updated.
pub fn extension_versions(s: &mut Stack) {
    let mut db = s.db();
    let versions: Vec<String> = db
        .query(
            "SELECT version FROM pg_available_extension_versions WHERE name = 'auth' ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(
        versions.iter().any(|v| v == "0.2.0")
            && versions.iter().all(|v| v == "0.1.0" || v == "0.2.0"),
        "versions of auth offered: {versions:?}; another version of auth is installable: test \
         its upgrade path (install the old version, fill it, ALTER EXTENSION auth UPDATE, \
         compare) and update this check"
    );
    let paths: Vec<(String, String, String)> = db
        .query(
            "SELECT source, target, path FROM pg_extension_update_paths('auth')
             WHERE path IS NOT NULL ORDER BY 1, 2",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(
        paths,
        [(
            "0.1.0".to_string(),
            "0.2.0".to_string(),
            "0.1.0--0.2.0".to_string()
        )],
        "the one update path: the script auth--0.1.0--0.2.0.sql"
    );
    let installed = text(
        &mut db,
        "SELECT extversion FROM pg_extension WHERE extname = 'auth'",
        &[],
    );
    assert_eq!(installed, "0.2.0");
}
