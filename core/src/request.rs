//! Request plumbing: the rules for reading what PostgREST puts into a request's settings
//! (`request.headers`, `request.cookies`), as pure functions over those texts. The SQL layer
//! fetches the settings; what they mean is decided here, in one place.
//!
//! Every function takes the text as given (NULL settings are the caller's `None` or are never
//! passed) and cannot fail: a value that does not read as expected is "absent", or, where being
//! wrong would be unsafe, the cautious answer (documented on each function).

use serde_json::{Map, Value};

use crate::cookie;

/// Whether an HTTP `Prefer` header value asks PostgREST to roll the transaction back
/// (`tx=rollback`, RFC 7240 preferences, PostgREST's transaction preference).
///
/// Preferences are separated by `,`; a preference's parameters by `;`, and each piece is read as
/// a preference of its own. A piece is `tx=rollback` when, with spaces around the name and the
/// value trimmed and one pair of double quotes around the value removed, its name is `tx` and its
/// value `rollback`, both case-insensitive. `tx=rollbackx`, `xtx=rollback` and `tx` alone are
/// not. Fail closed: `true` as soon as any piece says rollback, whatever else the header says
/// (`tx=commit, tx=rollback` is a rollback). An empty value is `false`.
pub fn prefers_rollback(prefer: &str) -> bool {
    prefer.split([',', ';']).any(|piece| {
        piece.split_once('=').is_some_and(|(name, value)| {
            name.trim().eq_ignore_ascii_case("tx")
                && cookie::unquote(value.trim()).eq_ignore_ascii_case("rollback")
        })
    })
}

/// The token of an `Authorization` header value using the `Bearer` scheme (RFC 6750 §2.1):
/// `Bearer <token>`, the scheme case-insensitive, then one or more spaces, then the token.
/// Whitespace around the whole value is trimmed.
///
/// `None` for any other scheme (`Basic …`, `Bearerabc`, a tab after the scheme), for an empty
/// token, and for a token holding whitespace (a second word) or a control character (NUL
/// included). The token is returned as it stands, not otherwise checked: its shape is for the
/// caller's verifier.
pub fn bearer_token(authorization: &str) -> Option<&str> {
    let (scheme, rest) = authorization.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = rest.trim_start_matches(' ');
    let clean = !token.is_empty() && !token.chars().any(|c| c.is_whitespace() || c.is_control());
    clean.then_some(token)
}

/// What a request carries under one credential cookie's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CookieLookup<'a> {
    /// No usable cookie of that name: none, an empty value, or a value holding NUL.
    Absent,
    /// Exactly one cookie of that name, with this (unquoted) value.
    One(&'a str),
    /// The raw `Cookie` header holds that name more than once: the caller must not use any of
    /// them as a credential (cookie tossing: a sibling subdomain can plant a second cookie of the
    /// same name, and which one comes first is not the server's to trust).
    Duplicate,
}

/// How a credential cookie (`refresh_token`, `access_token`, …) is read from a request.
///
/// - `cookie_header`: the raw `Cookie` header (`request.headers`' `cookie` entry), `None` when
///   the request has none or the headers setting cannot be read. When it is `Some`, it alone
///   decides, even if it is empty or lacks the name: the name occurring two or more times among
///   [`cookie::parse_cookie_header`]'s pairs (whatever their values, empty ones included) is
///   [`CookieLookup::Duplicate`]; once is that value; never is [`CookieLookup::Absent`].
/// - `cookies`: the parsed `request.cookies` JSON object, consulted only without a raw header.
///   PostgREST keeps only the last of same-named cookies there, so duplicates cannot be seen in
///   it. A member that is not a JSON string reads as absent.
/// - `name`: compared exactly (cookie names are case-sensitive); an empty name is never found.
///
/// A value that is empty or holds a NUL (PostgreSQL text cannot hold one) reads as
/// [`CookieLookup::Absent`].
pub fn credential_cookie<'a>(
    cookie_header: Option<&'a str>,
    cookies: Option<&'a Map<String, Value>>,
    name: &str,
) -> CookieLookup<'a> {
    if name.is_empty() {
        return CookieLookup::Absent;
    }
    let value = match cookie_header {
        Some(header) => {
            let mut same_name = cookie::parse_cookie_header(header)
                .into_iter()
                .filter(|(n, _)| *n == name);
            let first = same_name.next();
            if same_name.next().is_some() {
                return CookieLookup::Duplicate;
            }
            first.map(|(_, v)| v)
        }
        None => cookies.and_then(|c| c.get(name)).and_then(Value::as_str),
    };
    match value {
        Some(v) if !v.is_empty() && !v.contains('\0') => CookieLookup::One(v),
        _ => CookieLookup::Absent,
    }
}

/// Whether `request.jwt.claims` say PostgREST ran the request as its anonymous role, without a
/// token: the setting unset or empty, or a JSON object whose only member is `"role"`, a string
/// equal to `current_role` (PostgREST 12 writes `{"role": <db-anon-role>}` then, and switches
/// to that role). Anything else — more members, another role, text that is not JSON, JSON that
/// is not an object — is a token's claims (or an unknown shape): not anonymous.
pub fn anonymous_claims(claims: Option<&str>, current_role: &str) -> bool {
    let Some(claims) = claims.filter(|c| !c.is_empty()) else {
        return true;
    };
    match serde_json::from_str::<Value>(claims) {
        Ok(Value::Object(map)) => {
            map.len() == 1 && map.get("role").and_then(Value::as_str) == Some(current_role)
        }
        _ => false,
    }
}

/// HTTP methods that must not change anything (RFC 9110 §9.2.1), which the cross-site rule lets
/// through: `GET`, `HEAD`, `OPTIONS`, compared case-sensitively as HTTP methods are. PostgREST
/// runs `GET` and `HEAD` in READ ONLY transactions, so a forged one cannot write.
pub fn is_safe_method(method: &str) -> bool {
    matches!(method, "GET" | "HEAD" | "OPTIONS")
}

/// How the cross-site rule is configured (`auth.csrf_allow_same_site`, `auth.allowed_origins`).
#[derive(Debug, Clone, Copy)]
pub struct SitePolicy<'a> {
    /// `Sec-Fetch-Site: same-site` passes too (a sibling subdomain's page may write).
    pub allow_same_site: bool,
    /// Comma-separated exact origins (`https://app.example.com`) that pass when the request has
    /// no `Sec-Fetch-Site`.
    pub allowed_origins: &'a str,
}

/// Why a request was refused by [`cross_site_refusal`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrossSite {
    /// `Sec-Fetch-Site` says the request came from another site (or is a value not known).
    FetchSite,
    /// No `Sec-Fetch-Site`, and the `Origin` is not one of `auth.allowed_origins`.
    Origin,
    /// Neither header: nothing shows that the request came from our own pages.
    NoProvenance,
}

impl CrossSite {
    /// The message of the refusal (PT403). Names no header value: they are the client's.
    pub fn message(self) -> &'static str {
        match self {
            CrossSite::FetchSite => {
                "cross-site request refused: a request that uses the session cookie must come from the site's own pages (Sec-Fetch-Site)"
            }
            CrossSite::Origin => {
                "cross-site request refused: the request's Origin is not one of auth.allowed_origins"
            }
            CrossSite::NoProvenance => {
                "cross-site request refused: a request that uses the session cookie and is not GET, HEAD or OPTIONS must carry Sec-Fetch-Site or an allowed Origin"
            }
        }
    }
}

/// The cross-site request rule (CSRF), for a request whose cookies would act for a user.
///
/// - `method` safe ([`is_safe_method`]): allowed.
/// - `sec_fetch_site` present (the browser's own word, which pages cannot set): allowed when,
///   trimmed and compared case-insensitively, it is `same-origin`, or `same-site` with
///   `allow_same_site`; refused for anything else (`cross-site`, `none` — a navigation the user
///   typed cannot POST — and unknown values).
/// - else `origin` present: allowed when it equals, byte for byte after trimming, one of the
///   comma-separated entries of `allowed_origins` (each trimmed; empty entries ignored); refused
///   otherwise (`null` included, unless listed — never list it).
/// - neither: refused.
pub fn cross_site_refusal(
    method: &str,
    sec_fetch_site: Option<&str>,
    origin: Option<&str>,
    policy: &SitePolicy,
) -> Option<CrossSite> {
    if is_safe_method(method) {
        return None;
    }
    if let Some(site) = sec_fetch_site {
        let site = site.trim();
        let ok = site.eq_ignore_ascii_case("same-origin")
            || (policy.allow_same_site && site.eq_ignore_ascii_case("same-site"));
        return (!ok).then_some(CrossSite::FetchSite);
    }
    if let Some(origin) = origin {
        let origin = origin.trim();
        let listed = !origin.is_empty()
            && policy
                .allowed_origins
                .split(',')
                .map(str::trim)
                .any(|o| !o.is_empty() && o == origin);
        return (!listed).then_some(CrossSite::Origin);
    }
    Some(CrossSite::NoProvenance)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn anonymous_claims_rule() {
        for yes in [
            None,
            Some(""),
            Some(r#"{"role":"anon"}"#),
            Some(r#"{ "role" : "anon" }"#),
        ] {
            assert!(anonymous_claims(yes, "anon"), "{yes:?}");
        }
        for no in [
            r#"{"role":"web_user"}"#,
            r#"{"role":"anon","sub":"x"}"#,
            r#"{"role":"anon","sid":"x"}"#,
            r#"{}"#,
            r#"{"role":null}"#,
            r#"{"role":["anon"]}"#,
            r#"["anon"]"#,
            r#""anon""#,
            "not json",
            r#"{"role":"anon"} x"#,
            r#"{"role":"ANON"}"#,
        ] {
            assert!(!anonymous_claims(Some(no), "anon"), "{no:?}");
        }
    }

    #[test]
    fn cross_site_rule() {
        let strict = SitePolicy {
            allow_same_site: false,
            allowed_origins: " https://app.example.com ,, http://127.0.0.1:8080",
        };
        let lax = SitePolicy {
            allow_same_site: true,
            ..strict
        };
        // Safe methods pass whatever the headers say.
        for m in ["GET", "HEAD", "OPTIONS"] {
            assert_eq!(
                cross_site_refusal(m, Some("cross-site"), Some("https://evil"), &strict),
                None
            );
            assert_eq!(cross_site_refusal(m, None, None, &strict), None);
        }
        for m in ["POST", "PATCH", "PUT", "DELETE", "get", "TRACE", ""] {
            assert_eq!(
                cross_site_refusal(m, None, None, &strict),
                Some(CrossSite::NoProvenance),
                "{m}"
            );
        }
        // Sec-Fetch-Site decides when present, whatever the Origin.
        let fetch = |site: &str, p: &SitePolicy| {
            cross_site_refusal("POST", Some(site), Some("https://app.example.com"), p)
        };
        assert_eq!(fetch("same-origin", &strict), None);
        assert_eq!(fetch(" Same-Origin ", &strict), None);
        assert_eq!(fetch("same-site", &strict), Some(CrossSite::FetchSite));
        assert_eq!(fetch("same-site", &lax), None);
        for bad in [
            "cross-site",
            "none",
            "",
            "same-origin, cross-site",
            "sameorigin",
        ] {
            assert_eq!(fetch(bad, &lax), Some(CrossSite::FetchSite), "{bad:?}");
        }
        // Without it, the Origin must be listed exactly.
        let origin = |o: &str| cross_site_refusal("DELETE", None, Some(o), &strict);
        assert_eq!(origin("https://app.example.com"), None);
        assert_eq!(origin("http://127.0.0.1:8080"), None);
        for bad in [
            "https://app.example.com/",
            "https://APP.example.com",
            "https://app.example.com.evil",
            "http://app.example.com",
            "null",
            "",
            "https://app.example.com, http://127.0.0.1:8080",
        ] {
            assert_eq!(origin(bad), Some(CrossSite::Origin), "{bad:?}");
        }
        let none = SitePolicy {
            allow_same_site: false,
            allowed_origins: "",
        };
        assert_eq!(
            cross_site_refusal("POST", None, Some(""), &none),
            Some(CrossSite::Origin)
        );
        for c in [
            CrossSite::FetchSite,
            CrossSite::Origin,
            CrossSite::NoProvenance,
        ] {
            assert!(c.message().starts_with("cross-site request refused"));
        }
    }

    #[test]
    fn rollback_preferences() {
        for yes in [
            "tx=rollback",
            "TX=ROLLBACK",
            "Tx=RollBack",
            "return=minimal, tx=rollback",
            "tx=rollback,return=minimal",
            "  tx = rollback  ",
            "count=exact,\ttx=rollback\t",
            "tx=\"rollback\"",
            "return=representation, tx=rollback; foo=bar",
            // A parameter of another preference: read as a preference too (fail closed).
            "handling=strict; tx=rollback",
            // Both: rollback, in either order.
            "tx=commit, tx=rollback",
            "tx=rollback, tx=commit",
            ",,tx=rollback,,",
        ] {
            assert!(prefers_rollback(yes), "{yes:?}");
        }
        for no in [
            "",
            " ",
            "tx=commit",
            "TX=COMMIT",
            "tx=rollbackx",
            "xtx=rollback",
            "tx_=rollback",
            "tx=roll back",
            "tx=rollback=1",
            "tx",
            "rollback",
            "tx=",
            "=rollback",
            "tx:rollback",
            "tx=\"rollback",
            "return=minimal",
            "return=minimal, tx=commit, count=exact",
            "tx=rollback\u{0}",
        ] {
            assert!(!prefers_rollback(no), "{no:?}");
        }
    }

    #[test]
    fn bearer_tokens() {
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoiYW5vbiJ9.c2ln";
        for (value, want) in [
            (format!("Bearer {jwt}"), jwt),
            (format!("bearer {jwt}"), jwt),
            (format!("BEARER    {jwt}"), jwt),
            (format!("  Bearer {jwt}  "), jwt),
            (format!("Bearer {jwt}\r\n"), jwt),
            ("Bearer pgauth_AAAA-_x".to_string(), "pgauth_AAAA-_x"),
            ("Bearer a=".to_string(), "a="),
        ] {
            assert_eq!(bearer_token(&value), Some(want), "{value:?}");
        }
        for value in [
            "",
            "Bearer",
            "Bearer ",
            "Bearer      ",
            "Bearerabc",
            "Bearer\tabc",
            "Bearer: abc",
            "Basic dXNlcjpwYXNz",
            "Token abc",
            "abc",
            " Bearer",
            "Bearer a b",
            "Bearer a\tb",
            "Bearer a\u{0}b",
            "Bearer a\u{7f}b",
            "Bearer a\u{a0}b",
            "Bearer a\nb",
            "Bearer Bearer x",
        ] {
            assert_eq!(bearer_token(value), None, "{value:?}");
        }
    }

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn cookie_tossing_is_a_duplicate() {
        let parsed = map(json!({"refresh_token": "attacker"}));
        for header in [
            "refresh_token=victim; refresh_token=attacker",
            "refresh_token=attacker; refresh_token=victim",
            "refresh_token=same; refresh_token=same",
            "refresh_token=; refresh_token=x",
            "refresh_token=x; theme=dark; refresh_token=\"x\"",
            "refresh_token=a;refresh_token=b;refresh_token=c",
        ] {
            assert_eq!(
                credential_cookie(Some(header), Some(&parsed), "refresh_token"),
                CookieLookup::Duplicate,
                "{header:?}"
            );
        }
        // Other names repeating do not matter.
        assert_eq!(
            credential_cookie(Some("a=1; refresh_token=v; a=2"), None, "refresh_token"),
            CookieLookup::One("v")
        );
        assert_eq!(
            credential_cookie(Some("a=1; refresh_token=v; a=2"), None, "a"),
            CookieLookup::Duplicate
        );
    }

    #[test]
    fn raw_header_decides_when_present() {
        let parsed = map(json!({"refresh_token": "from-json", "access_token": "j"}));
        let h = r#"theme=dark; refresh_token="abc"; xrefresh_token=no; Refresh_Token=no"#;
        assert_eq!(
            credential_cookie(Some(h), Some(&parsed), "refresh_token"),
            CookieLookup::One("abc")
        );
        // Present but without the name (or empty): absent, the JSON object is not consulted.
        assert_eq!(
            credential_cookie(Some(h), Some(&parsed), "access_token"),
            CookieLookup::Absent
        );
        assert_eq!(
            credential_cookie(Some(""), Some(&parsed), "access_token"),
            CookieLookup::Absent
        );
        for header in [
            "refresh_token=",
            "refresh_token=\"\"",
            "refresh_token=a\u{0}b",
            "refresh_token",
            " =refresh_token",
        ] {
            assert_eq!(
                credential_cookie(Some(header), Some(&parsed), "refresh_token"),
                CookieLookup::Absent,
                "{header:?}"
            );
        }
        assert_eq!(
            credential_cookie(Some("refresh_token=x"), None, ""),
            CookieLookup::Absent
        );
    }

    #[test]
    fn parsed_cookies_without_a_raw_header() {
        let parsed = map(json!({
            "refresh_token": "tok",
            "empty": "",
            "nul": "a\u{0}b",
            "number": 5,
            "null": null,
            "list": ["x"],
            "": "nameless",
        }));
        assert_eq!(
            credential_cookie(None, Some(&parsed), "refresh_token"),
            CookieLookup::One("tok")
        );
        for name in ["empty", "nul", "number", "null", "list", "missing", ""] {
            assert_eq!(
                credential_cookie(None, Some(&parsed), name),
                CookieLookup::Absent,
                "{name}"
            );
        }
        assert_eq!(
            credential_cookie(None, None, "refresh_token"),
            CookieLookup::Absent
        );
    }
}
