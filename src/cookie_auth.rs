//! Cookie authentication in `auth.check_request` (`auth.cookie_auth`) and the cross-site request
//! rule (CSRF) of cookie-authenticated requests and of the session functions. The SQL side is in
//! `sql/check_request.sql` (`auth.check_request`, `auth_private._cookie_role`,
//! `auth_private._require_same_origin`); the rules are `auth_core::request`'s.
//!
//! Verified cookie tokens are remembered per backend ([`auth_core::token_cache`]): 256 entries
//! keyed by the token's SHA-256, for one key-store generation and one `auth.jwt_secret`
//! configuration. A hit skips only the signature check: the time claims (exp and nbf, with
//! `auth.jwt_leeway`), the audience and the issuer are checked again at every request, and the
//! session's liveness is looked up at every request by `auth_private._cookie_role`.

use std::cell::RefCell;
use std::rc::Rc;

use auth_core::claims::{self, Policy};
use auth_core::request::{self as rules, SitePolicy};
use auth_core::token_cache::{self, TokenCache};
use pgrx::prelude::*;
use serde_json::{Map, Value};

use crate::gucs;
use crate::request::{has_cookies, header, session_cookie, SessionCookie};

/// Entries the cache keeps.
const CACHE_CAPACITY: usize = 256;

/// What the cache's entries were verified under: the key store's generation and a digest of the
/// `auth.jwt_secret` configuration (value, base64 flag, algorithm).
type Epoch = (u64, token_cache::Digest);

struct Verified {
    claims: Map<String, Value>,
    text: String,
}

thread_local! {
    static CACHE: RefCell<TokenCache<Epoch, Rc<Verified>>> =
        RefCell::new(TokenCache::new(CACHE_CAPACITY));
}

fn epoch() -> Epoch {
    let settings = match gucs::jwt_secret() {
        Some((value, _, base64)) => format!("{}\0{}\0{value}", gucs::jwt_algorithm(), base64),
        None => String::new(),
    };
    (crate::keys::generation(), token_cache::digest(&settings))
}

fn policy_check(claims: &Map<String, Value>) -> bool {
    let audience = gucs::jwt_audience();
    let issuer = gucs::jwt_issuer();
    let policy = Policy {
        now: crate::jwt::now_unix(),
        leeway: gucs::jwt_leeway().into(),
        audience: audience.as_deref(),
        issuer: issuer.as_deref(),
    };
    claims::check(claims, &policy).is_ok()
}

/// The claims of `token` when `auth.jwt_verify` would accept it (signature by kid through the
/// key store, algorithm, exp/nbf with leeway, aud, iss, no NUL), else None — also when no key is
/// configured: a cookie never turns into an error.
fn verify_cached(token: &str) -> Option<Rc<Verified>> {
    let digest = token_cache::digest(token);
    let epoch = epoch();
    let hit = CACHE.with_borrow_mut(|c| c.get(epoch, &digest).cloned());
    if let Some(v) = hit {
        if policy_check(&v.claims) {
            return Some(v);
        }
        CACHE.with_borrow_mut(|c| c.remove(&digest));
        return None;
    }
    let decoded = crate::keys::verify(token).ok()?.ok()?;
    claims::check_no_nul(&decoded.payload).ok()?;
    if !policy_check(&decoded.payload) {
        return None;
    }
    let text = Value::Object(decoded.payload.clone()).to_string();
    let v = Rc::new(Verified {
        claims: decoded.payload,
        text,
    });
    // Generation read before verifying: a change during the load empties the cache next time.
    CACHE.with_borrow_mut(|c| c.insert(epoch, digest, Rc::clone(&v)));
    Some(v)
}

/// The current role's name.
fn current_role() -> String {
    // SAFETY: GetUserId is always valid in a backend; GetUserNameFromId with noerr = true returns
    // NULL for a dropped role, else a palloc'd C string.
    unsafe {
        let name = pg_sys::GetUserNameFromId(pg_sys::GetUserId(), true);
        if name.is_null() {
            return String::new();
        }
        std::ffi::CStr::from_ptr(name)
            .to_string_lossy()
            .into_owned()
    }
}

/// `auth_private._cookie_claims(claims)`: the first half of cookie authentication, for
/// `auth.check_request` (which passes `request.jwt.claims`). The verified claims of the
/// request's access cookie, as JSON text, when all of these hold; NULL otherwise:
/// - `auth.cookie_auth` is on;
/// - PostgREST ran the request as its anonymous role ([`rules::anonymous_claims`] of the claims
///   and the current role) and the request has no bearer token in `Authorization` (a bearer
///   token always wins);
/// - the request is not `/rpc/login`, which runs as the anonymous role it is granted to;
/// - the access cookie (its configured name, by the credential cookie rule) is there, once;
/// - its token passes `auth.jwt_verify`'s checks and carries a `sid` string (a session's token).
///
/// The session, the role and the cross-site rule are `auth_private._cookie_role`'s.
#[pg_extern(stable, parallel_unsafe, schema = "auth_private")]
fn _cookie_claims(claims: Option<&str>) -> Option<String> {
    if !gucs::cookie_auth() {
        return None;
    }
    if !rules::anonymous_claims(claims, &current_role()) {
        return None;
    }
    if header("authorization")
        .as_deref()
        .and_then(rules::bearer_token)
        .is_some()
    {
        return None;
    }
    if gucs::setting_value(c"request.path").as_deref() == Some("/rpc/login") {
        return None;
    }
    let token = session_cookie(SessionCookie::Access)?;
    let verified = verify_cached(&token)?;
    verified.claims.get("sid")?.as_str()?;
    Some(verified.text.clone())
}

/// `auth_private._cross_origin_refusal(cookie_authenticated)`: the message of the cross-site
/// refusal for the current request, NULL when it may go on. Only with `auth.cookie_auth` on
/// (NULL otherwise). `cookie_authenticated`: the request acts through the access cookie (the
/// hook), so the rule always applies. Otherwise (the session functions) it applies to requests a
/// browser sends: with a cookie, a `Sec-Fetch-Site` or an `Origin`. The rule itself is
/// [`rules::cross_site_refusal`] over `request.method`, `Sec-Fetch-Site`, `Origin`,
/// `auth.csrf_allow_same_site` and `auth.allowed_origins`.
#[pg_extern(stable, parallel_safe, schema = "auth_private")]
fn _cross_origin_refusal(cookie_authenticated: bool) -> Option<String> {
    if !gucs::cookie_auth() {
        return None;
    }
    let fetch_site = header("sec-fetch-site");
    let origin = header("origin");
    if !cookie_authenticated && !has_cookies() && fetch_site.is_none() && origin.is_none() {
        return None;
    }
    let method = gucs::setting_value(c"request.method").unwrap_or_default();
    let allowed = gucs::allowed_origins();
    let policy = SitePolicy {
        allow_same_site: gucs::csrf_allow_same_site(),
        allowed_origins: &allowed,
    };
    rules::cross_site_refusal(&method, fetch_site.as_deref(), origin.as_deref(), &policy)
        .map(|r| r.message().to_owned())
}
