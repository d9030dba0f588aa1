//! The path to the role in a JWT's claims: the value of `auth.jwt_role_claim_key`, in the syntax
//! of PostgREST's `jwt-role-claim-key` (PostgREST 12).
//!
//! ```text
//! path  := step+
//! step  := "." key ( "[" digits "]" )?
//! key   := ( letter | digit | "_" | "$" | "@" )+      -- .realm_access
//!        | '"' any character but '"', none or more '"' -- ."https://example.com/roles"
//! ```
//!
//! So `.role` (the default), `.realm_access.roles[0]`, `."https://example.com/roles"[1]`. As in
//! PostgREST, each key takes at most one index (`.a[0][1]` is refused), an index is decimal
//! digits only, a quoted key has no escapes, and nothing (no space) may stand around the path.
//! PostgREST's later filter steps (`[?(@ == "x")]`) are not part of this syntax and are refused.
//!
//! [`RolePath::lookup`] walks the claims as PostgREST does: a key step needs an object holding
//! that member, an index step an array holding that element; the role is the value reached when
//! it is a JSON string, and nothing otherwise (a missing member, an index past the end, a step
//! into the wrong kind of value, a number or an array at the end).

use std::fmt;

use serde_json::{Map, Value};

use crate::error::AuthError;

/// The longest path accepted, in bytes.
pub const MAX_PATH_BYTES: usize = 256;

/// The default path: the top-level `role` claim.
pub const DEFAULT_PATH: &str = ".role";

/// The largest array index accepted.
pub const MAX_INDEX: usize = u32::MAX as usize;

/// One step of a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// The member of an object with this name.
    Key(String),
    /// The element of an array at this position, from 0.
    Index(usize),
}

/// A parsed path; [`parse`] builds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolePath {
    steps: Vec<Step>,
}

fn refuse(why: String) -> AuthError {
    AuthError::InvalidParameter(format!("invalid role claim path: {why}"))
}

/// A character of an unquoted key: PostgREST's letters and digits (Unicode), `_`, `$` and `@`.
fn is_key_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '$' | '@')
}

/// Parses a path (see the module's grammar). Refusals are [`AuthError::InvalidParameter`]
/// (`22023`) with a message naming what is wrong and, where it helps, the byte offset; the path
/// itself is never quoted back.
pub fn parse(path: &str) -> Result<RolePath, AuthError> {
    if path.is_empty() {
        return Err(refuse("it is empty; the default is \".role\"".into()));
    }
    if path.len() > MAX_PATH_BYTES {
        return Err(refuse(format!(
            "it is {} bytes, longer than {MAX_PATH_BYTES}",
            path.len()
        )));
    }
    let mut steps = Vec::new();
    let mut rest = path;
    // Byte offset of `rest` in `path`, for the messages.
    let at = |rest: &str| path.len() - rest.len();
    while !rest.is_empty() {
        let Some(after_dot) = rest.strip_prefix('.') else {
            return Err(refuse(if steps.is_empty() {
                "it must start with \".\", as in \".role\"".into()
            } else {
                format!(
                    "expected \".\" or \"[\" at byte {}, after a key and its index",
                    at(rest)
                )
            }));
        };
        rest = after_dot;
        // The key: quoted, or a run of key characters.
        if let Some(quoted) = rest.strip_prefix('"') {
            let Some(end) = quoted.find('"') else {
                return Err(refuse(format!(
                    "the quoted key starting at byte {} has no closing '\"'",
                    at(rest)
                )));
            };
            steps.push(Step::Key(quoted[..end].to_owned()));
            rest = &quoted[end + 1..];
        } else {
            let end = rest
                .char_indices()
                .find(|&(_, c)| !is_key_char(c))
                .map_or(rest.len(), |(i, _)| i);
            if end == 0 {
                return Err(refuse(format!(
                    "expected a key at byte {}: letters, digits, _, $ and @, or a \"quoted key\"",
                    at(rest)
                )));
            }
            steps.push(Step::Key(rest[..end].to_owned()));
            rest = &rest[end..];
        }
        // At most one index after the key.
        if let Some(bracket) = rest.strip_prefix('[') {
            if bracket.starts_with('?') {
                return Err(refuse(format!(
                    "filters (\"[?(...)]\", at byte {}) are not supported; use a key or an array index",
                    at(rest)
                )));
            }
            let digits = bracket.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 || !bracket[digits..].starts_with(']') {
                return Err(refuse(format!(
                    "the array index at byte {} must be decimal digits in brackets, as in \"[0]\"",
                    at(rest)
                )));
            }
            let index = bracket[..digits]
                .parse::<usize>()
                .ok()
                .filter(|&i| i <= MAX_INDEX)
                .ok_or_else(|| {
                    refuse(format!(
                        "the array index at byte {} is larger than {MAX_INDEX}",
                        at(rest)
                    ))
                })?;
            steps.push(Step::Index(index));
            rest = &bracket[digits + 1..];
            if rest.starts_with('[') {
                return Err(refuse(format!(
                    "a second array index at byte {}: each key takes at most one",
                    at(rest)
                )));
            }
        }
    }
    Ok(RolePath { steps })
}

impl RolePath {
    /// The steps, in order.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// True for the path of the top-level `role` claim alone: `.role` or `."role"`.
    pub fn is_top_level_role(&self) -> bool {
        matches!(self.steps.as_slice(), [Step::Key(k)] if k == "role")
    }

    /// The role the path names in `claims`: the string it reaches, or None when a step finds no
    /// member or element (or the wrong kind of value) or the value reached is not a string.
    pub fn lookup<'a>(&self, claims: &'a Map<String, Value>) -> Option<&'a str> {
        let (first, rest) = self.steps.split_first()?;
        let mut value = match first {
            Step::Key(k) => claims.get(k)?,
            Step::Index(_) => return None,
        };
        for step in rest {
            value = match (step, value) {
                (Step::Key(k), Value::Object(o)) => o.get(k)?,
                (Step::Index(i), Value::Array(a)) => a.get(*i)?,
                _ => return None,
            };
        }
        value.as_str()
    }
}

/// The canonical spelling: keys quoted when they hold anything but key characters (or are
/// empty); parsing it gives the same path back.
impl fmt::Display for RolePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for step in &self.steps {
            match step {
                Step::Key(k) if !k.is_empty() && k.chars().all(is_key_char) => write!(f, ".{k}")?,
                Step::Key(k) => write!(f, ".\"{k}\"")?,
                Step::Index(i) => write!(f, "[{i}]")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn keys(names: &[&str]) -> Vec<Step> {
        names.iter().map(|k| Step::Key((*k).into())).collect()
    }

    fn claims(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => panic!("not an object"),
        }
    }

    fn message(path: &str) -> String {
        match parse(path) {
            Err(e @ AuthError::InvalidParameter(_)) => {
                assert_eq!(e.sqlstate(), "22023");
                e.message()
            }
            other => panic!("{path:?} was not refused: {other:?}"),
        }
    }

    #[test]
    fn parses_postgrest_documented_paths() {
        assert_eq!(parse(".role").unwrap().steps(), keys(&["role"]));
        assert!(parse(DEFAULT_PATH).unwrap().is_top_level_role());
        assert!(parse(".\"role\"").unwrap().is_top_level_role());
        assert!(!parse(".role[0]").unwrap().is_top_level_role());
        assert!(!parse(".a.role").unwrap().is_top_level_role());

        let mut want = keys(&["realm_access", "roles"]);
        want.push(Step::Index(0));
        assert_eq!(parse(".realm_access.roles[0]").unwrap().steps(), want);

        assert_eq!(
            parse(".\"https://www.example.com/role\"").unwrap().steps(),
            keys(&["https://www.example.com/role"])
        );
        assert_eq!(
            parse(".\"cognito:groups\"[0]").unwrap().steps(),
            vec![Step::Key("cognito:groups".into()), Step::Index(0)]
        );
        assert_eq!(
            parse(".app_metadata.\"x-roles\"[12].name").unwrap().steps(),
            vec![
                Step::Key("app_metadata".into()),
                Step::Key("x-roles".into()),
                Step::Index(12),
                Step::Key("name".into()),
            ]
        );
        // PostgREST's extra key characters, Unicode letters and digits, an empty quoted key,
        // leading zeros in an index.
        assert_eq!(
            parse(".$a@b_c.0.ñame").unwrap().steps(),
            keys(&["$a@b_c", "0", "ñame"])
        );
        assert_eq!(parse(".\"\"").unwrap().steps(), keys(&[""]));
        assert_eq!(
            parse(".a[007]").unwrap().steps(),
            vec![Step::Key("a".into()), Step::Index(7)]
        );
        // Quoted keys hold anything but '"': dots, brackets, spaces, backslashes.
        assert_eq!(
            parse(".\"a.b[0] c\\\"").unwrap().steps(),
            keys(&["a.b[0] c\\"])
        );
    }

    #[test]
    fn refuses_bad_syntax_with_a_reason() {
        assert!(message("").contains("empty"));
        assert!(message("role").contains("must start with \".\""));
        assert!(message(" .role").contains("must start with \".\""));
        assert!(message("[0]").contains("must start with \".\""));
        assert!(message(".").contains("expected a key at byte 1"));
        assert!(message("..role").contains("expected a key at byte 1"));
        assert!(message(".role.").contains("expected a key at byte 6"));
        assert!(message(".ro le").contains("expected \".\" or \"[\" at byte 3"));
        assert!(message(".role ").contains("expected \".\" or \"[\" at byte 5"));
        assert!(message(".a-b").contains("expected \".\" or \"[\" at byte 2"));
        assert!(message(".\"https://x").contains("no closing"));
        assert!(message(".\"a\"b").contains("expected \".\" or \"[\" at byte 4"));
        assert!(message(".a[").contains("decimal digits in brackets"));
        assert!(message(".a[]").contains("decimal digits in brackets"));
        assert!(message(".a[-1]").contains("decimal digits in brackets"));
        assert!(message(".a[1").contains("decimal digits in brackets"));
        assert!(message(".a[ 1]").contains("decimal digits in brackets"));
        assert!(message(".a[x]").contains("decimal digits in brackets"));
        assert!(message(".a[0][1]").contains("second array index"));
        assert!(message(".a[4294967296]").contains("larger than 4294967295"));
        assert!(message(".a[99999999999999999999999]").contains("larger than"));
        assert!(message(".roles[?(@ == \"admin\")]").contains("filters"));
        let long = format!(".{}", "a".repeat(MAX_PATH_BYTES));
        assert!(message(&long).contains("257 bytes, longer than 256"));
        assert!(parse(&long[..MAX_PATH_BYTES]).is_ok());
        // Every message starts the same way and never quotes the path.
        for bad in ["", "x", ".a b", ".\"secretpath", ".a[zz]"] {
            let m = message(bad);
            assert!(m.starts_with("invalid role claim path: "), "{m}");
            if bad.len() > 1 {
                assert!(!m.contains(bad), "{m}");
            }
        }
    }

    #[test]
    fn display_is_canonical_and_parses_back() {
        for (path, canonical) in [
            (".role", ".role"),
            (".\"role\"", ".role"),
            (".realm_access.roles[0]", ".realm_access.roles[0]"),
            (
                ".\"https://example.com/roles\"[01]",
                ".\"https://example.com/roles\"[1]",
            ),
            (".\"\"", ".\"\""),
        ] {
            let parsed = parse(path).unwrap();
            assert_eq!(parsed.to_string(), canonical);
            assert_eq!(parse(canonical).unwrap(), parsed);
        }
    }

    #[test]
    fn looks_up_like_postgrest() {
        let c = claims(json!({
            "role": "web_user",
            "realm_access": {"roles": ["admin", "viewer", 7]},
            "https://example.com/roles": ["editor"],
            "cognito:groups": ["g1"],
            "n": 5,
            "t": true,
            "z": null,
            "o": {"role": {"deep": "x"}},
            "0": "zero"
        }));
        let at = |p: &str| parse(p).unwrap().lookup(&c);
        assert_eq!(at(".role"), Some("web_user"));
        assert_eq!(at(".realm_access.roles[0]"), Some("admin"));
        assert_eq!(at(".realm_access.roles[1]"), Some("viewer"));
        assert_eq!(at(".\"https://example.com/roles\"[0]"), Some("editor"));
        assert_eq!(at(".\"cognito:groups\"[0]"), Some("g1"));
        assert_eq!(at(".o.role.deep"), Some("x"));
        assert_eq!(at(".0"), Some("zero"));
        // Not a string at the end: no role.
        assert_eq!(at(".realm_access.roles[2]"), None);
        assert_eq!(at(".realm_access.roles"), None);
        assert_eq!(at(".realm_access"), None);
        assert_eq!(at(".n"), None);
        assert_eq!(at(".t"), None);
        assert_eq!(at(".z"), None);
        // Nothing there, or the wrong kind of value for a step.
        assert_eq!(at(".missing"), None);
        assert_eq!(at(".realm_access.roles[3]"), None);
        assert_eq!(at(".realm_access.roles[4294967295]"), None);
        assert_eq!(at(".realm_access[0]"), None);
        assert_eq!(at(".realm_access.roles.0"), None);
        assert_eq!(at(".role[0]"), None);
        assert_eq!(at(".role.x"), None);
        assert_eq!(at(".n.x"), None);
        assert_eq!(parse(".role").unwrap().lookup(&Map::new()), None);
    }

    #[test]
    fn the_last_of_two_same_named_members_counts() {
        // As serde_json (and PostgreSQL's jsonb) read them.
        let c: Map<String, Value> =
            serde_json::from_str(r#"{"a":{"r":"first"},"a":{"r":"second"}}"#).unwrap();
        assert_eq!(parse(".a.r").unwrap().lookup(&c), Some("second"));
    }
}
