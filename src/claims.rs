//! The claim helpers for row-level security — `auth.claims()`, `auth.claim(name)`, `auth.uid()`,
//! `auth.role()` — over `request.jwt.claims`, the claims PostgREST sets for each request.
//!
//! A policy written `USING (owner = auth.uid())` calls the helper once per row, so nothing here
//! parses per call: the setting's text is parsed once per distinct value and kept for the
//! backend, keyed by that exact text. Every call reads the setting (no copy) and compares it with
//! the key, so a new value — the next request, `set_config(..., true)` inside a transaction, a
//! value set after `SET ROLE`, `RESET` — is a miss and is parsed at once; nothing is ever answered
//! from an older value.
//!
//! The text is parsed by PostgreSQL's own jsonb input function and claims are read with its
//! `->>`, so every answer is exactly what `current_setting('request.jwt.claims', true)::jsonb ->>
//! name` gives: numbers printed as jsonb prints them, the last of two same-named members, NULL for
//! a missing member or when the claims are not an object, `{}` and NULLs when the setting is unset
//! or empty. A text that is not JSON raises 22P02 `request.jwt.claims is not valid JSON`; a
//! `\u0000` escape raises jsonb's own 22P05, as the `::jsonb` cast did.
//!
//! STABLE is the right volatility and the one `current_setting` has: the answer depends on a
//! setting, which a statement does not change between rows — except by calling `set_config` in
//! the middle of a query, where these helpers (reading the setting at every call) follow the new
//! value just as `current_setting` does.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::CString;

use auth_core::AuthError;
use pgrx::prelude::*;
use pgrx::{IntoDatum, PgSqlErrorCode};

use crate::datum::{JsonbDatum, TextDatum};
use crate::error::raise;
use crate::gucs;

fn text_datum(s: &Option<String>) -> Option<TextDatum> {
    s.as_deref().map(TextDatum::copy)
}

/// `->> name` answers kept per claims value beyond `sub` and `role`: policies name a handful of
/// claims; a caller inventing names cannot grow the cache past this.
const MAX_MEMO: usize = 64;

/// One parsed value of `request.jwt.claims`.
struct Parsed {
    /// The setting's text this was parsed from, empty when unset: the cache key.
    raw: Vec<u8>,
    /// The jsonb varlena, in 8-byte words so that a pointer to it is an aligned jsonb Datum.
    jsonb: Vec<u64>,
    jsonb_len: usize,
    sub: Option<String>,
    role: Option<String>,
    memo: HashMap<String, Option<String>>,
}

thread_local! {
    static CACHE: RefCell<Option<Parsed>> = const { RefCell::new(None) };
}

impl Parsed {
    fn parse(raw: &[u8]) -> Parsed {
        // Unset or empty reads as `{}`; the setting cannot hold a NUL byte (it is a C string).
        let text = CString::new(if raw.is_empty() { &b"{}"[..] } else { raw })
            .expect("a setting holds no NUL byte");
        let JsonbDatum(datum) = PgTryBuilder::new(|| JsonbDatum::parse(&text))
            // A syntax error only: jsonb_in has taken no resource yet. Other errors (a `\u0000`
            // escape: 22P05, nesting too deep: 54001, a cancel) go on unchanged.
            .catch_when(PgSqlErrorCode::ERRCODE_INVALID_TEXT_REPRESENTATION, |_| {
                raise(AuthError::InvalidText(
                    "request.jwt.claims is not valid JSON".into(),
                ))
            })
            .execute();
        let ptr = datum.cast_mut_ptr::<pg_sys::varlena>();
        // SAFETY: jsonb_in returns a freshly built, untoasted varlena of this many bytes.
        let jsonb_len = unsafe { pgrx::varlena::varsize_any(ptr) };
        let mut jsonb = vec![0u64; jsonb_len.div_ceil(8)];
        // SAFETY: `jsonb` has room for `jsonb_len` bytes; the regions do not overlap.
        unsafe {
            std::ptr::copy_nonoverlapping(ptr.cast::<u8>(), jsonb.as_mut_ptr().cast(), jsonb_len)
        };
        let mut parsed = Parsed {
            raw: raw.to_vec(),
            jsonb,
            jsonb_len,
            sub: None,
            role: None,
            memo: HashMap::new(),
        };
        parsed.sub = parsed.lookup("sub");
        parsed.role = parsed.lookup("role");
        parsed
    }

    /// `claims ->> name`, by PostgreSQL's own operator function.
    fn lookup(&self, name: &str) -> Option<String> {
        let jsonb = pg_sys::Datum::from(self.jsonb.as_ptr());
        // SAFETY: `jsonb` points at a complete, aligned jsonb varlena that outlives the call,
        // which only reads it; the key is a text Datum; a NULL answer is None.
        unsafe {
            pgrx::direct_function_call::<String>(
                pg_sys::jsonb_object_field_text,
                &[Some(jsonb), name.into_datum()],
            )
        }
    }

    fn claim(&mut self, name: &str) -> Option<TextDatum> {
        match name {
            "sub" => return text_datum(&self.sub),
            "role" => return text_datum(&self.role),
            _ => {}
        }
        if let Some(v) = self.memo.get(name) {
            return text_datum(v);
        }
        let v = self.lookup(name);
        let datum = text_datum(&v);
        if self.memo.len() < MAX_MEMO {
            self.memo.insert(name.to_owned(), v);
        }
        datum
    }

    /// A palloc'd copy of the claims, for the caller to own.
    fn jsonb_copy(&self) -> pg_sys::Datum {
        // SAFETY: palloc raises on failure; the copy is `jsonb_len` bytes of a valid varlena.
        unsafe {
            let copy = pg_sys::palloc(self.jsonb_len);
            std::ptr::copy_nonoverlapping(
                self.jsonb.as_ptr().cast::<u8>(),
                copy.cast::<u8>(),
                self.jsonb_len,
            );
            pg_sys::Datum::from(copy)
        }
    }
}

/// Runs `f` on the parsed current value of `request.jwt.claims`, parsing it first when it is not
/// the cached one.
fn with_claims<R>(f: impl FnOnce(&mut Parsed) -> R) -> R {
    gucs::with_request_claims(|raw| {
        CACHE.with_borrow_mut(|cache| {
            match cache {
                Some(parsed) if parsed.raw == raw => {}
                _ => {
                    // Parsed before the old value is dropped: a value that fails to parse leaves
                    // the cache as it was.
                    *cache = Some(Parsed::parse(raw));
                }
            }
            f(cache.as_mut().expect("just filled"))
        })
    })
}

/// The claims of the current request as jsonb; `{}` outside a request.
#[pg_extern(stable, parallel_safe)]
fn claims() -> JsonbDatum {
    JsonbDatum(with_claims(|c| c.jsonb_copy()))
}

/// One claim as text (`auth.claims() ->> name`); NULL when absent or JSON `null`.
#[pg_extern(stable, strict, parallel_safe)]
fn claim(name: &str) -> Option<TextDatum> {
    with_claims(|c| c.claim(name))
}

/// The `sub` claim.
#[pg_extern(stable, parallel_safe)]
fn uid() -> Option<TextDatum> {
    with_claims(|c| text_datum(&c.sub))
}

/// The `role` claim.
#[pg_extern(stable, parallel_safe)]
fn role() -> Option<TextDatum> {
    with_claims(|c| text_datum(&c.role))
}
