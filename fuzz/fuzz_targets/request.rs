//! Request plumbing (`request::prefers_rollback`, `bearer_token`, `credential_cookie`) on
//! arbitrary header texts.
//!
//! Input: text split at newlines into a header candidate, a second text (a cookie name, or more
//! preferences), and a JSON text standing for `request.cookies`.
//! Invariants:
//! - `prefers_rollback` is case-insensitive, composes over `,` (a, b ⇒ a or b), stays true
//!   whatever is added (fail closed), and is true only when some `,`/`;` piece reads `tx=rollback`
//!   once whitespace and quotes are dropped;
//! - a bearer token is non-empty, free of whitespace and control characters, and is what follows
//!   `Bearer` and spaces at the end of the trimmed value; any such token wrapped as
//!   `Bearer <token>` (any case, extra spaces) reads back, and under another scheme does not;
//! - `credential_cookie` with a raw header is `Duplicate` exactly when the name occurs twice or
//!   more among `parse_cookie_header`'s pairs, else the first pair's value when usable, whatever
//!   `request.cookies` says; without one it is the JSON member when a usable string; a returned
//!   value is never empty and never holds NUL; planting a second same-named cookie always gives
//!   `Duplicate`.
//! - `anonymous_claims` holds only for unset/empty claims or a JSON object whose one member is
//!   `role` equal to the current role;
//! - `cross_site_refusal` lets every safe method through, decides by `Sec-Fetch-Site` alone when
//!   it is present (only `same-origin`, or `same-site` when allowed), else allows only an origin
//!   listed exactly, and refuses a request without either header.
#![no_main]

use auth_core::cookie;
use auth_core::request::{self, CookieLookup};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};

fn usable(v: &str) -> bool {
    !v.is_empty() && !v.contains('\0')
}

fn check_prefer(a: &str, b: &str) {
    let r = request::prefers_rollback(a);
    assert_eq!(r, request::prefers_rollback(&a.to_ascii_uppercase()));
    assert_eq!(r, request::prefers_rollback(&a.to_ascii_lowercase()));
    assert_eq!(
        request::prefers_rollback(&format!("{a},{b}")),
        r || request::prefers_rollback(b)
    );
    assert!(request::prefers_rollback(&format!("{a}, TX = Rollback")));
    if r {
        assert!(request::prefers_rollback(&format!("{a}, tx=commit")));
        assert!(request::prefers_rollback(&format!("tx=commit,{a}")));
        let squeezed = |p: &str| {
            p.chars()
                .filter(|c| !c.is_whitespace() && *c != '"')
                .collect::<String>()
                .to_ascii_lowercase()
        };
        assert!(
            a.split([',', ';']).any(|p| squeezed(p) == "tx=rollback"),
            "{a:?}"
        );
    } else {
        assert!(!request::prefers_rollback(&format!("{a}, tx=commit")));
    }
}

fn check_bearer(text: &str) {
    if let Some(t) = request::bearer_token(text) {
        assert!(!t.is_empty());
        assert!(!t.chars().any(|c| c.is_whitespace() || c.is_control()));
        let trimmed = text.trim();
        assert!(trimmed.ends_with(t));
        let head = &trimmed[..trimmed.len() - t.len()];
        assert!(head
            .get(..6)
            .is_some_and(|s| s.eq_ignore_ascii_case("bearer")));
        assert!(head.len() > 6 && head.bytes().skip(6).all(|b| b == b' '));
    }
    // The input as a token.
    let is_token = !text.is_empty() && !text.chars().any(|c| c.is_whitespace() || c.is_control());
    // (Whitespace around it would be trimmed with the value's: not a case for this check.)
    if text == text.trim() {
        for wrapped in [format!("Bearer {text}"), format!(" bEaReR   {text} ")] {
            let got = request::bearer_token(&wrapped);
            assert_eq!(got, is_token.then_some(text), "{wrapped:?}");
        }
    }
    assert_eq!(request::bearer_token(&format!("Basic {text}")), None);
    if !text.starts_with(' ') {
        assert_eq!(request::bearer_token(&format!("Bearer{text}")), None);
    }
}

fn check_cookie(header: &str, name: &str, cookies: &Map<String, Value>) {
    let pairs = cookie::parse_cookie_header(header);
    let count = pairs.iter().filter(|(n, _)| *n == name).count();
    let got = request::credential_cookie(Some(header), Some(cookies), name);
    // The raw header alone decides.
    assert_eq!(got, request::credential_cookie(Some(header), None, name));
    match got {
        CookieLookup::Duplicate => assert!(count >= 2 && !name.is_empty()),
        CookieLookup::One(v) => {
            assert!(usable(v));
            assert_eq!(count, 1);
            assert_eq!(cookie::find_cookie(header, name), Some(v));
        }
        CookieLookup::Absent => {
            assert!(
                name.is_empty()
                    || count == 0
                    || (count == 1 && !usable(cookie::find_cookie(header, name).unwrap()))
            );
        }
    }
    // Without a raw header: the JSON member, when a usable string.
    let from_json = request::credential_cookie(None, Some(cookies), name);
    match cookies.get(name) {
        Some(Value::String(v)) if usable(v) && !name.is_empty() => {
            assert_eq!(from_json, CookieLookup::One(v.as_str()))
        }
        _ => assert_eq!(from_json, CookieLookup::Absent),
    }
    assert_eq!(
        request::credential_cookie(None, None, name),
        CookieLookup::Absent
    );
    // Tossing: a planted second cookie of a name that reads back as itself.
    if !name.is_empty() && name == name.trim() && !name.contains([';', '=']) {
        let tossed = format!("{header};{name}=planted");
        let want = if count == 0 {
            CookieLookup::One("planted")
        } else {
            CookieLookup::Duplicate
        };
        assert_eq!(request::credential_cookie(Some(&tossed), None, name), want);
    }
}

fn check_anonymous(claims: &str, role: &str) {
    let got = request::anonymous_claims(Some(claims), role);
    let want = claims.is_empty()
        || matches!(serde_json::from_str::<Value>(claims),
            Ok(Value::Object(m)) if m.len() == 1 && m.get("role").and_then(Value::as_str) == Some(role));
    assert_eq!(got, want, "{claims:?} {role:?}");
    assert!(request::anonymous_claims(None, role));
}

fn check_cross_site(method: &str, site: &str, origin: &str, allowed: &str) {
    for allow_same_site in [false, true] {
        let policy = request::SitePolicy {
            allow_same_site,
            allowed_origins: allowed,
        };
        let refusal =
            |s: Option<&str>, o: Option<&str>| request::cross_site_refusal(method, s, o, &policy);
        if request::is_safe_method(method) {
            assert_eq!(refusal(Some(site), Some(origin)), None);
            assert_eq!(refusal(None, None), None);
            continue;
        }
        assert_eq!(refusal(None, None), Some(request::CrossSite::NoProvenance));
        let t = site.trim().to_ascii_lowercase();
        let site_ok = t == "same-origin" || (allow_same_site && t == "same-site");
        assert_eq!(
            refusal(Some(site), Some(origin)).is_none(),
            site_ok,
            "{site:?}"
        );
        assert_eq!(refusal(Some(site), None).is_none(), site_ok);
        let listed = !origin.trim().is_empty()
            && allowed
                .split(',')
                .any(|o| !o.trim().is_empty() && o.trim() == origin.trim());
        assert_eq!(
            refusal(None, Some(origin)).is_none(),
            listed,
            "{origin:?} in {allowed:?}"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut lines = text.splitn(3, '\n');
    let first = lines.next().unwrap_or("");
    let second = lines.next().unwrap_or("");
    let third = lines.next().unwrap_or("");

    check_prefer(text, second);
    check_prefer(first, second);
    check_bearer(text);
    check_bearer(first);

    let name = if second.is_empty() {
        "refresh_token"
    } else {
        second
    };
    let cookies = match serde_json::from_str::<Value>(third) {
        Ok(Value::Object(map)) => map,
        _ => Map::from_iter([(name.to_string(), Value::String(third.to_string()))]),
    };
    check_cookie(first, name, &cookies);
    check_cookie(text, "refresh_token", &cookies);

    check_anonymous(text, second);
    check_anonymous(first, "anon");
    check_cross_site(first, second, third, text);
    check_cross_site("POST", first, second, third);
});
