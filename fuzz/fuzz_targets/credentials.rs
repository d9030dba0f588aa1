//! Token shapes and request credentials: refresh-token and API-key shape checks, the display
//! prefix, UUID parsing, the claim markers `auth.check_request` reads (`tid`, `sid`, `key_id`),
//! its substring fast path, extra-claim checks of API tokens, and the constant-time comparison.
//!
//! Also the scope rule of API tokens and keys, the `scope` claim and `auth.has_scope`'s test, and
//! the shape of imported API keys.
//!
//! Invariants: refresh tokens are exactly 43 base64url characters, `auth`'s own keys the same
//! behind `pgauth_`; a presented or imported key is exactly 20 to 256 printable ASCII characters
//! without space, every own key is one, and a refused import never echoes the key; the display
//! prefixes are char-boundary prefixes of at most 13 (own) or 4 (imported) characters; a scope
//! is exactly 1 to 64 RFC 6749 scope-token characters; checked scopes joined into a claim grant
//! each of them and nothing else; an accepted UUID prints
//! back as its lowercase text; the fast path of check_request (`may_carry_markers`) never skips
//! claims that carry a marker, once the claims are in the compact form PostgREST writes; reserved
//! claims never pass `check_extra_claims`; `secrets_equal(a, b) == (a == b)`.
#![no_main]

use auth_core::credentials::{self, API_TOKEN_RESERVED};
use auth_core::token;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fn uuid_text(u: &[u8; 16]) -> String {
    let hex: String = u.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

fuzz_target!(|data: &[u8]| {
    let half = data.len() / 2;
    assert_eq!(
        credentials::secrets_equal(&data[..half], &data[half..]),
        data[..half] == data[half..]
    );
    assert!(credentials::secrets_equal(data, data));

    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };

    // Shapes.
    let b64 = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    assert_eq!(
        token::looks_like_refresh_token(text),
        text.len() == 43 && b64(text)
    );
    let own = text
        .strip_prefix("pgauth_")
        .is_some_and(|r| r.len() == 43 && b64(r));
    assert_eq!(token::is_own_api_key(text), own);
    let printable =
        (20..=256).contains(&text.len()) && text.bytes().all(|b| (0x21..=0x7E).contains(&b));
    assert_eq!(token::looks_like_api_key(text), printable);
    assert!(!own || printable);
    match token::check_imported_api_key(text) {
        Ok(()) => assert!(printable),
        Err(e) => {
            assert!(!printable);
            assert_eq!(e.sqlstate(), "22023");
            assert_eq!(
                e.message(),
                "key must be 20 to 256 printable ASCII characters without spaces"
            );
        }
    }
    let prefix = token::api_key_display_prefix(text);
    assert!(text.starts_with(prefix));
    assert!(prefix.chars().count() <= token::API_KEY_DISPLAY_LEN);
    assert!(prefix.len() == text.len() || prefix.chars().count() == token::API_KEY_DISPLAY_LEN);
    let shown = token::imported_key_display_prefix(text);
    assert!(text.starts_with(shown));
    if !own {
        assert!(shown.chars().count() <= token::IMPORTED_KEY_DISPLAY_LEN);
    }

    // Scopes: the input split on newlines is a list of scopes.
    let valid = |s: &str| {
        (1..=64).contains(&s.len())
            && s.bytes()
                .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
    };
    let scopes: Vec<&str> = text.split('\n').collect();
    for s in &scopes {
        assert_eq!(credentials::valid_scope(s), valid(s), "{s:?}");
    }
    let listed: Vec<Option<&str>> = scopes.iter().copied().map(Some).collect();
    match credentials::check_scopes(&listed) {
        Ok(()) => {
            assert!(scopes.len() <= credentials::MAX_SCOPES);
            assert!(scopes.iter().all(|s| valid(s)));
            let claim = credentials::scope_claim(&scopes).unwrap();
            for (i, s) in scopes.iter().enumerate() {
                assert!(credentials::scope_grants(&claim, s));
                assert!(!scopes[..i].contains(s), "a repeated scope passed");
            }
            // Nothing else: any wanted scope is granted exactly when it is one of them.
            for wanted in text.split(['\n', ' ']) {
                assert_eq!(
                    credentials::scope_grants(&claim, wanted),
                    scopes.contains(&wanted)
                );
            }
        }
        Err(e) => {
            assert_eq!(e.sqlstate(), "22023");
            // Positions only, never a scope.
            assert!(!e.message().contains('\n'));
        }
    }
    if let Some((claim, wanted)) = text.split_once('\n') {
        assert_eq!(
            credentials::scope_grants(claim, wanted),
            !wanted.is_empty() && claim.split(' ').any(|s| s == wanted)
        );
    }

    // UUIDs.
    if let Some(u) = credentials::parse_uuid(text) {
        assert_eq!(uuid_text(&u), text.to_ascii_lowercase());
    }

    // Claim markers, as check_request reads request.jwt.claims.
    match credentials::markers(text) {
        Ok(m) => {
            let Ok(Value::Object(claims)) = serde_json::from_str::<Value>(text) else {
                panic!("markers accepted claims that are not a JSON object");
            };
            for (name, got) in [
                (credentials::TOKEN_ID, m.token_id),
                (credentials::SESSION_ID, m.session_id),
                (credentials::KEY_ID, m.key_id),
            ] {
                match claims.get(name) {
                    None | Some(Value::Null) => assert_eq!(got, None),
                    Some(Value::String(s)) => assert_eq!(got, credentials::parse_uuid(s)),
                    Some(other) => panic!("{name} = {other} accepted"),
                }
            }
            // PostgREST hands the claims over as compact JSON it wrote itself (letters never
            // escaped): the fast path must see any marker there.
            let compact = serde_json::to_string(&claims).unwrap();
            if !m.is_empty() {
                assert!(credentials::may_carry_markers(&compact), "{compact}");
            }
            // And the fast path is sound on the compact text too.
            if !credentials::may_carry_markers(&compact) {
                assert!(credentials::markers(&compact).unwrap().is_empty());
            }
        }
        Err(why) => {
            // Fixed messages: nothing of the claims is echoed.
            assert!([
                "the request's claims are not a JSON object",
                "claim \"tid\" is not a UUID",
                "claim \"sid\" is not a UUID",
                "claim \"key_id\" is not a UUID",
            ]
            .contains(&why));
        }
    }

    // Extra claims of API tokens.
    if let Ok(value) = serde_json::from_str::<Value>(text) {
        match credentials::check_extra_claims(&value) {
            Ok(map) => assert!(API_TOKEN_RESERVED.iter().all(|n| !map.contains_key(*n))),
            Err(e) => {
                assert_eq!(e.sqlstate(), "22023");
                assert!(
                    !value.is_object()
                        || API_TOKEN_RESERVED
                            .iter()
                            .any(|n| value.as_object().unwrap().contains_key(*n))
                );
            }
        }
    }
});
