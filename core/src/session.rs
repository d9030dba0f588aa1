//! Session rules that need no database: the client address a trusted proxy reports, and the
//! idle and absolute timeouts of a login session. The SQL layer binds them (`src/sessions.rs`):
//! `auth_private._request_client_ip()` and `auth_private._session_timeout(created_at,
//! last_seen_at)`, which `auth_private._live` — the one definition of a live session — calls.

use std::net::IpAddr;

/// Microseconds in a second (PostgreSQL timestamps count microseconds).
const MICROS: i64 = 1_000_000;

/// The client address in a forwarding header a trusted proxy set (`X-Forwarded-For` and the
/// like): its rightmost comma-separated element, the one the proxy in front of the server
/// appended (the elements to its left come from the client and prove nothing). None when that
/// element is not an IPv4 or IPv6 address (surrounding spaces allowed; no port, no brackets, no
/// zone). A header value a client could choose entirely is no better than none: the setting that
/// names the header must only be set when every request passes the proxy.
pub fn client_ip(header_value: &str) -> Option<IpAddr> {
    let last = header_value.rsplit(',').next()?.trim();
    if last.is_empty() || last.len() > 64 {
        return None;
    }
    last.parse().ok()
}

/// Why a session ended by itself, when it did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timeout {
    /// Older than the absolute lifetime (`auth.session_max_lifetime`).
    MaxLifetime,
    /// Not seen for the idle timeout (`auth.session_idle_timeout`).
    Idle,
}

impl Timeout {
    /// The reason as recorded in `auth.sessions.ended_reason` and the audit log.
    pub fn reason(self) -> &'static str {
        match self {
            Timeout::MaxLifetime => "max_lifetime",
            Timeout::Idle => "idle_timeout",
        }
    }
}

/// Whether a session created at `created_at` and last seen at `last_seen_at` has timed out at
/// `now` (all in microseconds on one clock; PostgreSQL's infinities are i64::MIN and i64::MAX).
/// `idle_s` and `max_s` are the timeouts in seconds, 0 (or less) for off. A session ends at its
/// deadline exactly, as it does at `expires_at`: live while now < deadline. The absolute lifetime
/// is reported first when both have passed.
pub fn timeout(
    created_at: i64,
    last_seen_at: i64,
    now: i64,
    idle_s: i32,
    max_s: i32,
) -> Option<Timeout> {
    let passed = |from: i64, secs: i32| {
        secs > 0 && now >= from.saturating_add(i64::from(secs).saturating_mul(MICROS))
    };
    if passed(created_at, max_s) {
        Some(Timeout::MaxLifetime)
    } else if passed(last_seen_at, idle_s) {
        Some(Timeout::Idle)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ip_takes_the_rightmost_element() {
        let ip = |s: &str| client_ip(s).map(|a| a.to_string());
        assert_eq!(ip("203.0.113.7").as_deref(), Some("203.0.113.7"));
        assert_eq!(ip("10.0.0.1, 203.0.113.7").as_deref(), Some("203.0.113.7"));
        assert_eq!(ip("spoofed,198.51.100.2 ").as_deref(), Some("198.51.100.2"));
        assert_eq!(ip("2001:db8::1").as_deref(), Some("2001:db8::1"));
        assert_eq!(ip("1.2.3.4, 2001:DB8:0::1").as_deref(), Some("2001:db8::1"));
        // The rightmost element decides, whatever the client wrote to its left.
        assert_eq!(ip("203.0.113.7, garbage"), None);
        for bad in [
            "",
            " ",
            ",",
            "1.2.3.4,",
            "unknown",
            "1.2.3.4:80",
            "[2001:db8::1]",
            "[2001:db8::1]:443",
            "fe80::1%eth0",
            "999.1.1.1",
            "1.2.3",
            "1.2.3.4/24",
            "1.2.3.4 5.6.7.8",
            "\u{0}",
            "::ffff:1.2.3.4.5",
        ] {
            assert_eq!(ip(bad), None, "{bad:?}");
        }
        assert_eq!(ip(&"1".repeat(100_000)), None);
    }

    #[test]
    fn timeouts() {
        let s = MICROS;
        // Off: never.
        assert_eq!(timeout(0, 0, i64::MAX, 0, 0), None);
        assert_eq!(timeout(0, 0, i64::MAX, -1, -5), None);
        // Idle: live before the deadline, ended at it.
        assert_eq!(timeout(0, 100 * s, 159 * s, 60, 0), None);
        assert_eq!(timeout(0, 100 * s, 160 * s, 60, 0), Some(Timeout::Idle));
        // Absolute: counted from creation whatever the activity; reported first.
        assert_eq!(timeout(0, 3599 * s, 3599 * s, 60, 3600), None);
        assert_eq!(
            timeout(0, 3599 * s, 3600 * s, 60, 3600),
            Some(Timeout::MaxLifetime)
        );
        assert_eq!(
            timeout(0, 0, 7200 * s, 60, 3600),
            Some(Timeout::MaxLifetime)
        );
        // Infinities saturate instead of wrapping.
        assert_eq!(timeout(i64::MAX, i64::MAX, 0, 60, 60), None);
        assert_eq!(timeout(i64::MIN, i64::MIN, 0, 60, 0), Some(Timeout::Idle));
        assert_eq!(Timeout::Idle.reason(), "idle_timeout");
        assert_eq!(Timeout::MaxLifetime.reason(), "max_lifetime");
    }
}
