//! API tokens, API keys and sessions as they appear in a request's JWT claims: which claims mark
//! a credential the database must check (`tid`, `sid`, `key_id`), which claims an API token's
//! extra claims may not set, the scopes a credential carries (the `scope` claim), and the
//! constant-time comparison of the proxy secret.

use serde_json::{Map, Value};

use crate::token::sha256;
use crate::AuthError;

/// Claim naming an API token (`auth.api_tokens.id`).
pub const TOKEN_ID: &str = "tid";
/// Claim naming a login session (`auth.sessions.id`).
pub const SESSION_ID: &str = "sid";
/// Claim naming the API key a JWT was exchanged for (`auth.api_keys.id`). Not `kid`: that is a
/// JOSE header parameter naming a signing key.
pub const KEY_ID: &str = "key_id";

/// Claim carrying a credential's scopes, space-separated (RFC 8693, section 4.2).
pub const SCOPE: &str = "scope";

/// Claims an API token's extra claims cannot set: the four the token is made of, the two other
/// credential markers, which would make `auth.check_request` look up the wrong table, and
/// `scope`, which only the token's `scopes` set.
pub const API_TOKEN_RESERVED: [&str; 7] = ["tid", "role", "iat", "exp", SESSION_ID, KEY_ID, SCOPE];

/// At most this many scopes on one credential.
pub const MAX_SCOPES: usize = 64;

/// One scope: 1 to 64 characters of RFC 6749's scope-token (section 3.3: `%x21 / %x23-5B /
/// %x5D-7E`, printable ASCII but space, `"` and `\`). The one rule, used by the tables' CHECK
/// constraints and by the functions that create credentials.
pub fn valid_scope(scope: &str) -> bool {
    (1..=64).contains(&scope.len())
        && scope
            .bytes()
            .all(|b| matches!(b, 0x21 | 0x23..=0x5B | 0x5D..=0x7E))
}

/// A credential's scopes: no NULL, each [`valid_scope`], at most [`MAX_SCOPES`], none twice
/// (22023). An empty list is valid: it means no `scope` claim. Nothing of the scopes is echoed
/// but their positions (1-based, as SQL arrays count).
pub fn check_scopes(scopes: &[Option<&str>]) -> Result<(), AuthError> {
    if scopes.len() > MAX_SCOPES {
        return Err(AuthError::InvalidParameter(format!(
            "at most {MAX_SCOPES} scopes"
        )));
    }
    for (i, scope) in scopes.iter().enumerate() {
        let Some(scope) = scope else {
            return Err(AuthError::InvalidParameter(
                "scopes must not contain NULL".into(),
            ));
        };
        if !valid_scope(scope) {
            return Err(AuthError::InvalidParameter(format!(
                "scope {} must be 1 to 64 characters, printable ASCII without space, \" and \\ \
                 (RFC 6749 scope-token)",
                i + 1
            )));
        }
        if scopes[..i].contains(&Some(scope)) {
            return Err(AuthError::InvalidParameter(format!(
                "scope {} repeats an earlier one",
                i + 1
            )));
        }
    }
    Ok(())
}

/// The `scope` claim of checked scopes: space-separated, in their order; None for no scopes.
pub fn scope_claim<S: AsRef<str>>(scopes: &[S]) -> Option<String> {
    (!scopes.is_empty()).then(|| {
        scopes
            .iter()
            .map(AsRef::as_ref)
            .collect::<Vec<_>>()
            .join(" ")
    })
}

/// Whether a `scope` claim (space-separated scopes) grants `wanted`: one of its scopes is
/// exactly `wanted`. An empty `wanted` is granted by no claim.
pub fn scope_grants(claim: &str, wanted: &str) -> bool {
    !wanted.is_empty() && claim.split(' ').any(|s| s == wanted)
}

/// Refuses extra claims that are not a JSON object or that set a reserved claim (22023).
pub fn check_extra_claims(claims: &Value) -> Result<&Map<String, Value>, AuthError> {
    let Value::Object(map) = claims else {
        return Err(AuthError::InvalidParameter(
            "claims must be a JSON object".into(),
        ));
    };
    if let Some(name) = API_TOKEN_RESERVED.iter().find(|n| map.contains_key(**n)) {
        return Err(AuthError::InvalidParameter(format!(
            "claim \"{name}\" is reserved and cannot be set in claims (reserved: {})",
            API_TOKEN_RESERVED.join(", ")
        )));
    }
    Ok(map)
}

/// The name of an API token or key: 1 to 256 characters. The one rule, used by the tables'
/// CHECK constraints and by the functions that create credentials.
pub fn valid_name(name: &str) -> bool {
    (1..=256).contains(&name.chars().count())
}

/// An API key's plan: 1 to 64 characters among `A-Z a-z 0-9 _ . : -` (it travels in a response
/// header and a claim). Used by the table's CHECK constraint and by `create_api_key`.
pub fn valid_plan(plan: &str) -> bool {
    (1..=64).contains(&plan.len())
        && plan
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-'))
}

/// The credential markers of one request's claims.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Markers {
    pub token_id: Option<[u8; 16]>,
    pub session_id: Option<[u8; 16]>,
    pub key_id: Option<[u8; 16]>,
}

impl Markers {
    pub fn is_empty(&self) -> bool {
        self.token_id.is_none() && self.session_id.is_none() && self.key_id.is_none()
    }
}

/// Cheap pre-check on the claims' JSON text: false means no marker can be present, so the
/// request needs no lookup. (A marker name inside a value only costs the full parse.)
pub fn may_carry_markers(claims_json: &str) -> bool {
    ["\"tid\"", "\"sid\"", "\"key_id\""]
        .iter()
        .any(|m| claims_json.contains(m))
}

/// Reads the markers of `request.jwt.claims`. Absent and JSON `null` markers are absent; a marker
/// that is not a UUID string, or claims that are not a JSON object, are refused: fail closed.
pub fn markers(claims_json: &str) -> Result<Markers, &'static str> {
    let claims: Map<String, Value> = match serde_json::from_str::<Value>(claims_json) {
        Ok(Value::Object(map)) => map,
        _ => return Err("the request's claims are not a JSON object"),
    };
    let get = |name: &str, why: &'static str| match claims.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => parse_uuid(s).map(Some).ok_or(why),
        Some(_) => Err(why),
    };
    Ok(Markers {
        token_id: get(TOKEN_ID, "claim \"tid\" is not a UUID")?,
        session_id: get(SESSION_ID, "claim \"sid\" is not a UUID")?,
        key_id: get(KEY_ID, "claim \"key_id\" is not a UUID")?,
    })
}

/// Parses the hyphenated UUID form (`8-4-4-4-12` hex digits, either case): the form PostgreSQL
/// prints and every token of this extension carries.
pub fn parse_uuid(text: &str) -> Option<[u8; 16]> {
    let b = text.as_bytes();
    if b.len() != 36 {
        return None;
    }
    let mut out = [0u8; 16];
    let mut nibbles = 0usize;
    for (i, &c) in b.iter().enumerate() {
        if matches!(i, 8 | 13 | 18 | 23) {
            if c != b'-' {
                return None;
            }
            continue;
        }
        let v = (c as char).to_digit(16)? as u8;
        out[nibbles / 2] |= if nibbles.is_multiple_of(2) { v << 4 } else { v };
        nibbles += 1;
    }
    Some(out)
}

/// Compares a presented secret with the configured one in time independent of where they differ
/// and of their lengths: both are hashed first, and the digests are compared without branching.
pub fn secrets_equal(presented: &[u8], expected: &[u8]) -> bool {
    let a = sha256(presented);
    let b = sha256(expected);
    let diff = a
        .iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const U: &str = "0b5ea6b2-3c4d-4e5f-8a9b-0c1d2e3f4a5b";

    #[test]
    fn reserved_claims_are_refused() {
        assert!(check_extra_claims(&json!({"org": 7, "sub": "x", "aud": "api"})).is_ok());
        for name in API_TOKEN_RESERVED {
            let err = check_extra_claims(&json!({ name: 1 })).unwrap_err();
            assert_eq!(err.sqlstate(), "22023");
            assert!(err.message().contains(&format!("\"{name}\"")), "{err}");
        }
        for bad in [json!([1]), json!("x"), json!(null), json!(3)] {
            assert_eq!(
                check_extra_claims(&bad).unwrap_err().message(),
                "claims must be a JSON object"
            );
        }
    }

    #[test]
    fn uuids() {
        let u = parse_uuid(U).unwrap();
        assert_eq!(u[0], 0x0b);
        assert_eq!(u[15], 0x5b);
        assert_eq!(parse_uuid(&U.to_uppercase()), Some(u));
        for bad in [
            "",
            "0b5ea6b23c4d4e5f8a9b0c1d2e3f4a5b",
            "{0b5ea6b2-3c4d-4e5f-8a9b-0c1d2e3f4a5b}",
            "0b5ea6b2-3c4d-4e5f-8a9b-0c1d2e3f4a5g",
            "0b5ea6b2+3c4d-4e5f-8a9b-0c1d2e3f4a5b",
            "0b5ea6b2-3c4d-4e5f-8a9b-0c1d2e3f4a5",
            "0b5ea6b2-3c4d-4e5f-8a9b-0c1d2e3f4a5bb",
            "ééééééé-3c4d-4e5f-8a9b-0c1d2e3f4a5b",
        ] {
            assert_eq!(parse_uuid(bad), None, "{bad}");
        }
    }

    #[test]
    fn markers_of_claims() {
        assert!(markers(r#"{"role":"anon"}"#).unwrap().is_empty());
        assert!(markers("{}").unwrap().is_empty());
        assert!(markers(r#"{"tid":null,"note":"tid"}"#).unwrap().is_empty());
        let m = markers(&format!(r#"{{"role":"r","tid":"{U}","sid":"{U}"}}"#)).unwrap();
        assert_eq!(m.token_id, parse_uuid(U));
        assert_eq!(m.session_id, parse_uuid(U));
        assert_eq!(m.key_id, None);
        let m = markers(&format!(r#"{{"key_id":"{U}"}}"#)).unwrap();
        assert_eq!(m.key_id, parse_uuid(U));
        assert!(markers(r#"{"tid":"nope"}"#).is_err());
        assert!(markers(r#"{"sid":5}"#).is_err());
        assert!(markers(r#"{"key_id":["x"]}"#).is_err());
        assert!(markers("[]").is_err());
        assert!(markers("not json").is_err());
    }

    #[test]
    fn marker_precheck() {
        assert!(!may_carry_markers(r#"{"role":"anon"}"#));
        assert!(!may_carry_markers(""));
        assert!(!may_carry_markers(r#"{"tidy":1,"sidx":2}"#));
        for s in [r#"{"tid":1}"#, r#"{"sid":1}"#, r#"{"key_id":1}"#] {
            assert!(may_carry_markers(s), "{s}");
        }
    }

    #[test]
    fn secret_comparison() {
        assert!(secrets_equal(b"s3cret-proxy-value", b"s3cret-proxy-value"));
        assert!(!secrets_equal(b"s3cret-proxy-valuf", b"s3cret-proxy-value"));
        assert!(!secrets_equal(b"", b"s3cret-proxy-value"));
        assert!(!secrets_equal(
            b"s3cret-proxy-value-and-more",
            b"s3cret-proxy-value"
        ));
    }

    #[test]
    fn scopes() {
        for good in [
            "a",
            "read:orders",
            "!#[]~",
            "https://api.example/x",
            &"s".repeat(64),
        ] {
            assert!(valid_scope(good), "{good:?}");
        }
        for bad in [
            "",
            "a b",
            "a\"b",
            "a\\b",
            "é",
            "a\tb",
            "\u{7f}",
            &"s".repeat(65),
        ] {
            assert!(!valid_scope(bad), "{bad:?}");
        }
        assert!(check_scopes(&[]).is_ok());
        assert!(check_scopes(&[Some("read"), Some("write")]).is_ok());
        let msg = |s: &[Option<&str>]| check_scopes(s).unwrap_err().message();
        assert_eq!(msg(&[Some("a"), None]), "scopes must not contain NULL");
        assert!(msg(&[Some("a"), Some("b c")]).starts_with("scope 2 must be"));
        assert_eq!(
            msg(&[Some("a"), Some("b"), Some("a")]),
            "scope 3 repeats an earlier one"
        );
        let many: Vec<String> = (0..65).map(|i| format!("s{i}")).collect();
        let many: Vec<Option<&str>> = many.iter().map(|s| Some(s.as_str())).collect();
        assert_eq!(msg(&many), "at most 64 scopes");
        assert!(check_scopes(&many[..64]).is_ok());
        assert_eq!(check_scopes(&[None]).unwrap_err().sqlstate(), "22023");

        assert_eq!(scope_claim::<&str>(&[]), None);
        assert_eq!(
            scope_claim(&["read", "write"]).as_deref(),
            Some("read write")
        );
        assert!(scope_grants("read write", "write") && scope_grants("read", "read"));
        for (claim, wanted) in [
            ("read write", "rea"),
            ("read write", "read write"),
            ("read", ""),
            ("", ""),
            ("read  write", ""),
            ("readwrite", "read"),
        ] {
            assert!(!scope_grants(claim, wanted), "{claim:?} {wanted:?}");
        }
    }

    #[test]
    fn names_and_plans() {
        assert!(valid_name("a") && valid_name(&"é".repeat(256)));
        assert!(!valid_name("") && !valid_name(&"a".repeat(257)));
        assert!(valid_plan("pro") && valid_plan("team:gold-2.v1_x") && valid_plan(&"a".repeat(64)));
        for bad in ["", "a b", "pro\n", "é", "a;b", "x/y"] {
            assert!(!valid_plan(bad), "{bad:?}");
        }
        assert!(!valid_plan(&"a".repeat(65)));
    }
}
