//! The claim helpers for row-level security — `auth.claims()`, `auth.claim(name)`, `auth.uid()`,
//! `auth.role()`, `auth.has_scope(scope)` — over `request.jwt.claims`, the claims PostgREST sets
//! for each request.
//!
//! A policy written `USING (owner = auth.uid())` calls the helper once per row, so nothing here
//! parses per call: the setting's text is parsed once per distinct value and kept for the
//! backend, keyed by that exact text. Every call reads the setting (no copy) and compares it with
//! the key, so a new value — the next request, `set_config(..., true)` inside a transaction, a
//! value set after `SET ROLE`, `RESET` — is a miss and is parsed at once; nothing is ever answered
//! from an older value. Past that check a call costs a few tens of nanoseconds: reading the
//! setting skips PostgreSQL's search by name (`gucs::with_request_claims`), and a call site asked
//! twice for the same answer from the same parse returns the copy it kept (`SiteAnswer`) instead
//! of copying the claim again.
//!
//! The text is parsed by PostgreSQL's own jsonb input function and claims are read with its
//! `->>`, so every answer is exactly what `current_setting('request.jwt.claims', true)::jsonb ->>
//! name` gives: numbers printed as jsonb prints them, the last of two same-named members, NULL for
//! a missing member or when the claims are not an object, `{}` and NULLs when the setting is unset
//! or empty. A text that is not JSON raises 22P02 `request.jwt.claims is not valid JSON`; a
//! `\u0000` escape raises jsonb's own 22P05, as the `::jsonb` cast did.
//!
//! `auth.role()` reads the role at the path of `auth.jwt_role_claim_key` (PostgREST's
//! `jwt-role-claim-key` syntax, parsed once per change of the setting: `gucs::role_claim_path`).
//! Under the default path, the top-level `role`, it is `->> 'role'` as above. Under any other path
//! it is the string the path reaches, NULL when it reaches none; the claims are read for it with
//! serde_json once per parse and path, and a call site keys its answer by the path too, so a
//! `SET LOCAL` of the setting is seen by the next call.
//!
//! STABLE is the right volatility and the one `current_setting` has: the answer depends on a
//! setting, which a statement does not change between rows — except by calling `set_config` in
//! the middle of a query, where these helpers (reading the setting at every call) follow the new
//! value just as `current_setting` does.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::ffi::CString;

use auth_core::{credentials, AuthError};
use pgrx::prelude::*;
use pgrx::{IntoDatum, PgSqlErrorCode};

use crate::datum::{JsonbDatum, TextDatum};
use crate::error::raise;
use crate::gucs;

/// `->> name` answers kept per claims value beyond `sub` and `role`: policies name a handful of
/// claims; a caller inventing names cannot grow the cache past this.
const MAX_MEMO: usize = 64;

/// One parsed value of `request.jwt.claims`.
struct Parsed {
    /// The setting's text this was parsed from, empty when unset: the cache key.
    raw: Vec<u8>,
    /// Which parse of the backend this is (1, 2, ...): what a call site's answer was taken from.
    generation: u64,
    /// The jsonb varlena, in 8-byte words so that a pointer to it is an aligned jsonb Datum.
    jsonb: Vec<u64>,
    jsonb_len: usize,
    sub: Option<String>,
    role: Option<String>,
    /// The role at the path of `auth.jwt_role_claim_key` when that is not the top-level `role`,
    /// with the path's generation (`gucs::role_claim_path`) it was found with.
    role_at_path: Option<(u64, Option<String>)>,
    /// `->> 'scope'`, read at the first `auth.has_scope` of this value.
    scope: Option<Option<String>>,
    memo: HashMap<String, Option<String>>,
}

thread_local! {
    static CACHE: RefCell<Option<Parsed>> = const { RefCell::new(None) };
    static PARSES: Cell<u64> = const { Cell::new(0) };
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
        PARSES.set(PARSES.get() + 1);
        let mut parsed = Parsed {
            raw: raw.to_vec(),
            generation: PARSES.get(),
            jsonb,
            jsonb_len,
            sub: None,
            role: None,
            role_at_path: None,
            scope: None,
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

    /// `claims ->> name`: `sub` and `role` read at parse time, other names remembered.
    fn claim(&mut self, name: &str) -> Option<String> {
        match name {
            "sub" => return self.sub.clone(),
            "role" => return self.role.clone(),
            _ => {}
        }
        if let Some(v) = self.memo.get(name) {
            return v.clone();
        }
        let v = self.lookup(name);
        if self.memo.len() < MAX_MEMO {
            self.memo.insert(name.to_owned(), v.clone());
        }
        v
    }

    /// The role: `claims ->> 'role'` when `auth.jwt_role_claim_key` is the top-level `role` (the
    /// default), else the string at its path or, when the path reaches no string, the top-level
    /// `role`: PostgREST writes the role it switched to there (the anonymous role when the path
    /// reaches nothing), so behind PostgREST the answer is always the request's role. The claims
    /// are read for a path once per parse and path, with serde_json (as PostgREST's claims reach
    /// it: the last of two same-named members counts); claims it cannot read (a number beyond a
    /// double's range, nesting deeper than 128) have no role at a path.
    fn role(&mut self) -> Option<String> {
        let (path, generation) = gucs::role_claim_path();
        if path.is_top_level_role() {
            return self.role.clone();
        }
        if let Some((g, role)) = &self.role_at_path {
            if *g == generation {
                return role.clone();
            }
        }
        let text: &[u8] = if self.raw.is_empty() {
            b"{}"
        } else {
            &self.raw
        };
        let role = serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(text)
            .ok()
            .and_then(|claims| path.lookup(&claims).map(str::to_owned))
            .or_else(|| self.role.clone());
        self.role_at_path = Some((generation, role.clone()));
        role
    }

    /// Whether the `scope` claim grants `wanted` (`auth_core::credentials::scope_grants`).
    fn scope_grants(&mut self, wanted: &str) -> bool {
        if self.scope.is_none() {
            self.scope = Some(self.lookup(credentials::SCOPE));
        }
        self.scope
            .as_ref()
            .and_then(Option::as_deref)
            .is_some_and(|claim| credentials::scope_grants(claim, wanted))
    }

    /// A copy of the claims in `mcx`, or in the call's memory context.
    fn jsonb_copy(&self, mcx: Option<pg_sys::MemoryContext>) -> pg_sys::Datum {
        // SAFETY: the allocation raises on failure; the copy is `jsonb_len` bytes of a valid
        // varlena; `mcx` is a valid memory context.
        unsafe {
            let copy = match mcx {
                Some(mcx) => pg_sys::MemoryContextAlloc(mcx, self.jsonb_len),
                None => pg_sys::palloc(self.jsonb_len),
            };
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

/// Claim names up to this many bytes are remembered at a call site (`uid()`, `role()`, and
/// `claim('tenant')` in a policy); longer ones are answered without it.
const SITE_NAME_MAX: usize = 64;

/// What one call site of a helper answered last, kept in its `fn_extra` (in `fn_mcxt`, which
/// lasts as long as the query's expression state): the parse and the claim name it answered for,
/// and — once the site has answered the same name from the same parse twice, as a policy does
/// row after row — the answer itself in `fn_mcxt`, which the site then returns as it is instead
/// of copying it again: a function may return a pointer into memory that outlives the query
/// (what keeps a value copies it; nothing frees or changes it). A site whose name or claims
/// change between calls gets a fresh copy each time, so nothing piles up in `fn_mcxt`; an older
/// kept answer stays until the query ends, as an earlier result may still be in use.
struct SiteAnswer {
    generation: u64,
    name_len: usize,
    name: [u8; SITE_NAME_MAX],
    /// The answer kept in `fn_mcxt` (`Some(None)` for NULL), once the site asked twice.
    kept: Option<Option<pg_sys::Datum>>,
}

/// The answer for `name` from the current claims: the call site's kept one when it has it, else
/// `answer` builds one, in the call's memory context or, to keep, in the one it is given.
fn at_site(
    fcinfo: pg_sys::FunctionCallInfo,
    name: &str,
    answer: impl FnOnce(&mut Parsed, Option<pg_sys::MemoryContext>) -> Option<pg_sys::Datum>,
) -> Option<pg_sys::Datum> {
    with_claims(|parsed| {
        // SAFETY: `fcinfo` is this call's; `flinfo`, when present, is valid, and its `fn_extra`
        // is only ever set here, to a `SiteAnswer` in `fn_mcxt`, as are the answers it keeps.
        unsafe {
            let flinfo = (*fcinfo).flinfo;
            if flinfo.is_null() || name.len() > SITE_NAME_MAX {
                // No FmgrInfo (DirectFunctionCall), or a name not worth keeping.
                return answer(parsed, None);
            }
            let mcx = (*flinfo).fn_mcxt;
            let mut site = (*flinfo).fn_extra.cast::<SiteAnswer>();
            if site.is_null() {
                site = pg_sys::MemoryContextAlloc(mcx, std::mem::size_of::<SiteAnswer>())
                    .cast::<SiteAnswer>();
                site.write(SiteAnswer {
                    generation: 0,
                    name_len: 0,
                    name: [0; SITE_NAME_MAX],
                    kept: None,
                });
                (*flinfo).fn_extra = site.cast();
            }
            let site = &mut *site;
            if site.generation == parsed.generation
                && site.name[..site.name_len] == *name.as_bytes()
            {
                if let Some(kept) = site.kept {
                    return kept;
                }
                // Asked again for the same: keep the answer for the calls to come.
                let kept = answer(parsed, Some(mcx));
                site.kept = Some(kept);
                return kept;
            }
            site.generation = parsed.generation;
            site.name_len = name.len();
            site.name[..name.len()].copy_from_slice(name.as_bytes());
            site.kept = None;
            answer(parsed, None)
        }
    })
}

/// `claims ->> name` as a text in `mcx`, or in the call's memory context.
fn claim_text(
    parsed: &mut Parsed,
    name: &str,
    mcx: Option<pg_sys::MemoryContext>,
) -> Option<pg_sys::Datum> {
    let value = parsed.claim(name)?;
    Some(match mcx {
        // SAFETY: the call site's own memory context.
        Some(mcx) => unsafe { text_in(mcx, &value) },
        None => TextDatum::copy(&value).0,
    })
}

/// A text copy of `s` in memory context `mcx`.
///
/// SAFETY: `mcx` is a valid memory context.
unsafe fn text_in(mcx: pg_sys::MemoryContext, s: &str) -> pg_sys::Datum {
    let len = s.len() + pg_sys::VARHDRSZ;
    // SAFETY: a fresh allocation of `len` bytes, filled as a 4-byte-header varlena.
    unsafe {
        let text = pg_sys::MemoryContextAlloc(mcx, len).cast::<pg_sys::varlena>();
        pgrx::set_varsize_4b(text, len as i32);
        std::ptr::copy_nonoverlapping(
            s.as_ptr(),
            pgrx::vardata_any(text).cast_mut().cast::<u8>(),
            s.len(),
        );
        pg_sys::Datum::from(text)
    }
}

/// The claims of the current request as jsonb; `{}` outside a request.
#[pg_extern(stable, parallel_safe)]
fn claims(fcinfo: pg_sys::FunctionCallInfo) -> JsonbDatum {
    let datum = at_site(fcinfo, "", |parsed, mcx| Some(parsed.jsonb_copy(mcx)));
    JsonbDatum(datum.expect("the claims are never NULL"))
}

/// One claim as text (`auth.claims() ->> name`); NULL when absent or JSON `null`.
#[pg_extern(stable, strict, parallel_safe)]
fn claim(fcinfo: pg_sys::FunctionCallInfo, name: &str) -> Option<TextDatum> {
    at_site(fcinfo, name, |parsed, mcx| claim_text(parsed, name, mcx)).map(TextDatum)
}

/// The `sub` claim.
#[pg_extern(stable, parallel_safe)]
fn uid(fcinfo: pg_sys::FunctionCallInfo) -> Option<TextDatum> {
    at_site(fcinfo, "sub", |parsed, mcx| claim_text(parsed, "sub", mcx)).map(TextDatum)
}

/// What a call site of `auth.role()` keys its answer by when the path is not the top-level
/// `role`: the path's generation, as the answer changes with the path.
fn role_site_name(generation: u64) -> String {
    format!("role at path {generation}")
}

/// The role claim: the `role` claim, or the string at the path `auth.jwt_role_claim_key` names.
#[pg_extern(stable, parallel_safe)]
fn role(fcinfo: pg_sys::FunctionCallInfo) -> Option<TextDatum> {
    let (path, generation) = gucs::role_claim_path();
    if path.is_top_level_role() {
        return at_site(fcinfo, "role", |parsed, mcx| {
            claim_text(parsed, "role", mcx)
        })
        .map(TextDatum);
    }
    at_site(fcinfo, &role_site_name(generation), |parsed, mcx| {
        let value = parsed.role()?;
        Some(match mcx {
            // SAFETY: the call site's own memory context.
            Some(mcx) => unsafe { text_in(mcx, &value) },
            None => TextDatum::copy(&value).0,
        })
    })
    .map(TextDatum)
}

/// Whether the request's `scope` claim (`claims ->> 'scope'`: space-separated scopes, RFC 8693)
/// holds `scope` exactly: false without a `scope` claim, for an empty `scope` and for a `scope`
/// with a space in it (no one scope can equal it). NULL for NULL.
#[pg_extern(stable, strict, parallel_safe)]
fn has_scope(scope: &str) -> bool {
    with_claims(|parsed| parsed.scope_grants(scope))
}
