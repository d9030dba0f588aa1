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

/// `name=value; Path=…; Max-Age=…; HttpOnly; SameSite=…[; Secure]`. A `max_age` of 0 with an
/// empty value clears the cookie.
pub fn set_cookie(
    name: &str,
    value: &str,
    max_age: i64,
    attrs: &Attributes,
) -> Result<String, AuthError> {
    check_path(attrs.path)?;
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
    let mut c = format!(
        "{name}={value}; Path={}; Max-Age={}; HttpOnly; SameSite={}",
        attrs.path,
        max_age.max(0),
        attrs.same_site.name()
    );
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
        };
        assert!(set_cookie("a", "x", 1, &bad_path).is_err());
        let none_insecure = Attributes {
            path: "/",
            same_site: SameSite::None,
            secure: false,
        };
        assert_eq!(
            set_cookie("a", "x", 1, &none_insecure)
                .unwrap_err()
                .sqlstate(),
            "22023"
        );
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
