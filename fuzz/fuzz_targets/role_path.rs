//! The role claim path (`auth.jwt_role_claim_key`): `role_path::parse` on arbitrary text and
//! `RolePath::lookup` on arbitrary claims.
//!
//! Input: the path text, a newline, then the claims' JSON text (a line without a newline is a
//! path alone).
//! Invariants: a refusal is `InvalidParameter` (22023) whose message is one of the fixed
//! templates (byte offsets and lengths aside), so it never quotes the path; an accepted path is
//! at most 256 bytes and starts with "."; its canonical spelling is no longer and parses back to
//! the same path; the lookup agrees with an oracle walking JSON pointers step by step (a key step
//! needs an object, an index step an array, the end a string).
#![no_main]

use auth_core::error::AuthError;
use auth_core::role_path::{self, Step, MAX_PATH_BYTES};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// Every refusal's reason, each run of digits written `#`.
const TEMPLATES: [&str; 10] = [
    "it is empty; the default is \".role\"",
    "it is # bytes, longer than #",
    "it must start with \".\", as in \".role\"",
    "expected \".\" or \"[\" at byte #, after a key and its index",
    "the quoted key starting at byte # has no closing '\"'",
    "expected a key at byte #: letters, digits, _, $ and @, or a \"quoted key\"",
    "filters (\"[?(...)]\", at byte #) are not supported; use a key or an array index",
    "the array index at byte # must be decimal digits in brackets, as in \"[#]\"",
    "the array index at byte # is larger than #",
    "a second array index at byte #: each key takes at most one",
];

/// `text` with each run of ASCII digits replaced by one `#`.
fn digits_as_hash(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if !c.is_ascii_digit() {
            out.push(c);
        } else if !out.ends_with('#') {
            out.push('#');
        }
    }
    out
}

/// The lookup by JSON pointers: each prefix of the path must reach the kind of value the next
/// step needs.
fn oracle<'a>(steps: &[Step], root: &'a Value) -> Option<&'a str> {
    let mut pointer = String::new();
    for step in steps {
        let here = root.pointer(&pointer)?;
        match step {
            Step::Key(k) => {
                here.as_object()?;
                pointer.push('/');
                pointer.push_str(&k.replace('~', "~0").replace('/', "~1"));
            }
            Step::Index(i) => {
                here.as_array()?;
                pointer.push_str(&format!("/{i}"));
            }
        }
    }
    root.pointer(&pointer)?.as_str()
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (path, json) = text.split_once('\n').unwrap_or((text, ""));
    let parsed = match role_path::parse(path) {
        Ok(p) => p,
        Err(AuthError::InvalidParameter(m)) => {
            let why = m
                .strip_prefix("invalid role claim path: ")
                .expect("the message's prefix");
            assert!(TEMPLATES.contains(&digits_as_hash(why).as_str()), "{m}");
            return;
        }
        Err(other) => panic!("parse cannot fail with {other:?}"),
    };
    assert!(path.len() <= MAX_PATH_BYTES && path.starts_with('.'));
    assert!(!parsed.steps().is_empty());
    assert!(matches!(parsed.steps()[0], Step::Key(_)));
    assert!(parsed
        .steps()
        .windows(2)
        .all(|w| !matches!(w, [Step::Index(_), Step::Index(_)])));
    let canonical = parsed.to_string();
    assert!(canonical.len() <= path.len());
    assert_eq!(
        role_path::parse(&canonical).expect("canonical parses"),
        parsed
    );
    assert_eq!(parsed.is_top_level_role(), canonical == ".role");

    let Ok(Value::Object(claims)) = serde_json::from_str::<Value>(json) else {
        return;
    };
    let got = parsed.lookup(&claims);
    let root = Value::Object(claims.clone());
    assert_eq!(got, oracle(parsed.steps(), &root));
    if parsed.is_top_level_role() {
        assert_eq!(got, claims.get("role").and_then(Value::as_str));
    }
});
