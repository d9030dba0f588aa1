//! Mail for the account scenarios: a tiny SMTP sink on loopback that keeps every message it is
//! given, and the documented mailer, `examples/mailer.py`, run as a child process that reads
//! `auth.outbox` and sends to that sink.

use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::process::Daemon;
use crate::stack::{workspace_root, Stack};

/// The interpreter the mailer runs with: Debian's, for which `python3-psycopg` installs psycopg 3
/// (scripts/setup.sh); a `python3` earlier on PATH may lack it.
pub const PYTHON: &str = "/usr/bin/python3";

/// The mailer the documentation shows.
pub const MAILER: &str = "examples/mailer.py";

/// One message as the sink received it.
#[derive(Clone, Debug)]
pub struct Mail {
    /// The reverse path of `MAIL FROM:<...>`.
    pub from: String,
    /// The forward paths of every `RCPT TO:<...>`.
    pub to: Vec<String>,
    /// Everything between DATA and the final dot, dot-stuffing undone, CRLF line ends.
    pub data: String,
}

impl Mail {
    /// A header's value (name case-insensitive; folded lines joined).
    pub fn header(&self, name: &str) -> Option<String> {
        let (head, _) = self.split();
        let mut value: Option<String> = None;
        for line in head.split("\r\n") {
            if line.starts_with([' ', '\t']) {
                if let Some(v) = value.as_mut() {
                    v.push_str(line);
                }
                continue;
            }
            if value.is_some() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                if k.trim().eq_ignore_ascii_case(name) {
                    value = Some(v.trim().to_string());
                }
            }
        }
        value
    }

    /// The body as a mail client shows it: quoted-printable decoded (7bit and 8bit as they are).
    pub fn text(&self) -> String {
        let (_, body) = self.split();
        let cte = self
            .header("Content-Transfer-Encoding")
            .unwrap_or_default()
            .to_ascii_lowercase();
        match cte.as_str() {
            "" | "7bit" | "8bit" => body.replace("\r\n", "\n"),
            "quoted-printable" => decode_quoted_printable(body),
            other => panic!("the sink reads no {other} body: {}", self.data),
        }
    }

    /// The token of the link in the body (`...#token=<token>`).
    pub fn token(&self) -> String {
        let text = self.text();
        let (_, rest) = text
            .split_once("#token=")
            .unwrap_or_else(|| panic!("no #token= in the mail:\n{text}"));
        rest.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect()
    }

    fn split(&self) -> (&str, &str) {
        self.data
            .split_once("\r\n\r\n")
            .unwrap_or((self.data.as_str(), ""))
    }
}

fn decode_quoted_printable(body: &str) -> String {
    let mut out = Vec::new();
    for line in body.split("\r\n") {
        let (line, soft) = match line.strip_suffix('=') {
            Some(l) => (l, true),
            None => (line, false),
        };
        let b = line.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'=' && i + 2 < b.len() {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("");
                if let Ok(v) = u8::from_str_radix(hex, 16) {
                    out.push(v);
                    i += 3;
                    continue;
                }
            }
            out.push(b[i]);
            i += 1;
        }
        if !soft {
            out.push(b'\n');
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// An SMTP server on a loopback port that accepts every message (220, 250, 354, 250, 221) and
/// keeps it, but for recipients it was told to refuse (550, as for an unknown mailbox); stopped
/// when dropped.
pub struct SmtpSink {
    pub port: u16,
    mails: Arc<Mutex<Vec<Mail>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Default for SmtpSink {
    fn default() -> Self {
        Self::start()
    }
}

impl SmtpSink {
    pub fn start() -> SmtpSink {
        Self::refusing(&[])
    }

    /// A sink that answers 550 to `RCPT TO` these addresses.
    pub fn refusing(addresses: &[&str]) -> SmtpSink {
        let refused: Vec<String> = addresses.iter().map(|a| a.to_string()).collect();
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the SMTP sink");
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let mails = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (mails, stop) = (mails.clone(), stop.clone());
            thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            if let Err(e) = serve(stream, &mails, &refused) {
                                eprintln!("[e2e] SMTP sink: a session failed: {e}");
                            }
                        }
                        Err(e) if e.kind() == ErrorKind::WouldBlock => {
                            thread::sleep(Duration::from_millis(10))
                        }
                        Err(e) => panic!("SMTP sink accept: {e}"),
                    }
                }
            })
        };
        SmtpSink {
            port,
            mails,
            stop,
            thread: Some(thread),
        }
    }

    /// Every message received so far.
    pub fn mails(&self) -> Vec<Mail> {
        self.mails.lock().unwrap().clone()
    }

    /// How many messages went to `address`.
    pub fn count_to(&self, address: &str) -> usize {
        self.mails()
            .iter()
            .filter(|m| m.to.iter().any(|t| t == address))
            .count()
    }

    /// The first message to `address`, waiting for it at most `timeout`; panics without one.
    #[track_caller]
    pub fn wait_for(&self, address: &str, timeout: Duration) -> Mail {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(m) = self
                .mails()
                .into_iter()
                .find(|m| m.to.iter().any(|t| t == address))
            {
                return m;
            }
            assert!(
                Instant::now() < deadline,
                "no mail to {address} within {timeout:?}; received: {:?}",
                self.mails().iter().map(|m| &m.to).collect::<Vec<_>>()
            );
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One SMTP session: greeting, commands until QUIT (or the client hangs up).
fn serve(stream: TcpStream, mails: &Mutex<Vec<Mail>>, refused: &[String]) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut out = stream.try_clone()?;
    let mut input = BufReader::new(stream);
    let path = |arg: &str| -> String {
        let arg = arg.trim();
        arg.split_once('<')
            .and_then(|(_, r)| r.split_once('>'))
            .map(|(p, _)| p.to_string())
            .unwrap_or_else(|| arg.to_string())
    };
    out.write_all(b"220 e2e-sink ESMTP\r\n")?;
    let (mut from, mut to) = (String::new(), Vec::new());
    let mut line = String::new();
    loop {
        line.clear();
        if input.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let cmd = line.trim_end();
        let verb = cmd.get(..4).unwrap_or(cmd).to_ascii_uppercase();
        match verb.as_str() {
            "EHLO" | "HELO" => out.write_all(b"250 e2e-sink\r\n")?,
            "MAIL" => {
                from = path(cmd.split_once(':').map_or("", |(_, a)| a));
                to.clear();
                out.write_all(b"250 OK\r\n")?;
            }
            "RCPT" => {
                let rcpt = path(cmd.split_once(':').map_or("", |(_, a)| a));
                if refused.contains(&rcpt) {
                    out.write_all(b"550 5.1.1 no such mailbox\r\n")?;
                } else {
                    to.push(rcpt);
                    out.write_all(b"250 OK\r\n")?;
                }
            }
            "DATA" => {
                out.write_all(b"354 end with <CRLF>.<CRLF>\r\n")?;
                let mut data = String::new();
                loop {
                    line.clear();
                    if input.read_line(&mut line)? == 0 {
                        return Ok(());
                    }
                    let l = line.trim_end_matches(['\r', '\n']);
                    if l == "." {
                        break;
                    }
                    data.push_str(l.strip_prefix('.').unwrap_or(l));
                    data.push_str("\r\n");
                }
                mails.lock().unwrap().push(Mail {
                    from: from.clone(),
                    to: std::mem::take(&mut to),
                    data,
                });
                out.write_all(b"250 OK: queued\r\n")?;
            }
            "QUIT" => {
                out.write_all(b"221 bye\r\n")?;
                return Ok(());
            }
            _ => out.write_all(b"250 OK\r\n")?,
        }
    }
}

/// `examples/mailer.py` running against the stack's database as `role` (a login role given
/// `auth.grant_outbox_access`), sending to `sink`; stopped when dropped. Its output (one line per
/// row, never a token) goes to `target/e2e/<name>.log`.
pub struct Mailer {
    daemon: Daemon,
    pub log: PathBuf,
}

impl Mailer {
    /// Starts it and waits (10 s at most) until it listens on `auth_outbox`.
    pub fn start(s: &Stack, name: &str, role: &str, sink: &SmtpSink) -> Mailer {
        assert!(
            std::path::Path::new(PYTHON).exists(),
            "{PYTHON} is missing: apt-get install python3-psycopg (scripts/setup.sh)"
        );
        let dsn = format!(
            "host={} port={} dbname=postgres user={role} application_name={name}",
            s.pg.socket_dir().display(),
            s.pg.port
        );
        let log = s.dir.join(format!("{name}.log"));
        let mut daemon = Daemon::spawn(
            name,
            Command::new(PYTHON)
                .arg(workspace_root().join(MAILER))
                .env("MAILER_DSN", &dsn)
                .env("SMTP_HOST", "127.0.0.1")
                .env("SMTP_PORT", sink.port.to_string())
                .env("PYTHONUNBUFFERED", "1")
                .env_remove("PGHOST")
                .env_remove("PGPORT")
                .env_remove("PGUSER")
                .env_remove("PGDATABASE"),
            log.clone(),
            s.dir.join(format!("{name}.pid")),
            libc::SIGTERM,
        );
        let pg = s.pg.clone();
        let app = name.to_string();
        daemon
            .wait_ready(Duration::from_secs(10), || {
                let Ok(mut c) = pg.try_connect("postgres") else {
                    return false;
                };
                c.query_one(
                    "SELECT count(*) FROM pg_stat_activity
                     WHERE application_name = $1 AND state = 'idle' AND query = 'LISTEN auth_outbox'",
                    &[&app],
                )
                .map(|r| r.get::<_, i64>(0) == 1)
                .unwrap_or(false)
            })
            .unwrap_or_else(|e| panic!("{MAILER}: {e}"));
        Mailer { daemon, log }
    }

    /// Panics unless it is still running.
    pub fn assert_alive(&mut self) {
        assert!(
            self.daemon.alive(),
            "{MAILER} exited; log {}:\n{}",
            self.log.display(),
            self.daemon.log_tail(4000)
        );
    }

    /// Its output so far.
    pub fn output(&self) -> String {
        self.daemon.log_tail(1 << 20)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Python's smtplib and email package (what the mailer uses) against the sink: a long link
    /// line is quoted-printable encoded, a line starting with a dot is dot-stuffed; `Mail` reads
    /// both back.
    #[test]
    fn sink_reads_what_smtplib_sends() {
        if !std::path::Path::new(PYTHON).exists() {
            eprintln!("{PYTHON} missing: skipped");
            return;
        }
        let sink = SmtpSink::start();
        let token = "Ab0_-cdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN";
        let script = format!(
            r#"
import smtplib
from email.message import EmailMessage
m = EmailMessage()
m["From"], m["To"], m["Subject"] = "a@localhost", "b@example.com", "Reset your password"
m.set_content("Hello b,\n\nhttp://localhost:8080/account/a-long-path-for-a-long-line/password_reset#token={token}\n.starts with a dot\n")
with smtplib.SMTP("127.0.0.1", {}) as s:
    s.send_message(m)
"#,
            sink.port
        );
        let out = Command::new(PYTHON).arg("-c").arg(script).output().unwrap();
        assert!(out.status.success(), "{out:?}");
        let mail = sink.wait_for("b@example.com", Duration::from_secs(10));
        assert_eq!(mail.from, "a@localhost");
        assert_eq!(
            mail.header("subject").as_deref(),
            Some("Reset your password")
        );
        assert_eq!(
            mail.header("Content-Transfer-Encoding").as_deref(),
            Some("quoted-printable"),
            "{}",
            mail.data
        );
        assert_eq!(mail.token(), token, "{}", mail.data);
        assert!(
            mail.text().contains("\n.starts with a dot\n"),
            "{}",
            mail.text()
        );
        assert_eq!(sink.count_to("b@example.com"), 1);
    }
}
