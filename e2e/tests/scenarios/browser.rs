//! Cookie sessions with PostgREST alone, in a real browser: headless Chromium driven through
//! chromedriver's W3C WebDriver API. Caddy (e2e/conf/Caddyfile.browser) only serves a static page
//! on the API's origin and proxies /rpc/* and /rest/* to a cookie-auth PostgREST with no header
//! rewriting, so the browser's own cookie jar, `Cookie`, `Origin` and `Sec-Fetch-Site` are what
//! PostgREST and the extension see. In the page: login, own rows with the HttpOnly cookie only,
//! refresh, my_sessions, logout (then anonymous). From a page of the same site on another origin
//! and from a page of another site: writes and logout with the victim's cookie, checked in the
//! database to have changed nothing. Skipped when chromium or chromedriver is not installed.

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use e2e::http::Http;
use e2e::process::Daemon;
use e2e::stack::{free_port, Stack};
use serde_json::{json, Value};

use super::common::*;

const USER: &str = "browser_demo";
const PASSWORD: &str = "browser jar password";
const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// One WebDriver session of chromedriver, deleted when dropped.
struct Browser<'a> {
    http: &'a Http,
    base: String,
    id: String,
}

impl Browser<'_> {
    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.id);
        let body = body.map(Value::to_string);
        let h = [("Content-Type", "application/json")];
        let r = self.http.send(method, &url, &h, body.as_deref());
        r.expect(200);
        r.json()["value"].clone()
    }

    fn open(&self, url: &str) {
        self.call("POST", "/url", Some(&json!({ "url": url })));
        let at = self.call("GET", "/url", None);
        assert_eq!(at.as_str(), Some(url), "the browser is at {at}");
    }

    /// Runs `fetch(url, init)` in the current page; returns {status, body, type} (status 0 and
    /// type "opaque" for a no-cors request, {error} when fetch itself failed).
    fn fetch(&self, url: &str, init: Value) -> Value {
        let script = "const [url, init, done] = arguments;
            fetch(url, init)
              .then(async r => done({status: r.status, type: r.type, body: await r.text()}))
              .catch(e => done({error: String(e)}));";
        self.call(
            "POST",
            "/execute/async",
            Some(&json!({ "script": script, "args": [url, init] })),
        )
    }
}

impl Drop for Browser<'_> {
    fn drop(&mut self) {
        let url = format!("{}/session/{}", self.base, self.id);
        let _ = self.http.try_send("DELETE", &url, &[], None);
    }
}

fn json_body(v: &Value) -> Value {
    serde_json::from_str(v["body"].as_str().unwrap_or("null"))
        .unwrap_or_else(|e| panic!("{v}: {e}"))
}

pub fn browser_cookie_session(s: &mut Stack) {
    if !Path::new(CHROMIUM).exists() || !Path::new(CHROMEDRIVER).exists() {
        eprintln!(
            "[e2e] browser_cookie_session: SKIPPED, {CHROMIUM} or {CHROMEDRIVER} missing \
             (apt-get install chromium chromium-driver, as scripts/setup.sh does)"
        );
        return;
    }
    let mut db = s.db();
    db.batch_execute(&format!(
        "CREATE ROLE authenticator_browser LOGIN NOINHERIT;
         ALTER ROLE authenticator_browser SET auth.cookie_auth = on;
         CREATE ROLE browser_member NOLOGIN IN ROLE member;
         GRANT anon, browser_member TO authenticator_browser;
         SELECT auth.grant_session_access(NULL, ARRAY['browser_member']::name[]);
         SELECT auth.grant_request_check(ARRAY['browser_member']::name[]);
         INSERT INTO auth.users (username, password, role) VALUES ('{USER}', '{PASSWORD}', 'browser_member');
         INSERT INTO api.task (owner, title) VALUES ('{USER}', 'read me in the browser');"
    ))
    .unwrap();
    let uri = format!(
        "postgresql://authenticator_browser@/postgres?host={}&port={}",
        s.pg.socket_dir().display(),
        s.pg.port
    );
    let mut alone = s.spawn_postgrest("postgrest-browser", &[("PGRST_DB_URI", &uri)]);
    let pgrst_port = alone.url.rsplit(':').next().unwrap().to_string();

    // Caddy: the page and the API on one origin, and a second port for other pages.
    let root = e2e::stack::workspace_root();
    let dir = s.dir.join("browser");
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    let port_of = |url: &str| -> u16 { url.rsplit(':').next().unwrap().parse().unwrap() };
    let taken = [
        s.pg.port,
        port_of(&s.postgrest_url),
        port_of(&s.caddy_url),
        port_of(&s.nginx_url),
        port_of(&alone.url),
    ];
    let port = free_port(&taken);
    let other = free_port(&[&taken[..], &[port]].concat());
    let conf = fs::read_to_string(root.join(e2e::stack::CADDYFILE_BROWSER))
        .unwrap()
        .replace("@@LISTEN@@", &format!("127.0.0.1:{port}"))
        .replace("@@POSTGREST@@", &format!("127.0.0.1:{pgrst_port}"))
        .replace("@@OTHER_PORT@@", &other.to_string())
        .replace("@@DIR@@", dir.to_str().unwrap())
        .replace("@@PAGES@@", root.join("e2e/conf/browser").to_str().unwrap());
    fs::write(dir.join("Caddyfile"), conf).unwrap();
    let mut caddy = Daemon::spawn(
        "caddy-browser",
        Command::new("/usr/bin/caddy")
            .args(["run", "--adapter", "caddyfile", "--config"])
            .arg(dir.join("Caddyfile"))
            .env("HOME", &dir)
            .env("XDG_CONFIG_HOME", dir.join("config"))
            .env("XDG_DATA_HOME", dir.join("data")),
        dir.join("caddy.log"),
        dir.join("caddy.pid"),
        libc::SIGTERM,
    );
    let site = format!("http://127.0.0.1:{port}");
    let same_site = format!("http://127.0.0.1:{other}");
    let cross_site = format!("http://localhost:{other}");
    caddy
        .wait_ready(Duration::from_secs(20), || {
            [format!("{site}/"), format!("{same_site}/")]
                .iter()
                .all(|u| matches!(s.http.try_send("GET", u, &[], None), Ok(r) if r.status == 200))
        })
        .unwrap();

    // chromedriver, then one browser session.
    let wd_port = free_port(&[&taken[..], &[port, other]].concat());
    let mut driver = Daemon::spawn(
        "chromedriver",
        Command::new(CHROMEDRIVER).arg(format!("--port={wd_port}")),
        dir.join("chromedriver.log"),
        dir.join("chromedriver.pid"),
        libc::SIGTERM,
    );
    let wd = format!("http://127.0.0.1:{wd_port}");
    driver
        .wait_ready(Duration::from_secs(20), || {
            matches!(s.http.try_send("GET", &format!("{wd}/status"), &[], None), Ok(r) if r.status == 200)
        })
        .unwrap();
    let caps = json!({"capabilities": {"alwaysMatch": {"goog:chromeOptions": {
        "binary": CHROMIUM,
        "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 format!("--user-data-dir={}", dir.join("profile").display())]
    }}}});
    let r = s
        .http
        .post_json(&format!("{wd}/session"), &[], &caps.to_string());
    r.expect(200);
    let id = r.json()["value"]["sessionId"].as_str().unwrap().to_string();
    let b = Browser {
        http: &s.http,
        base: wd.clone(),
        id,
    };

    let tasks = |db: &mut postgres::Client| {
        int(
            db,
            "SELECT count(*) FROM api.task WHERE owner = $1",
            &[&USER],
        )
    };
    let sessions_live = |db: &mut postgres::Client| {
        int(
            db,
            "SELECT count(*) FROM auth.sessions WHERE username = $1 AND revoked_at IS NULL",
            &[&USER],
        )
    };
    let post = |body: &Value, profile: bool| {
        let mut h = json!({"Content-Type": "application/json"});
        if profile {
            h["Content-Profile"] = json!("auth");
        }
        json!({"method": "POST", "headers": h, "body": body.to_string()})
    };

    // --- The site's own page ---
    b.open(&format!("{site}/"));
    let r = b.fetch("/rest/task", json!({}));
    assert_eq!(r["status"], 401, "anonymous before login: {r}");

    let r = b.fetch(
        "/rpc/login",
        post(&json!({"username": USER, "password": PASSWORD}), true),
    );
    assert_eq!(r["status"], 200, "login: {r}");
    // The cookies are HttpOnly: the page's script cannot see them.
    let seen = b.call(
        "POST",
        "/execute/sync",
        Some(&json!({"script": "return document.cookie", "args": []})),
    );
    assert_eq!(seen, json!(""), "HttpOnly cookies hidden from script");
    assert_eq!(sessions_live(&mut db), 1);

    // The browser's cookie alone reads the user's own rows, as the user's role.
    let r = b.fetch("/rest/task?select=owner,title", json!({}));
    assert_eq!(r["status"], 200, "{r}");
    assert_eq!(
        json_body(&r),
        json!([{"owner": USER, "title": "read me in the browser"}]),
        "{r}"
    );
    let r = b.fetch("/rpc/whoami", json!({}));
    assert_eq!(r["status"], 200, "{r}");
    let who = json_body(&r);
    assert_eq!(who["current_user"], "browser_member", "{r}");
    assert_eq!(who["uid"], USER, "{r}");

    // A write from the site's page.
    let r = b.fetch(
        "/rest/task",
        post(&json!({"title": "written in the browser"}), false),
    );
    assert_eq!(r["status"], 201, "{r}");
    assert_eq!(tasks(&mut db), 2);

    // Refresh rotates the refresh token; the new cookies still read.
    let spent_before = int(
        &mut db,
        "SELECT count(*) FROM auth.refresh_tokens WHERE spent_at IS NOT NULL",
        &[],
    );
    let r = b.fetch("/rpc/refresh_token", post(&json!({}), true));
    assert_eq!(r["status"], 200, "refresh: {r}");
    assert_eq!(
        int(
            &mut db,
            "SELECT count(*) FROM auth.refresh_tokens WHERE spent_at IS NOT NULL",
            &[],
        ),
        spent_before + 1,
        "the old refresh token is spent"
    );
    let r = b.fetch("/rest/task?select=title", json!({}));
    assert_eq!(r["status"], 200, "{r}");
    assert_eq!(json_body(&r).as_array().map(Vec::len), Some(2), "{r}");

    // my_sessions: a GET in the auth schema.
    let r = b.fetch(
        "/rpc/my_sessions",
        json!({"headers": {"Accept-Profile": "auth"}}),
    );
    assert_eq!(r["status"], 200, "my_sessions: {r}");
    let list = json_body(&r);
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{r}");

    // --- A page of the same site on another origin (127.0.0.1, another port) ---
    // SameSite=Lax lets the browser send the cookie; Sec-Fetch-Site: same-site is refused.
    b.open(&format!("{same_site}/"));
    let r = b.fetch(
        &format!("{site}/rest/task"),
        json!({"method": "POST", "mode": "no-cors", "credentials": "include",
               "headers": {"Content-Type": "application/x-www-form-urlencoded"},
               "body": "title=forged+same-site"}),
    );
    assert!(r.get("error").is_none(), "{r}");
    let r = b.fetch(
        &format!("{site}/rpc/logout"),
        json!({"method": "POST", "mode": "no-cors", "credentials": "include",
               "headers": {"Content-Type": "text/plain"}, "body": "{}"}),
    );
    assert!(r.get("error").is_none(), "{r}");
    // With the Content-Profile header the request is not simple: the browser asks first
    // (OPTIONS) and, refused, never sends the POST.
    let r = b.fetch(
        &format!("{site}/rpc/logout"),
        json!({"method": "POST", "credentials": "include",
               "headers": {"Content-Type": "application/json", "Content-Profile": "auth"},
               "body": "{}"}),
    );
    assert!(
        r["error"]
            .as_str()
            .is_some_and(|e| e.contains("Failed to fetch")),
        "{r}"
    );

    // --- A page of another site (localhost is another site than 127.0.0.1) ---
    b.open(&format!("{cross_site}/"));
    let r = b.fetch(
        &format!("{site}/rest/task"),
        json!({"method": "POST", "mode": "no-cors", "credentials": "include",
               "headers": {"Content-Type": "application/x-www-form-urlencoded"},
               "body": "title=forged+cross-site"}),
    );
    assert!(r.get("error").is_none(), "{r}");
    let r = b.fetch(
        &format!("{site}/rpc/logout"),
        json!({"method": "POST", "mode": "no-cors", "credentials": "include",
               "headers": {"Content-Type": "text/plain"}, "body": "{}"}),
    );
    assert!(r.get("error").is_none(), "{r}");
    // With the Content-Profile header the request is not simple: the browser asks first
    // (OPTIONS) and, refused, never sends the POST.
    let r = b.fetch(
        &format!("{site}/rpc/logout"),
        json!({"method": "POST", "credentials": "include",
               "headers": {"Content-Type": "application/json", "Content-Profile": "auth"},
               "body": "{}"}),
    );
    assert!(
        r["error"]
            .as_str()
            .is_some_and(|e| e.contains("Failed to fetch")),
        "{r}"
    );

    // Nothing was written and the session is live.
    assert_eq!(tasks(&mut db), 2, "no forged task");
    assert_eq!(sessions_live(&mut db), 1, "the session was not ended");

    // What the browser sent for those four requests (Caddy's access log; Cookie is logged as
    // REDACTED when present).
    let log = fs::read_to_string(dir.join("access.log")).unwrap();
    let forged: Vec<Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| {
            let req = &e["request"];
            req["method"] == "POST"
                && req["headers"]["Origin"][0]
                    .as_str()
                    .is_some_and(|o| o != site)
        })
        .collect();
    let summary: Vec<Value> = forged
        .iter()
        .map(|e| {
            let h = &e["request"]["headers"];
            json!({"uri": e["request"]["uri"], "origin": h["Origin"][0],
                   "sec_fetch_site": h["Sec-Fetch-Site"][0],
                   "cookie": !h["Cookie"].is_null(), "status": e["status"]})
        })
        .collect();
    eprintln!("[e2e] browser_cookie_session: requests from the other pages: {summary:#?}");
    // Same site, another origin: SameSite=Lax lets the cookie go, Sec-Fetch-Site: same-site is
    // refused by auth (PT403) on the write; the logout without Content-Profile lands in the api
    // schema, which has no logout (404). Another site: no cookie at all (Lax), so anonymous.
    let want = [
        ("/rest/task", same_site.as_str(), "same-site", true, 403),
        ("/rpc/logout", same_site.as_str(), "same-site", true, 404),
        ("/rest/task", cross_site.as_str(), "cross-site", false, 401),
        ("/rpc/logout", cross_site.as_str(), "cross-site", false, 404),
    ];
    assert_eq!(summary.len(), want.len(), "{summary:#?}");
    for (e, (uri, origin, fetch_site, cookie, status)) in summary.iter().zip(want) {
        let got = (
            e["uri"].as_str().unwrap_or(""),
            e["origin"].as_str().unwrap_or(""),
            e["sec_fetch_site"].as_str().unwrap_or(""),
            e["cookie"].as_bool().unwrap_or(false),
            e["status"].as_u64().unwrap_or(0),
        );
        assert_eq!(
            got,
            (uri, origin, fetch_site, cookie, status),
            "{summary:#?}"
        );
    }

    // --- Back on the site: logout, then the next read is anonymous ---
    b.open(&format!("{site}/"));
    let r = b.fetch("/rpc/logout", post(&json!({}), true));
    assert_eq!(r["status"], 204, "logout: {r}");
    assert_eq!(sessions_live(&mut db), 0);
    let r = b.fetch("/rest/task", json!({}));
    assert_eq!(r["status"], 401, "anonymous after logout: {r}");
    let r = b.fetch("/rpc/whoami", json!({}));
    assert_eq!(json_body(&r)["current_user"], "anon", "{r}");

    drop(b);
    assert!(caddy.alive(), "{}", caddy.log_tail(4000));
    assert!(driver.alive(), "{}", driver.log_tail(4000));
    alone.assert_alive();
}
