//! Cookies: `Set-Cookie` values (RFC 6265 §4.1), `Cookie` header parsing (§5.4), and the JSON
//! array PostgREST reads from `response.headers`.

use serde_json::{json, Value};

use crate::AuthError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SameSite {
    Strict,
    Lax,
    None,
}

impl SameSite {
    pub fn name(self) -> &'static str {
        match self {
            SameSite::Strict => "Strict",
            SameSite::Lax => "Lax",
            SameSite::None => "None",
        }
    }
}

/// The attributes every cookie of ours carries.
#[derive(Debug, Clone)]
pub struct Attributes<'a> {
    pub path: &'a str,
    pub same_site: SameSite,
    pub secure: bool,
    /// The `Domain` attribute; `None` leaves it out (a host-only cookie).
    pub domain: Option<&'a str>,
}

/// The default names of the two session cookies.
pub const DEFAULT_ACCESS_NAME: &str = "access_token";
pub const DEFAULT_REFRESH_NAME: &str = "refresh_token";

/// The names the two session cookies go by, and what their `Set-Cookie` must say for browsers to
/// keep them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionCookieNames {
    pub access: String,
    pub refresh: String,
}

/// RFC 6265 §4.1.1 cookie-name: an RFC 2616 token (visible ASCII without separators).
fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| (0x21..0x7f).contains(&b) && !b"()<>@,;:\\\"/[]?={}".contains(&b))
}

/// The one rule for the session cookies' names. `access` and `refresh` are the configured base
/// names (`auth.access_cookie_name`, `auth.refresh_cookie_name`): RFC 6265 tokens, distinct,
/// without a `__Host-` or `__Secure-` prefix of their own (in any case: browsers compare the
/// prefixes case-insensitively). With `host_prefix` (`auth.cookie_host_prefix`), the access
/// cookie is `__Host-<access>` (browsers then require `Secure`, `Path=/` and no `Domain`) and the
/// refresh cookie, whose `Path` is narrow, `__Secure-<refresh>` (`Secure` required); both need
/// `secure`, and `domain` must be unset. Without it, the names are the base names, and `domain`,
/// when set, must be a host name (letters, digits, `-`, `.`; an optional leading dot).
/// Errors are configuration errors (22023).
pub fn session_cookie_names(
    access: &str,
    refresh: &str,
    host_prefix: bool,
    secure: bool,
    domain: Option<&str>,
) -> Result<SessionCookieNames, AuthError> {
    for (setting, name) in [
        ("auth.access_cookie_name", access),
        ("auth.refresh_cookie_name", refresh),
    ] {
        if !is_token(name) {
            return Err(AuthError::Config(format!(
                "{setting} must be a cookie name: visible ASCII without separators"
            )));
        }
        let lower = name.to_ascii_lowercase();
        if lower.starts_with("__host-") || lower.starts_with("__secure-") {
            return Err(AuthError::Config(format!(
                "{setting} must not carry a __Host- or __Secure- prefix: set auth.cookie_host_prefix = on instead"
            )));
        }
    }
    if access == refresh {
        return Err(AuthError::Config(
            "auth.access_cookie_name and auth.refresh_cookie_name must differ".into(),
        ));
    }
    if let Some(domain) = domain {
        check_domain(domain)?;
    }
    if !host_prefix {
        return Ok(SessionCookieNames {
            access: access.to_owned(),
            refresh: refresh.to_owned(),
        });
    }
    if !secure {
        return Err(AuthError::Config(
            "auth.cookie_host_prefix = on needs auth.cookie_secure = on (browsers drop __Host- and __Secure- cookies without Secure)".into(),
        ));
    }
    if domain.is_some() {
        return Err(AuthError::Config(
            "auth.cookie_host_prefix = on forbids auth.cookie_domain (a __Host- cookie has no Domain)".into(),
        ));
    }
    Ok(SessionCookieNames {
        access: format!("__Host-{access}"),
        refresh: format!("__Secure-{refresh}"),
    })
}

/// A `Domain` attribute value: a host name of letters, digits, `-` and `.`, with an optional
/// leading dot, at most 253 characters, no empty label.
pub fn check_domain(domain: &str) -> Result<(), AuthError> {
    let host = domain.strip_prefix('.').unwrap_or(domain);
    let ok = !host.is_empty()
        && host.len() <= 253
        && host
            .split('.')
            .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    if ok {
        Ok(())
    } else {
        Err(AuthError::Config(
            "auth.cookie_domain must be a host name (letters, digits, '-', '.')".into(),
        ))
    }
}

/// RFC 6265 cookie-octet: what may stand in a cookie value without quoting.
fn is_cookie_octet(b: u8) -> bool {
    matches!(b, 0x21 | 0x23..=0x2B | 0x2D..=0x3A | 0x3C..=0x5B | 0x5D..=0x7E)
}

/// A path attribute value: printable ASCII without `;` (RFC 6265 §4.1.1 path-value).
pub fn check_path(path: &str) -> Result<(), AuthError> {
    if path.starts_with('/') && path.bytes().all(|b| (0x20..0x7f).contains(&b) && b != b';') {
        Ok(())
    } else {
        Err(AuthError::Config(
            "cookie path must start with '/' and hold printable ASCII without ';'".into(),
        ))
    }
}

/// `name=value; Path=…[; Domain=…]; Max-Age=…; HttpOnly; SameSite=…[; Secure]`. A `max_age` of
/// 0 with an empty value clears the cookie.
pub fn set_cookie(
    name: &str,
    value: &str,
    max_age: i64,
    attrs: &Attributes,
) -> Result<String, AuthError> {
    check_path(attrs.path)?;
    if let Some(domain) = attrs.domain {
        check_domain(domain)?;
    }
    if !value.bytes().all(is_cookie_octet) {
        return Err(AuthError::Internal(
            "cookie value holds characters a cookie cannot carry".into(),
        ));
    }
    if attrs.same_site == SameSite::None && !attrs.secure {
        return Err(AuthError::Config(
            "auth.cookie_samesite = 'None' needs auth.cookie_secure = on (browsers drop such cookies)".into(),
        ));
    }
    let mut c = format!("{name}={value}; Path={}", attrs.path);
    if let Some(domain) = attrs.domain {
        c.push_str("; Domain=");
        c.push_str(domain);
    }
    c.push_str(&format!(
        "; Max-Age={}; HttpOnly; SameSite={}",
        max_age.max(0),
        attrs.same_site.name()
    ));
    if attrs.secure {
        c.push_str("; Secure");
    }
    Ok(c)
}

/// The `response.headers` JSON array for a list of `Set-Cookie` values.
pub fn set_cookie_headers(cookies: &[String]) -> String {
    Value::Array(cookies.iter().map(|c| json!({ "Set-Cookie": c })).collect()).to_string()
}

/// Strips one pair of surrounding double quotes, which RFC 6265 allows around a value.
pub fn unquote(value: &str) -> &str {
    value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value)
}

/// Parses a `Cookie` header into (name, value) pairs in order. Pairs without `=` or with an empty
/// name are skipped; values are unquoted; nothing panics on any input.
pub fn parse_cookie_header(header: &str) -> Vec<(&str, &str)> {
    header
        .split(';')
        .filter_map(|pair| {
            let (name, value) = pair.split_once('=')?;
            let name = name.trim();
            (!name.is_empty()).then(|| (name, unquote(value.trim())))
        })
        .collect()
}

/// The value of the first cookie of that name in a `Cookie` header (browsers send the most
/// specific path first, RFC 6265 §5.4); later ones of the same name are ignored. `None` when no
/// pair has that name. The value may be empty. For a credential, use
/// [`crate::request::credential_cookie`] instead: it refuses a name sent twice.
pub fn find_cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    parse_cookie_header(header)
        .into_iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(secure: bool) -> Attributes<'static> {
        Attributes {
            path: "/",
            same_site: SameSite::Lax,
            secure,
            domain: None,
        }
    }

    #[test]
    fn formats_session_cookies() {
        assert_eq!(
            set_cookie("access_token", "a.b.c", 3600, &attrs(true)).unwrap(),
            "access_token=a.b.c; Path=/; Max-Age=3600; HttpOnly; SameSite=Lax; Secure"
        );
        let refresh = Attributes {
            path: "/rpc/refresh_token",
            same_site: SameSite::Strict,
            secure: false,
            domain: None,
        };
        assert_eq!(
            set_cookie("refresh_token", "", 0, &refresh).unwrap(),
            "refresh_token=; Path=/rpc/refresh_token; Max-Age=0; HttpOnly; SameSite=Strict"
        );
    }

    #[test]
    fn refuses_unsafe_values_and_settings() {
        assert!(set_cookie("a", "x;y", 1, &attrs(true)).is_err());
        assert!(set_cookie("a", "x y", 1, &attrs(true)).is_err());
        let bad_path = Attributes {
            path: "/x; Domain=evil",
            same_site: SameSite::Lax,
            secure: true,
            domain: None,
        };
        assert!(set_cookie("a", "x", 1, &bad_path).is_err());
        for domain in [
            "",
            ".",
            "a..b",
            "evil; Secure",
            "a b",
            "x/y",
            "ex\u{e4}mple.com",
        ] {
            let bad_domain = Attributes {
                domain: Some(domain),
                ..attrs(true)
            };
            assert!(set_cookie("a", "x", 1, &bad_domain).is_err(), "{domain:?}");
        }
        let none_insecure = Attributes {
            path: "/",
            same_site: SameSite::None,
            secure: false,
            domain: None,
        };
        assert_eq!(
            set_cookie("a", "x", 1, &none_insecure)
                .unwrap_err()
                .sqlstate(),
            "22023"
        );
    }

    #[test]
    fn domain_attribute() {
        let a = Attributes {
            domain: Some(".example.com"),
            ..attrs(true)
        };
        assert_eq!(
            set_cookie("access_token", "v", 60, &a).unwrap(),
            "access_token=v; Path=/; Domain=.example.com; Max-Age=60; HttpOnly; SameSite=Lax; Secure"
        );
    }

    #[test]
    fn session_cookie_name_rule() {
        let plain = session_cookie_names("access_token", "refresh_token", false, false, None);
        assert_eq!(
            plain.unwrap(),
            SessionCookieNames {
                access: "access_token".into(),
                refresh: "refresh_token".into()
            }
        );
        let prefixed = session_cookie_names("at", "rt", true, true, None).unwrap();
        assert_eq!(prefixed.access, "__Host-at");
        assert_eq!(prefixed.refresh, "__Secure-rt");
        assert!(session_cookie_names("a", "r", false, false, Some("example.com")).is_ok());
        for (access, refresh, prefix, secure, domain) in [
            ("", "r", false, true, None),
            ("a b", "r", false, true, None),
            ("a;b", "r", false, true, None),
            ("a=b", "r", false, true, None),
            ("a", "r\u{e9}", false, true, None),
            ("same", "same", false, true, None),
            ("__Host-a", "r", false, true, None),
            ("a", "__SECURE-r", false, true, None),
            ("__host-a", "r", true, true, None),
            ("a", "r", true, false, None),
            ("a", "r", true, true, Some("example.com")),
            ("a", "r", false, true, Some("bad domain")),
        ] {
            let got = session_cookie_names(access, refresh, prefix, secure, domain);
            assert_eq!(
                got.unwrap_err().sqlstate(),
                "22023",
                "{access:?} {refresh:?} {prefix} {secure} {domain:?}"
            );
        }
    }

    #[test]
    fn response_headers_json() {
        let j = set_cookie_headers(&["a=1".into(), "b=\"2\"".into()]);
        assert_eq!(j, r#"[{"Set-Cookie":"a=1"},{"Set-Cookie":"b=\"2\""}]"#);
    }

    #[test]
    fn parses_cookie_headers() {
        let h = r#"theme=dark; refresh_token="abc"; =nameless; novalue; refresh_token=second;  spaced = v "#;
        assert_eq!(find_cookie(h, "refresh_token"), Some("abc"));
        assert_eq!(find_cookie(h, "spaced"), Some("v"));
        assert_eq!(find_cookie(h, "novalue"), None);
        assert_eq!(find_cookie("", "x"), None);
        assert_eq!(find_cookie("x=\"", "x"), Some("\""));
        assert_eq!(parse_cookie_header(";;;=;a=b=c").len(), 1);
        assert_eq!(find_cookie("a=b=c", "a"), Some("b=c"));
    }
}
