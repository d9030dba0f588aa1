//! Child processes with bounded lifetimes: one-shot commands with a deadline, daemons stopped by
//! a Drop guard (also when a test panics), and a watchdog that stops every daemon and exits if the
//! whole suite overruns its budget.

use std::fs::{self, File};
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

/// Every live daemon: (name, pid, signal that stops it). The watchdog reads it.
static LIVE: Mutex<Vec<(String, i32, i32)>> = Mutex::new(Vec::new());

fn live() -> std::sync::MutexGuard<'static, Vec<(String, i32, i32)>> {
    LIVE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Sends `sig` to `pid` (no-op for pids that are gone).
pub fn signal(pid: i32, sig: i32) {
    if pid > 0 {
        // SAFETY: kill(2) with a positive pid of a process we started.
        unsafe {
            libc::kill(pid, sig);
        }
    }
}

/// A command run as the `postgres` OS user (initdb and the server refuse root): its uid and gid,
/// no supplementary groups (std drops them when it sets the uid).
pub fn as_postgres(program: impl AsRef<Path>) -> Command {
    let (uid, gid) = postgres_ids();
    let mut c = Command::new(program.as_ref());
    c.uid(uid).gid(gid);
    c
}

/// The uid and gid of the `postgres` OS user.
pub fn postgres_ids() -> (u32, u32) {
    // SAFETY: getpwnam with a NUL-terminated name; the fields are copied before any other call.
    let pw = unsafe { libc::getpwnam(c"postgres".as_ptr()) };
    assert!(
        !pw.is_null(),
        "no `postgres` OS user (apt-get install postgresql-15)"
    );
    unsafe { ((*pw).pw_uid, (*pw).pw_gid) }
}

/// The result of a finished one-shot command.
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// Runs a command to completion within `timeout` (killed and reported past it). Output goes to
/// files under `scratch` (pipes could fill up while we poll). Panics when it cannot start or
/// times out; the caller judges the exit status.
pub fn run(cmd: &mut Command, what: &str, scratch: &Path, timeout: Duration) -> Finished {
    let out_path = scratch.join(format!("{}.stdout", slug(what)));
    let err_path = scratch.join(format!("{}.stderr", slug(what)));
    let out = File::create(&out_path).expect("create stdout file");
    let err = File::create(&err_path).expect("create stderr file");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .unwrap_or_else(|e| panic!("{what}: cannot start {cmd:?}: {e}"));
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{what}: still running after {timeout:?}, killed; stderr: {}",
                read_lossy(&err_path)
            );
        }
        thread::sleep(Duration::from_millis(20));
    };
    Finished {
        status,
        stdout: read_lossy(&out_path),
        stderr: read_lossy(&err_path),
    }
}

/// `run`, and panic unless the command exits 0.
pub fn run_ok(cmd: &mut Command, what: &str, scratch: &Path, timeout: Duration) -> Finished {
    let f = run(cmd, what, scratch, timeout);
    assert!(
        f.status.success(),
        "{what} failed ({}):\n{}\n{}",
        f.status,
        f.stdout,
        f.stderr
    );
    f
}

fn slug(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

fn read_lossy(p: &Path) -> String {
    fs::read(p)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

/// A long-running child (PostgreSQL, PostgREST, Caddy, nginx), stopped when dropped: its stop
/// signal, up to 10 s for it to exit, then SIGKILL. Its stdout and stderr go to `log`; its pid is
/// written to `pidfile` so that a later run can stop it if this process dies without unwinding.
pub struct Daemon {
    pub name: String,
    child: Child,
    pub log: PathBuf,
    pidfile: PathBuf,
    stop_signal: i32,
}

impl Daemon {
    pub fn spawn(
        name: &str,
        cmd: &mut Command,
        log: PathBuf,
        pidfile: PathBuf,
        stop_signal: i32,
    ) -> Daemon {
        let out = File::create(&log).expect("create daemon log");
        let err = out.try_clone().expect("clone log handle");
        // Should this process die without unwinding (SIGKILL), the kernel sends the daemon its
        // stop signal. Set after the uid change (std runs pre_exec last), so that it survives exec.
        // SAFETY: prctl is async-signal-safe; nothing else runs in the forked child.
        unsafe {
            cmd.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, stop_signal as libc::c_ulong) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} ({cmd:?}): {e}"));
        let pid = child.id() as i32;
        fs::write(&pidfile, pid.to_string()).expect("write pid file");
        live().push((name.to_string(), pid, stop_signal));
        Daemon {
            name: name.to_string(),
            child,
            log,
            pidfile,
            stop_signal,
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The last `max` bytes of the log, for failure messages.
    pub fn log_tail(&self, max: u64) -> String {
        tail(&self.log, max)
    }

    /// Waits until `ready()` holds, at most `timeout`. Err (with the log's tail) when the process
    /// exits first or the time runs out.
    pub fn wait_ready(
        &mut self,
        timeout: Duration,
        mut ready: impl FnMut() -> bool,
    ) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        loop {
            if !self.alive() {
                return Err(format!(
                    "{} exited during start-up; log {}:\n{}",
                    self.name,
                    self.log.display(),
                    self.log_tail(4000)
                ));
            }
            if ready() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "{} not ready after {timeout:?}; log {}:\n{}",
                    self.name,
                    self.log.display(),
                    self.log_tail(4000)
                ));
            }
            thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let pid = self.pid();
        if self.alive() {
            signal(pid, self.stop_signal);
            let deadline = Instant::now() + Duration::from_secs(10);
            while self.alive() && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(20));
            }
            if self.alive() {
                eprintln!("[e2e] {} did not stop in 10 s: SIGKILL", self.name);
                let _ = self.child.kill();
            }
        }
        let _ = self.child.wait();
        let _ = fs::remove_file(&self.pidfile);
        live().retain(|(_, p, _)| *p != pid);
    }
}

/// Reads the tail of a file (lossy UTF-8).
pub fn tail(path: &Path, max: u64) -> String {
    let Ok(mut f) = File::open(path) else {
        return String::new();
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = f.seek(SeekFrom::Start(len.saturating_sub(max)));
    let mut buf = Vec::new();
    let _ = f.read_to_end(&mut buf);
    String::from_utf8_lossy(&buf).into_owned()
}

/// Stops a process a previous run left behind: the pid in `pidfile`, only if its command line
/// still mentions `marker` (our scratch directory), so an unrelated process that reused the pid
/// is never touched.
pub fn stop_leftover(pidfile: &Path, marker: &str, sig: i32) {
    let Ok(text) = fs::read_to_string(pidfile) else {
        return;
    };
    let Some(pid) = text
        .lines()
        .next()
        .and_then(|l| l.trim().parse::<i32>().ok())
    else {
        return;
    };
    let cmdline = fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
        .unwrap_or_default();
    if pid > 0 && cmdline.contains(marker) {
        eprintln!("[e2e] stopping a process left over by an earlier run (pid {pid})");
        signal(pid, sig);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(50));
        }
        if Path::new(&format!("/proc/{pid}")).exists() {
            signal(pid, libc::SIGKILL);
            thread::sleep(Duration::from_millis(200));
        }
    }
}

/// Stops every daemon and exits the process when not dropped within `limit`: the last line of
/// defence against a hang (every wait in the suite is bounded already).
pub struct Watchdog {
    _cancel: Sender<()>,
}

impl Watchdog {
    pub fn start(limit: Duration) -> Watchdog {
        let (tx, rx) = mpsc::channel::<()>();
        thread::spawn(move || {
            if let Err(RecvTimeoutError::Timeout) = rx.recv_timeout(limit) {
                eprintln!("[e2e] watchdog: the suite ran over {limit:?}; stopping the stack");
                let procs: Vec<_> = live().clone();
                for (name, pid, sig) in &procs {
                    eprintln!("[e2e] watchdog: stopping {name} (pid {pid})");
                    signal(*pid, *sig);
                }
                thread::sleep(Duration::from_secs(5));
                for (_, pid, _) in &procs {
                    signal(*pid, libc::SIGKILL);
                }
                std::process::exit(101);
            }
        });
        Watchdog { _cancel: tx }
    }
}
