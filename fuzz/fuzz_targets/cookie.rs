//! Cookie handling: `cookie::parse_cookie_header`, `find_cookie`, `unquote` and the credential
//! rule `request::credential_cookie` on arbitrary `Cookie` headers (what `auth.refresh_token`
//! and `auth.logout` read from `request.headers`), and `set_cookie` / `set_cookie_headers` on
//! arbitrary values.
//!
//! Invariants: parsed names are non-empty, trimmed and free of `;` and `=`; values are free of
//! `;`; `find_cookie` returns the first pair of that name; a credential cookie is `Duplicate`
//! exactly when its name has two pairs or more, else that pair's value unless empty or holding
//! NUL (then absent); `unquote` strips exactly one pair of
//! surrounding quotes; a `Set-Cookie` we emit has exactly our attributes (a value can never inject
//! one), reads back through the parser, and its `response.headers` JSON round-trips.
#![no_main]

use auth_core::cookie::{self, Attributes, SameSite};
use auth_core::request::{self, CookieLookup};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(header) = std::str::from_utf8(data) else {
        return;
    };

    let pairs = cookie::parse_cookie_header(header);
    assert!(pairs.len() <= header.matches(';').count() + 1);
    // (The first 32 pairs: each lookup re-parses the header, and long headers would make this
    // quadratic.)
    for (i, (name, value)) in pairs.iter().enumerate().take(32) {
        assert!(!name.is_empty());
        assert_eq!(*name, name.trim());
        assert!(!name.contains(';') && !name.contains('='));
        assert!(!value.contains(';'));
        let first = pairs.iter().position(|(n, _)| n == name).unwrap();
        assert_eq!(cookie::find_cookie(header, name), Some(pairs[first].1));
        assert!(first <= i);
        let count = pairs.iter().filter(|(n, _)| n == name).count();
        let value = pairs[first].1;
        let want = if count >= 2 {
            CookieLookup::Duplicate
        } else if value.is_empty() || value.contains('\0') {
            CookieLookup::Absent
        } else {
            CookieLookup::One(value)
        };
        assert_eq!(request::credential_cookie(Some(header), None, name), want);
    }
    // A name no pair has is not found.
    let absent = format!(
        "{}x",
        pairs
            .iter()
            .map(|(n, _)| *n)
            .max_by_key(|n| n.len())
            .unwrap_or("")
    );
    assert_eq!(cookie::find_cookie(header, &absent), None);
    assert_eq!(
        request::credential_cookie(Some(header), None, &absent),
        CookieLookup::Absent
    );

    let unquoted = cookie::unquote(header);
    if unquoted.len() != header.len() {
        assert!(header.len() >= 2 && header.starts_with('"') && header.ends_with('"'));
        assert_eq!(unquoted, &header[1..header.len() - 1]);
    } else {
        assert_eq!(unquoted, header);
    }

    // Set-Cookie with the input as the value (and, split at the first '|', as the path).
    let (value, path) = header.split_once('|').unwrap_or((header, "/"));
    for (same_site, secure) in [
        (SameSite::Lax, true),
        (SameSite::Strict, false),
        (SameSite::None, true),
        (SameSite::None, false),
    ] {
        let attrs = Attributes {
            path,
            same_site,
            secure,
            domain: None,
        };
        let Ok(set) = cookie::set_cookie("refresh_token", value, 60, &attrs) else {
            continue;
        };
        assert!(same_site != SameSite::None || secure);
        assert!(cookie::check_path(path).is_ok());
        let mut want = vec![
            format!("refresh_token={value}"),
            format!("Path={path}"),
            "Max-Age=60".to_string(),
            "HttpOnly".to_string(),
            format!("SameSite={}", same_site.name()),
        ];
        if secure {
            want.push("Secure".into());
        }
        assert_eq!(set.split("; ").collect::<Vec<_>>(), want);
        // A browser sends back `name=value`; we read the same value.
        let sent = format!("refresh_token={value}");
        assert_eq!(cookie::find_cookie(&sent, "refresh_token"), Some(value));
        let want = if value.is_empty() {
            CookieLookup::Absent
        } else {
            CookieLookup::One(value)
        };
        assert_eq!(
            request::credential_cookie(Some(&sent), None, "refresh_token"),
            want
        );
        // The same cookie sent twice (a planted twin) is never a credential.
        let twice = format!("{sent}; {sent}");
        assert_eq!(
            request::credential_cookie(Some(&twice), None, "refresh_token"),
            CookieLookup::Duplicate
        );
        let json = cookie::set_cookie_headers(std::slice::from_ref(&set));
        let parsed: Value = serde_json::from_str(&json).unwrap();
        assert_eq!(parsed[0]["Set-Cookie"], Value::String(set));
    }
});
