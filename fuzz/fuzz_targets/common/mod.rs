//! Oracles shared by several targets. Not a target itself: cargo-fuzz runs the `[[bin]]`s of
//! fuzz/Cargo.toml, and this file is only `mod common;` in them.
#![allow(dead_code)]

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// A JSON value read with every object member kept, in order, duplicates included: what the
/// text says, before any map decides which of two same-named members wins.
enum Node {
    Leaf,
    List(Vec<Node>),
    Object(Vec<(String, Node)>),
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Node, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Node;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("JSON")
            }
            fn visit_bool<E>(self, _: bool) -> Result<Node, E> {
                Ok(Node::Leaf)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Node, E> {
                Ok(Node::Leaf)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Node, E> {
                Ok(Node::Leaf)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Node, E> {
                Ok(Node::Leaf)
            }
            fn visit_str<E>(self, _: &str) -> Result<Node, E> {
                Ok(Node::Leaf)
            }
            fn visit_unit<E>(self) -> Result<Node, E> {
                Ok(Node::Leaf)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
                let mut items = Vec::new();
                while let Some(n) = seq.next_element()? {
                    items.push(n);
                }
                Ok(Node::List(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
                let mut members = Vec::new();
                while let Some(entry) = map.next_entry::<String, Node>()? {
                    members.push(entry);
                }
                Ok(Node::Object(members))
            }
        }
        d.deserialize_any(V)
    }
}

fn top_names(node: &Node) -> Vec<&str> {
    match node {
        Node::Object(members) => members.iter().map(|(n, _)| n.as_str()).collect(),
        _ => Vec::new(),
    }
}

fn repeats(mut names: Vec<&str>) -> bool {
    names.sort_unstable();
    names.windows(2).any(|w| w[0] == w[1])
}

fn any_object_repeats(node: &Node) -> bool {
    match node {
        Node::Leaf => false,
        Node::List(items) => items.iter().any(any_object_repeats),
        Node::Object(members) => {
            repeats(top_names(node)) || members.iter().any(|(_, n)| any_object_repeats(n))
        }
    }
}

/// For a JSON text: `Some((top-level object repeats a name, some object at any depth does))`;
/// `None` when the text is not JSON.
pub fn repeated_names(json: &str) -> Option<(bool, bool)> {
    let node: Node = serde_json::from_str(json).ok()?;
    Some((repeats(top_names(&node)), any_object_repeats(&node)))
}

/// Whether a JSON text that `serde_json` wrote holds a `\u0000` escape, i.e. a NUL in some
/// string (serde_json writes NUL only that way): a scan of the text, escapes skipped pairwise, so
/// an escaped backslash followed by `u0000` is not one.
pub fn json_text_has_nul_escape(json: &str) -> bool {
    let b = json.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' {
            if b.get(i + 1..i + 6) == Some(&b"u0000"[..]) {
                return true;
            }
            i += 2;
        } else {
            i += 1;
        }
    }
    false
}
