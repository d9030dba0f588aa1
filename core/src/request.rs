//! Request plumbing rules over the texts PostgREST puts into settings: the `Prefer` header, the
//! `Authorization` header, and which credential cookie a request carries.

use crate::cookie;

/// True when a `Prefer` header value asks PostgREST to roll the transaction back
/// (`tx=rollback` among comma-separated preferences, case-insensitive). Fails closed: a header
/// naming both `tx=commit` and `tx=rollback` counts as rollback.
pub fn prefers_rollback(prefer: &str) -> bool {
    prefer.split(',').any(|p| {
        let p = p.trim();
        match p.split_once('=') {
            Some((k, v)) => {
                k.trim().eq_ignore_ascii_case("tx") && v.trim().eq_ignore_ascii_case("rollback")
            }
            None => false,
        }
    })
}

/// The token of an `Authorization: Bearer <token>` value; None for another scheme, an empty
/// token or one holding whitespace or control characters.
pub fn bearer_token(authorization: &str) -> Option<&str> {
    let v = authorization.trim();
    let (scheme, rest) = v.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = rest.trim();
    (!token.is_empty() && !token.chars().any(|c| c.is_whitespace() || c.is_control()))
        .then_some(token)
}

/// What a request carries under one credential cookie name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CookieLookup<'a> {
    Absent,
    One(&'a str),
    /// The name occurs more than once in the raw `Cookie` header: a cookie planted beside the
    /// real one (cookie tossing). The credential is refused.
    Duplicate,
}

/// The one rule for credential cookies: from the raw `Cookie` header when available (a second
/// occurrence of the name refuses the credential), else the value PostgREST parsed into
/// `request.cookies`. Empty values and values holding NUL read as absent.
pub fn credential_cookie<'a>(
    raw_header: Option<&'a str>,
    parsed: Option<&'a str>,
    name: &str,
) -> CookieLookup<'a> {
    let usable = |v: &'a str| {
        if v.is_empty() || v.contains('\0') {
            CookieLookup::Absent
        } else {
            CookieLookup::One(v)
        }
    };
    match raw_header {
        Some(header) => {
            let mut found = cookie::parse_cookie_header(header)
                .into_iter()
                .filter(|(n, _)| *n == name)
                .map(|(_, v)| v);
            match (found.next(), found.next()) {
                (None, _) => CookieLookup::Absent,
                (Some(_), Some(_)) => CookieLookup::Duplicate,
                (Some(v), None) => usable(v),
            }
        }
        None => parsed.map_or(CookieLookup::Absent, usable),
    }
}
