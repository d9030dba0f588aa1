//! Claim checks: the strict policy of `auth.jwt_verify` and pgjwt's time semantics for `auth.verify`.

use serde_json::{Map, Value};

use crate::error::Rejection;

/// What `auth.jwt_verify` demands of a payload besides its signature.
#[derive(Debug, Clone)]
pub struct Policy<'a> {
    /// Seconds since the Unix epoch.
    pub now: f64,
    /// Clock skew allowed on `exp`, `nbf` and `iat`, in seconds.
    pub leeway: f64,
    pub audience: Option<&'a str>,
    pub issuer: Option<&'a str>,
}

fn numeric(payload: &Map<String, Value>, name: &str) -> Result<Option<f64>, Rejection> {
    match payload.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match n.as_f64() {
            Some(v) if v.is_finite() => Ok(Some(v)),
            _ => Err(Rejection::Malformed("a time claim is out of range")),
        },
        Some(_) => Err(Rejection::Malformed(match name {
            "exp" => "\"exp\" is not a number",
            "nbf" => "\"nbf\" is not a number",
            _ => "\"iat\" is not a number",
        })),
    }
}

/// Refuses a payload holding a NUL character (JSON `\u0000`) in any string, member names
/// included, at any depth: `Malformed("payload holds a NUL character")`. PostgreSQL's text and
/// jsonb cannot hold NUL, so such claims would fail later with 22P05 instead of a 401. Strings
/// without NUL, and numbers, booleans and nulls, pass; an empty payload passes.
pub fn check_no_nul(payload: &Map<String, Value>) -> Result<(), Rejection> {
    // An explicit stack: claims built in code may nest deeper than parsed JSON can (128 levels).
    let mut pending: Vec<&Map<String, Value>> = vec![payload];
    let mut values: Vec<&Value> = Vec::new();
    let refused = Err(Rejection::Malformed("payload holds a NUL character"));
    while let Some(map) = pending.pop() {
        for (name, value) in map {
            if name.contains('\0') {
                return refused;
            }
            values.push(value);
        }
        while let Some(value) = values.pop() {
            match value {
                Value::String(s) if s.contains('\0') => return refused,
                Value::Array(items) => values.extend(items),
                Value::Object(inner) => pending.push(inner),
                _ => {}
            }
        }
    }
    Ok(())
}

/// The strict claim policy of `auth.jwt_verify`, in this order: [`check_no_nul`] (so claims that
/// pass can be handed to PostgreSQL), then RFC 7519 §4.1: `exp` and `nbf` (with leeway), `iat`
/// not in the future, `aud` and `iss` when the policy names them. A time claim that is present
/// but not a number is refused: fail closed.
pub fn check(payload: &Map<String, Value>, policy: &Policy) -> Result<(), Rejection> {
    check_no_nul(payload)?;
    if let Some(exp) = numeric(payload, "exp")? {
        if policy.now >= exp + policy.leeway {
            return Err(Rejection::Expired);
        }
    }
    if let Some(nbf) = numeric(payload, "nbf")? {
        if policy.now + policy.leeway < nbf {
            return Err(Rejection::NotYetValid);
        }
    }
    if let Some(iat) = numeric(payload, "iat")? {
        if iat > policy.now + policy.leeway {
            return Err(Rejection::NotYetValid);
        }
    }
    if let Some(want) = policy.audience {
        let ok = match payload.get("aud") {
            Some(Value::String(aud)) => aud == want,
            Some(Value::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(want)),
            _ => false,
        };
        if !ok {
            return Err(Rejection::WrongAudience);
        }
    }
    if let Some(want) = policy.issuer {
        if payload.get("iss").and_then(Value::as_str) != Some(want) {
            return Err(Rejection::WrongIssuer);
        }
    }
    Ok(())
}

/// pgjwt 0.2.0's rule: `valid` needs `nbf <= now < exp`, where a claim that does not read as a
/// number (pgjwt's `try_cast_double` of `payload->>'exp'`) is ignored. Numeric strings count.
/// Compared in whole microseconds, as PostgreSQL's `to_timestamp` rounds, so `exp` equal to the
/// transaction time is exactly "at now".
pub fn pgjwt_time_valid(payload: &Map<String, Value>, now_micros: i64) -> bool {
    let now = now_micros as f64;
    fn as_double(v: Option<&Value>) -> Option<f64> {
        let v = match v? {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse::<f64>().ok(),
            _ => None,
        }?;
        (!v.is_nan()).then_some((v * 1e6).round())
    }
    let nbf_ok = as_double(payload.get("nbf")).is_none_or(|nbf| nbf <= now);
    let exp_ok = as_double(payload.get("exp")).is_none_or(|exp| now < exp);
    nbf_ok && exp_ok
}

/// The claims of a session's access token that `auth.access_token_hook` may not change: who the
/// token is for and how long it lives (`role`, `sub`, `sid`, `iat`, `exp`), the markers of API
/// credentials (`tid`, `key_id`, which a session token must never carry), and the configured
/// audience and issuer.
pub const RESERVED_CLAIMS: [&str; 9] = [
    "role", "sub", "sid", "iat", "exp", "tid", "key_id", "aud", "iss",
];

/// Why the claims an access-token hook returned are refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookRefusal {
    /// NULL, or JSON other than an object.
    NotAnObject,
    /// A reserved claim is added, removed or given another value.
    Changed(&'static str),
}

impl std::fmt::Display for HookRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HookRefusal::NotAnObject => f.write_str("returned a non-object"),
            HookRefusal::Changed(name) => write!(f, "claim \"{name}\" may not be changed"),
        }
    }
}

/// The claims to sign from what an access-token hook `returned` (None for SQL NULL), given the
/// claims it was shown (`given`): an object whose reserved claims ([`RESERVED_CLAIMS`]) are
/// exactly those of `given` — each present in both with equal JSON values (numbers compare by
/// kind too: `1` and `1.0` differ), or absent from both. Other claims may be added, changed or
/// removed. The first reserved claim that differs, in [`RESERVED_CLAIMS`] order, is named.
pub fn hook_claims(
    given: &Map<String, Value>,
    returned: Option<Value>,
) -> Result<Map<String, Value>, HookRefusal> {
    let Some(Value::Object(claims)) = returned else {
        return Err(HookRefusal::NotAnObject);
    };
    match RESERVED_CLAIMS
        .iter()
        .find(|name| given.get(**name) != claims.get(**name))
    {
        Some(name) => Err(HookRefusal::Changed(name)),
        None => Ok(claims),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    fn policy() -> Policy<'static> {
        Policy {
            now: 1_000_000.0,
            leeway: 30.0,
            audience: None,
            issuer: None,
        }
    }

    #[test]
    fn expiry_with_leeway() {
        let p = policy();
        assert_eq!(check(&obj(json!({"exp": 1_000_031})), &p), Ok(()));
        assert_eq!(check(&obj(json!({"exp": 999_971})), &p), Ok(()));
        assert_eq!(
            check(&obj(json!({"exp": 999_970})), &p),
            Err(Rejection::Expired)
        );
        assert_eq!(check(&obj(json!({"exp": -5})), &p), Err(Rejection::Expired));
        assert_eq!(check(&obj(json!({"exp": 999_970.5})), &p), Ok(()));
    }

    #[test]
    fn not_before_and_issued_at() {
        let p = policy();
        assert_eq!(check(&obj(json!({"nbf": 1_000_030})), &p), Ok(()));
        assert_eq!(
            check(&obj(json!({"nbf": 1_000_031})), &p),
            Err(Rejection::NotYetValid)
        );
        assert_eq!(
            check(&obj(json!({"iat": 1_000_031})), &p),
            Err(Rejection::NotYetValid)
        );
        assert_eq!(check(&obj(json!({"iat": 1})), &p), Ok(()));
    }

    #[test]
    fn non_numeric_times_are_refused() {
        let p = policy();
        for bad in [
            json!({"exp": "2000000000"}),
            json!({"nbf": true}),
            json!({"iat": [1]}),
            json!({"exp": {}}),
        ] {
            assert!(
                matches!(check(&obj(bad.clone()), &p), Err(Rejection::Malformed(_))),
                "{bad}"
            );
        }
        assert_eq!(check(&obj(json!({"exp": 1e300})), &p), Ok(()));
        assert_eq!(check(&obj(json!({"exp": null})), &p), Ok(()));
    }

    #[test]
    fn audience_and_issuer() {
        let p = Policy {
            audience: Some("api"),
            issuer: Some("auth"),
            ..policy()
        };
        assert_eq!(
            check(&obj(json!({"aud": "api", "iss": "auth"})), &p),
            Ok(())
        );
        assert_eq!(
            check(&obj(json!({"aud": ["x", "api"], "iss": "auth"})), &p),
            Ok(())
        );
        assert_eq!(
            check(&obj(json!({"aud": "web", "iss": "auth"})), &p),
            Err(Rejection::WrongAudience)
        );
        assert_eq!(
            check(&obj(json!({"iss": "auth"})), &p),
            Err(Rejection::WrongAudience)
        );
        assert_eq!(
            check(&obj(json!({"aud": "api", "iss": "evil"})), &p),
            Err(Rejection::WrongIssuer)
        );
        assert_eq!(
            check(&obj(json!({"aud": "api"})), &p),
            Err(Rejection::WrongIssuer)
        );
        // Without a configured audience the claim is not looked at.
        assert_eq!(check(&obj(json!({"aud": 5})), &policy()), Ok(()));
    }

    #[test]
    fn nul_anywhere_is_refused() {
        let want = Err(Rejection::Malformed("payload holds a NUL character"));
        // Parsed from JSON text, as a token's payload is.
        let parse = |text: &str| -> Map<String, Value> { serde_json::from_str(text).unwrap() };
        for text in [
            r#"{"role":"\u0000"}"#,
            r#"{"role":"admin\u0000"}"#,
            r#"{"\u0000":1}"#,
            r#"{"ro\u0000le":"admin"}"#,
            r#"{"app":{"team":"a\u0000b"}}"#,
            r#"{"app":{"x\u0000":null}}"#,
            r#"{"groups":["a","b\u0000"]}"#,
            r#"{"deep":[[[{"k":[{"v":"\u0000"}]}]]]}"#,
            r#"{"exp":1,"sub":"\u0000"}"#,
        ] {
            let payload = parse(text);
            assert_eq!(check_no_nul(&payload), want, "{text}");
            // check runs it first: before the expired exp of the last case, say.
            assert_eq!(check(&payload, &policy()), want, "{text}");
        }
        for text in [
            "{}",
            r#"{"role":"anon","n":0,"f":false,"z":null}"#,
            // An escaped backslash followed by "u0000" is six characters, not a NUL.
            r#"{"path":"\\u0000"}"#,
            r#"{"a":["\u0001","\u001f"],"b":{"c":"0"}}"#,
            r#"{"u":"é€😀"}"#,
        ] {
            assert_eq!(check_no_nul(&parse(text)), Ok(()), "{text}");
        }
        assert_eq!(
            Rejection::Malformed("payload holds a NUL character").message(),
            "malformed token: payload holds a NUL character"
        );
        // Built in code, nested deeper than serde_json parses (128 levels).
        let mut v = json!("x\0");
        for _ in 0..300 {
            v = json!({ "a": [v] });
        }
        let Value::Object(deep) = v else {
            unreachable!()
        };
        assert_eq!(check_no_nul(&deep), want);
    }

    #[test]
    fn pgjwt_semantics() {
        let now = 1_000_000_000;
        assert!(pgjwt_time_valid(&obj(json!({})), now));
        assert!(pgjwt_time_valid(&obj(json!({"exp": 1001})), now));
        assert!(
            !pgjwt_time_valid(&obj(json!({"exp": 1000})), now),
            "exp at now is invalid"
        );
        assert!(
            pgjwt_time_valid(&obj(json!({"nbf": 1000})), now),
            "nbf at now is valid"
        );
        assert!(!pgjwt_time_valid(&obj(json!({"nbf": 1000.5})), now));
        assert!(
            !pgjwt_time_valid(&obj(json!({"exp": "999"})), now),
            "numeric strings count"
        );
        assert!(
            pgjwt_time_valid(&obj(json!({"exp": "soon", "nbf": true})), now),
            "non-numeric ignored"
        );
    }

    fn session_claims() -> Map<String, Value> {
        obj(
            json!({"exp": 1_700_003_600, "iat": 1_700_000_000, "sid": "0b6e", "sub": "alice",
                   "role": "web", "username": "alice", "app_metadata": {}, "aud": "api"}),
        )
    }

    #[test]
    fn hook_claims_may_add_change_and_remove_unreserved_claims() {
        let given = session_claims();
        assert_eq!(
            hook_claims(&given, Some(Value::Object(given.clone()))),
            Ok(given.clone())
        );
        let mut more = given.clone();
        more.insert("tenant".into(), json!("acme"));
        more.insert("app_metadata".into(), json!({"plan": "pro"}));
        more.remove("username");
        assert_eq!(
            hook_claims(&given, Some(Value::Object(more.clone()))),
            Ok(more)
        );
    }

    #[test]
    fn hook_claims_refuses_non_objects() {
        let given = session_claims();
        for returned in [
            None,
            Some(Value::Null),
            Some(json!([given.clone()])),
            Some(json!("x")),
            Some(json!(1)),
            Some(json!(true)),
        ] {
            assert_eq!(
                hook_claims(&given, returned.clone()),
                Err(HookRefusal::NotAnObject),
                "{returned:?}"
            );
        }
        assert_eq!(
            HookRefusal::NotAnObject.to_string(),
            "returned a non-object"
        );
    }

    #[test]
    fn hook_claims_refuses_any_change_of_a_reserved_claim() {
        let given = session_claims();
        for name in RESERVED_CLAIMS {
            // Changed (or added, for tid, key_id and iss, which the given claims lack).
            let mut changed = given.clone();
            changed.insert(name.into(), json!("other"));
            assert_eq!(
                hook_claims(&given, Some(Value::Object(changed))),
                Err(HookRefusal::Changed(name)),
                "{name}"
            );
            // Set to null: not the same as absent, nor as the value.
            let mut nulled = given.clone();
            nulled.insert(name.into(), Value::Null);
            assert_eq!(
                hook_claims(&given, Some(Value::Object(nulled))),
                Err(HookRefusal::Changed(name)),
                "{name}"
            );
            // Removed, where present.
            let mut removed = given.clone();
            if removed.remove(name).is_some() {
                assert_eq!(
                    hook_claims(&given, Some(Value::Object(removed))),
                    Err(HookRefusal::Changed(name)),
                    "{name}"
                );
            }
        }
        // Numbers compare by kind and value; strings exactly.
        let mut float = given.clone();
        float.insert("exp".into(), json!(1_700_003_600.0));
        assert_eq!(
            hook_claims(&given, Some(Value::Object(float))),
            Err(HookRefusal::Changed("exp"))
        );
        let mut later = given.clone();
        later.insert("exp".into(), json!(1_700_003_601));
        assert_eq!(
            hook_claims(&given, Some(Value::Object(later))),
            Err(HookRefusal::Changed("exp"))
        );
        let mut string_exp = given.clone();
        string_exp.insert("exp".into(), json!("1700003600"));
        assert_eq!(
            hook_claims(&given, Some(Value::Object(string_exp))),
            Err(HookRefusal::Changed("exp"))
        );
        let mut upper = given.clone();
        upper.insert("role".into(), json!("WEB"));
        assert_eq!(
            hook_claims(&given, Some(Value::Object(upper))),
            Err(HookRefusal::Changed("role"))
        );
        // The first in the list's order is named.
        let mut two = given.clone();
        two.insert("sub".into(), json!("bob"));
        two.insert("role".into(), json!("admin"));
        assert_eq!(
            hook_claims(&given, Some(Value::Object(two))),
            Err(HookRefusal::Changed("role"))
        );
        assert_eq!(
            HookRefusal::Changed("role").to_string(),
            "claim \"role\" may not be changed"
        );
    }
}
