//! Every setting of the extension, in one place, with typed getters.
//!
//! All are `SUSET`: only a superuser (or a role granted SET on it) changes them, so no API caller
//! can swap the key or loosen a check for its own session.
//!
//! The three secrets (`auth.jwt_secret`, `auth.proxy_secret`, `auth.key_encryption_key`) are
//! readable by no role at all through the settings machinery: `NO_SHOW_ALL` keeps them out of
//! `pg_settings` (whose `reset_val` column would otherwise show the raw value), and a show hook
//! answers SHOW and `current_setting` with a mask — `SUPERUSER_ONLY` alone is not enough, as members of `pg_read_all_settings` (and so
//! `pg_monitor`) may read such settings. A check hook refuses them where PostgreSQL stores
//! settings in world-readable catalogs (`ALTER DATABASE/ROLE ... SET`, a function's `SET`
//! clause). That only holds in backends where this library is loaded before the setting is read,
//! hence `shared_preload_libraries`.

use std::cell::{Cell, RefCell};
use std::ffi::{CStr, CString};
use std::rc::Rc;

use auth_core::cookie::SameSite;
use auth_core::password;
use auth_core::role_path::{self, RolePath};
use auth_core::AuthError;
use pgrx::guc::{GucContext, GucFlags, GucRegistry, GucSetting, PostgresGucEnum};
use pgrx::pg_sys;

/// `auth.password_algorithm`: what new password hashes are written with.
#[derive(PostgresGucEnum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum PasswordAlgorithm {
    #[name = c"bcrypt"]
    Bcrypt,
    #[name = c"argon2id"]
    Argon2id,
}

#[derive(PostgresGucEnum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum CookieSameSite {
    Strict,
    Lax,
    None,
}

pub static JWT_SECRET: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
pub static JWT_SECRET_IS_BASE64: GucSetting<bool> = GucSetting::<bool>::new(false);
pub static JWT_ALGORITHM: GucSetting<Option<CString>> =
    GucSetting::<Option<CString>>::new(Some(c"HS256"));
pub static JWT_AUDIENCE: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
pub static JWT_ISSUER: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
pub static JWT_ROLE_CLAIM_KEY: GucSetting<Option<CString>> =
    GucSetting::<Option<CString>>::new(Some(c".role"));
pub static JWT_LEEWAY: GucSetting<i32> = GucSetting::<i32>::new(30);
pub static ACCESS_TOKEN_TTL: GucSetting<i32> = GucSetting::<i32>::new(3600);

pub static BCRYPT_COST: GucSetting<i32> = GucSetting::<i32>::new(10);
pub static PASSWORD_ALGORITHM: GucSetting<PasswordAlgorithm> =
    GucSetting::<PasswordAlgorithm>::new(PasswordAlgorithm::Bcrypt);
pub static ARGON2_MEMORY: GucSetting<i32> =
    GucSetting::<i32>::new(password::Argon2Params::OWASP.m_kib as i32);
pub static ARGON2_ITERATIONS: GucSetting<i32> =
    GucSetting::<i32>::new(password::Argon2Params::OWASP.t as i32);
pub static ARGON2_PARALLELISM: GucSetting<i32> =
    GucSetting::<i32>::new(password::Argon2Params::OWASP.p as i32);
pub static PASSWORD_MIN_LENGTH: GucSetting<i32> =
    GucSetting::<i32>::new(password::DEFAULT_MIN_LENGTH as i32);
pub static PASSWORD_CHECK: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
pub static ACCESS_TOKEN_HOOK: GucSetting<Option<CString>> =
    GucSetting::<Option<CString>>::new(None);

pub static REFRESH_TOKEN_TTL: GucSetting<i32> = GucSetting::<i32>::new(30 * 24 * 3600);
pub static REFRESH_REUSE_INTERVAL: GucSetting<i32> = GucSetting::<i32>::new(10);
pub static REFRESH_COOKIE_PATH: GucSetting<Option<CString>> =
    GucSetting::<Option<CString>>::new(Some(c"/rpc/refresh_token"));
pub static COOKIE_SAMESITE: GucSetting<CookieSameSite> =
    GucSetting::<CookieSameSite>::new(CookieSameSite::Lax);
pub static COOKIE_SECURE: GucSetting<bool> = GucSetting::<bool>::new(true);
pub static COOKIE_HOST_PREFIX: GucSetting<bool> = GucSetting::<bool>::new(false);
pub static COOKIE_DOMAIN: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
pub static ACCESS_COOKIE_NAME: GucSetting<Option<CString>> =
    GucSetting::<Option<CString>>::new(Some(c"access_token"));
pub static REFRESH_COOKIE_NAME: GucSetting<Option<CString>> =
    GucSetting::<Option<CString>>::new(Some(c"refresh_token"));
pub static COOKIE_AUTH: GucSetting<bool> = GucSetting::<bool>::new(false);
pub static CSRF_ALLOW_SAME_SITE: GucSetting<bool> = GucSetting::<bool>::new(false);
pub static ALLOWED_ORIGINS: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
pub static TOKENS_IN_BODY: GucSetting<bool> = GucSetting::<bool>::new(false);
pub static MAX_FAILED_LOGINS: GucSetting<i32> = GucSetting::<i32>::new(5);
pub static LOCKOUT_WINDOW: GucSetting<i32> = GucSetting::<i32>::new(15 * 60);
pub static MAX_FAILED_LOGINS_PER_IP: GucSetting<i32> = GucSetting::<i32>::new(50);
pub static CLIENT_IP_HEADER: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
pub static SESSION_IDLE_TIMEOUT: GucSetting<i32> = GucSetting::<i32>::new(0);
pub static SESSION_MAX_LIFETIME: GucSetting<i32> = GucSetting::<i32>::new(0);
pub static AUDIT_RETENTION: GucSetting<i32> = GucSetting::<i32>::new(90 * 24 * 3600);

pub static API_KEY_TOKEN_TTL: GucSetting<i32> = GucSetting::<i32>::new(300);
pub static MY_API_TOKEN_MAX_TTL: GucSetting<i32> = GucSetting::<i32>::new(90 * 24 * 3600);
pub static MY_API_TOKEN_MAX_COUNT: GucSetting<i32> = GucSetting::<i32>::new(10);
pub static ALLOW_SIGNUP: GucSetting<bool> = GucSetting::<bool>::new(false);
pub static SIGNUP_ROLE: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
pub static REQUIRE_VERIFIED_EMAIL: GucSetting<bool> = GucSetting::<bool>::new(false);
pub static RESET_TOKEN_TTL: GucSetting<i32> = GucSetting::<i32>::new(3600);
pub static VERIFICATION_TOKEN_TTL: GucSetting<i32> = GucSetting::<i32>::new(24 * 3600);
pub static MAX_ACCOUNT_REQUESTS_PER_IP: GucSetting<i32> = GucSetting::<i32>::new(20);
pub static CHECK_SESSIONS: GucSetting<bool> = GucSetting::<bool>::new(true);
pub static PROXY_SECRET: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
pub static KEY_ENCRYPTION_KEY: GucSetting<Option<CString>> =
    GucSetting::<Option<CString>>::new(None);
pub static POSTGREST_CHANNEL: GucSetting<Option<CString>> =
    GucSetting::<Option<CString>>::new(Some(c"pgrst"));

const SECRET: GucFlags = GucFlags::SUPERUSER_ONLY.union(GucFlags::NO_SHOW_ALL);

fn int(
    name: &'static CStr,
    desc: &'static CStr,
    s: &'static GucSetting<i32>,
    min: i32,
    max: i32,
    unit: GucFlags,
) {
    GucRegistry::define_int_guc(name, desc, c"", s, min, max, GucContext::Suset, unit);
}

fn boolean(name: &'static CStr, desc: &'static CStr, s: &'static GucSetting<bool>) {
    GucRegistry::define_bool_guc(name, desc, c"", s, GucContext::Suset, GucFlags::default());
}

fn string(
    name: &'static CStr,
    desc: &'static CStr,
    s: &'static GucSetting<Option<CString>>,
    flags: GucFlags,
) {
    GucRegistry::define_string_guc(name, desc, c"", s, GucContext::Suset, flags);
}

/// What SHOW and `current_setting` answer for a secret that is set.
const MASK: &CStr = c"(hidden)";

fn mask(s: &GucSetting<Option<CString>>) -> *const std::ffi::c_char {
    if text(s).is_some() {
        MASK.as_ptr()
    } else {
        c"".as_ptr()
    }
}

unsafe extern "C-unwind" fn show_jwt_secret() -> *const std::ffi::c_char {
    mask(&JWT_SECRET)
}

unsafe extern "C-unwind" fn show_proxy_secret() -> *const std::ffi::c_char {
    mask(&PROXY_SECRET)
}

unsafe extern "C-unwind" fn show_key_encryption_key() -> *const std::ffi::c_char {
    mask(&KEY_ENCRYPTION_KEY)
}

/// Refuses a secret coming from a place every role can read: `pg_db_role_setting` (ALTER
/// DATABASE / ROLE ... SET, checked as PGC_S_TEST when stored and applied as PGC_S_DATABASE,
/// PGC_S_USER, PGC_S_DATABASE_USER or PGC_S_GLOBAL at connection) and `pg_proc.proconfig` (a
/// function's SET clause, checked as PGC_S_TEST). postgresql.conf, its include files, ALTER SYSTEM
/// and SET in a superuser's session stay allowed.
unsafe extern "C-unwind" fn check_secret(
    newval: *mut *mut std::ffi::c_char,
    _extra: *mut *mut std::ffi::c_void,
    source: pg_sys::GucSource::Type,
) -> bool {
    use pg_sys::GucSource::*;
    // SAFETY: PostgreSQL passes a valid pointer to the candidate value (NULL or a C string).
    let empty = unsafe { newval.is_null() || (*newval).is_null() || **newval == 0 };
    if empty
        || !matches!(
            source,
            PGC_S_TEST | PGC_S_GLOBAL | PGC_S_DATABASE | PGC_S_USER | PGC_S_DATABASE_USER
        )
    {
        return true;
    }
    // SAFETY: GUC_check_errdetail_string must be palloc'd; pstrdup copies a static C string.
    unsafe {
        pg_sys::GUC_check_errdetail_string = pg_sys::pstrdup(
            c"Every role can read settings stored with ALTER DATABASE/ROLE ... SET or in a function's SET clause; put the secret in postgresql.conf (an include file of mode 0600) or use ALTER SYSTEM."
                .as_ptr(),
        );
    }
    false
}

fn secret(
    name: &'static CStr,
    desc: &'static CStr,
    s: &'static GucSetting<Option<CString>>,
    show: unsafe extern "C-unwind" fn() -> *const std::ffi::c_char,
) {
    // SAFETY: static hooks with the signatures PostgreSQL expects for a string setting.
    unsafe {
        GucRegistry::define_string_guc_with_hooks(
            name,
            desc,
            c"",
            s,
            GucContext::Suset,
            SECRET,
            Some(check_secret),
            None,
            Some(show),
        );
    }
}

/// The text of a string setting's candidate value, the default when NULL (`SET ... TO DEFAULT`
/// of a setting whose default is NULL; ours is not, but the pointer is checked all the same).
///
/// SAFETY: `value` is NULL or a valid C string.
unsafe fn role_path_text<'a>(value: *const std::ffi::c_char) -> Result<&'a str, ()> {
    if value.is_null() {
        return Ok(role_path::DEFAULT_PATH);
    }
    // SAFETY: a valid C string, per the caller.
    unsafe { CStr::from_ptr(value) }.to_str().map_err(|_| ())
}

/// Refuses a value of `auth.jwt_role_claim_key` that is not a path (`22023`, PostgreSQL's
/// `invalid value for parameter` with the reason as its detail): at SET, in postgresql.conf, in
/// ALTER SYSTEM/DATABASE/ROLE ... SET and in a function's SET clause alike.
unsafe extern "C-unwind" fn check_role_claim_key(
    newval: *mut *mut std::ffi::c_char,
    _extra: *mut *mut std::ffi::c_void,
    _source: pg_sys::GucSource::Type,
) -> bool {
    // SAFETY: PostgreSQL passes a valid pointer to the candidate value (NULL or a C string).
    let why = match unsafe { role_path_text(*newval) } {
        Ok(text) => match role_path::parse(text) {
            Ok(_) => return true,
            Err(e) => e.message(),
        },
        Err(()) => "invalid role claim path: it is not valid UTF-8".to_owned(),
    };
    let why = CString::new(why).unwrap_or_else(|_| c"invalid role claim path".to_owned());
    // SAFETY: GUC_check_errdetail_string must be palloc'd; pstrdup copies the message.
    unsafe {
        pg_sys::GUC_check_errcode(pgrx::PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE as i32);
        pg_sys::GUC_check_errdetail_string = pg_sys::pstrdup(why.as_ptr());
    }
    false
}

/// The parsed `auth.jwt_role_claim_key` of this backend and the text it was parsed from.
struct CachedRolePath {
    text: String,
    path: Rc<RolePath>,
}

thread_local! {
    static ROLE_PATH: RefCell<Option<CachedRolePath>> = const { RefCell::new(None) };
    /// Counts the paths parsed in this backend: what the claim helpers key role answers by.
    static ROLE_PATH_GENERATION: Cell<u64> = const { Cell::new(0) };
}

/// Keeps the parsed path in step with the setting: PostgreSQL calls this whenever the value in
/// force changes (SET, SET LOCAL, RESET, the end of a transaction or of a function's SET clause,
/// a reload), after the check hook accepted it. A value equal to the one parsed last is not parsed
/// again. Never raises: a value the check hook accepted parses.
unsafe extern "C-unwind" fn assign_role_claim_key(
    newval: *const std::ffi::c_char,
    _extra: *mut std::ffi::c_void,
) {
    // SAFETY: PostgreSQL passes the new value, NULL or a valid C string.
    let Ok(text) = (unsafe { role_path_text(newval) }) else {
        return;
    };
    ROLE_PATH.with_borrow_mut(|cached| {
        if cached.as_ref().is_some_and(|c| c.text == text) {
            return;
        }
        if let Ok(path) = role_path::parse(text) {
            *cached = Some(CachedRolePath {
                text: text.to_owned(),
                path: Rc::new(path),
            });
            ROLE_PATH_GENERATION.set(ROLE_PATH_GENERATION.get() + 1);
        }
    });
}

/// The path of `auth.jwt_role_claim_key` in force, and its generation (which changes with the
/// path). Read by `auth.role()` at every call: no parse, no copy of the setting.
pub fn role_claim_path() -> (Rc<RolePath>, u64) {
    ROLE_PATH.with_borrow_mut(|cached| {
        let cached = cached.get_or_insert_with(|| {
            // Before the first assignment (cannot happen once the setting is defined): the default.
            ROLE_PATH_GENERATION.set(ROLE_PATH_GENERATION.get() + 1);
            CachedRolePath {
                text: role_path::DEFAULT_PATH.to_owned(),
                path: Rc::new(
                    role_path::parse(role_path::DEFAULT_PATH).expect("the default parses"),
                ),
            }
        });
        (Rc::clone(&cached.path), ROLE_PATH_GENERATION.get())
    })
}

pub fn init() {
    secret(
        c"auth.jwt_secret",
        c"Key for signing and verifying JWTs.",
        &JWT_SECRET,
        show_jwt_secret,
    );
    boolean(
        c"auth.jwt_secret_is_base64",
        c"auth.jwt_secret is base64 (standard or URL-safe).",
        &JWT_SECRET_IS_BASE64,
    );
    string(
        c"auth.jwt_algorithm",
        c"JWT algorithm: HS256, HS384 or HS512.",
        &JWT_ALGORITHM,
        GucFlags::default(),
    );
    string(
        c"auth.jwt_audience",
        c"When set, tokens carry this aud and jwt_verify requires it.",
        &JWT_AUDIENCE,
        GucFlags::default(),
    );
    string(
        c"auth.jwt_issuer",
        c"When set, tokens carry this iss and jwt_verify requires it.",
        &JWT_ISSUER,
        GucFlags::default(),
    );
    // SAFETY: static hooks with the signatures PostgreSQL expects for a string setting.
    unsafe {
        GucRegistry::define_string_guc_with_hooks(
            c"auth.jwt_role_claim_key",
            c"Path to the role in the JWT claims, as PostgREST's jwt-role-claim-key: .role, .realm_access.roles[0], .\"https://example.com/role\".",
            c"",
            &JWT_ROLE_CLAIM_KEY,
            GucContext::Suset,
            GucFlags::default(),
            Some(check_role_claim_key),
            Some(assign_role_claim_key),
            None,
        );
    }
    int(
        c"auth.jwt_leeway",
        c"Clock skew allowed on exp, nbf and iat.",
        &JWT_LEEWAY,
        0,
        3600,
        GucFlags::UNIT_S,
    );
    int(
        c"auth.access_token_ttl",
        c"Lifetime of access tokens.",
        &ACCESS_TOKEN_TTL,
        1,
        7 * 24 * 3600,
        GucFlags::UNIT_S,
    );
    int(
        c"auth.bcrypt_cost",
        c"bcrypt cost for new password hashes.",
        &BCRYPT_COST,
        4,
        20,
        GucFlags::default(),
    );
    GucRegistry::define_enum_guc(
        c"auth.password_algorithm",
        c"Algorithm of new password hashes: bcrypt or argon2id (login verifies both).",
        c"",
        &PASSWORD_ALGORITHM,
        GucContext::Suset,
        GucFlags::default(),
    );
    int(
        c"auth.argon2_memory",
        c"argon2id memory of new password hashes (m).",
        &ARGON2_MEMORY,
        password::ARGON2_MIN_M_KIB as i32,
        password::ARGON2_MAX_M_KIB as i32,
        GucFlags::UNIT_KB,
    );
    int(
        c"auth.argon2_iterations",
        c"argon2id passes of new password hashes (t); memory times passes at most 1 GiB.",
        &ARGON2_ITERATIONS,
        1,
        (password::ARGON2_MAX_WORK_KIB / u64::from(password::ARGON2_MIN_M_KIB)) as i32,
        GucFlags::default(),
    );
    int(
        c"auth.argon2_parallelism",
        c"argon2id lanes of new password hashes (p).",
        &ARGON2_PARALLELISM,
        1,
        password::ARGON2_MAX_P as i32,
        GucFlags::default(),
    );
    int(
        c"auth.password_min_length",
        c"Fewest characters of a new password.",
        &PASSWORD_MIN_LENGTH,
        1,
        password::MAX_MIN_LENGTH as i32,
        GucFlags::default(),
    );
    string(
        c"auth.password_check",
        c"Function schema.name(username text, password text) returning a refusal reason or NULL, called for new passwords.",
        &PASSWORD_CHECK,
        GucFlags::default(),
    );
    string(
        c"auth.access_token_hook",
        c"Function schema.name(event jsonb) returning jsonb, called as its owner at login and refresh: the claims of the session's access token.",
        &ACCESS_TOKEN_HOOK,
        GucFlags::default(),
    );
    int(
        c"auth.refresh_token_ttl",
        c"Lifetime of refresh tokens.",
        &REFRESH_TOKEN_TTL,
        60,
        366 * 24 * 3600,
        GucFlags::UNIT_S,
    );
    int(
        c"auth.refresh_reuse_interval",
        c"Grace period in which a spent refresh token may be presented again (concurrent tabs).",
        &REFRESH_REUSE_INTERVAL,
        0,
        300,
        GucFlags::UNIT_S,
    );
    string(
        c"auth.refresh_cookie_path",
        c"Path attribute of the refresh_token cookie.",
        &REFRESH_COOKIE_PATH,
        GucFlags::default(),
    );
    GucRegistry::define_enum_guc(
        c"auth.cookie_samesite",
        c"SameSite attribute of session cookies.",
        c"",
        &COOKIE_SAMESITE,
        GucContext::Suset,
        GucFlags::default(),
    );
    boolean(
        c"auth.cookie_secure",
        c"Mark session cookies Secure (turn off only for plain-http development).",
        &COOKIE_SECURE,
    );
    boolean(
        c"auth.cookie_host_prefix",
        c"Session cookies named __Host-<access> and __Secure-<refresh> (needs auth.cookie_secure, no auth.cookie_domain).",
        &COOKIE_HOST_PREFIX,
    );
    string(
        c"auth.cookie_domain",
        c"Domain attribute of the session cookies; empty: host-only cookies.",
        &COOKIE_DOMAIN,
        GucFlags::default(),
    );
    string(
        c"auth.access_cookie_name",
        c"Name of the access-token cookie (before the auth.cookie_host_prefix prefix).",
        &ACCESS_COOKIE_NAME,
        GucFlags::default(),
    );
    string(
        c"auth.refresh_cookie_name",
        c"Name of the refresh-token cookie (before the auth.cookie_host_prefix prefix).",
        &REFRESH_COOKIE_NAME,
        GucFlags::default(),
    );
    boolean(
        c"auth.cookie_auth",
        c"check_request authenticates requests without a bearer token by their access-token cookie.",
        &COOKIE_AUTH,
    );
    boolean(
        c"auth.csrf_allow_same_site",
        c"Cookie-authenticated writes may come from the same site (Sec-Fetch-Site: same-site), not only the same origin.",
        &CSRF_ALLOW_SAME_SITE,
    );
    string(
        c"auth.allowed_origins",
        c"Comma-separated exact origins whose cookie-authenticated writes are allowed when Sec-Fetch-Site is absent.",
        &ALLOWED_ORIGINS,
        GucFlags::default(),
    );
    boolean(
        c"auth.tokens_in_body",
        c"login and refresh_token also return the tokens in their JSON result.",
        &TOKENS_IN_BODY,
    );
    int(
        c"auth.max_failed_logins",
        c"Failed logins per username within auth.lockout_window before further attempts get 429.",
        &MAX_FAILED_LOGINS,
        1,
        1000,
        GucFlags::default(),
    );
    int(
        c"auth.lockout_window",
        c"Window for counting failed logins.",
        &LOCKOUT_WINDOW,
        1,
        24 * 3600,
        GucFlags::UNIT_S,
    );
    int(
        c"auth.max_failed_logins_per_ip",
        c"Failed logins from one client address (auth.client_ip_header) within auth.lockout_window before further attempts from it get 429.",
        &MAX_FAILED_LOGINS_PER_IP,
        1,
        100_000,
        GucFlags::default(),
    );
    string(
        c"auth.client_ip_header",
        c"Request header in which the trusted proxy reports the client address (its rightmost element), e.g. x-forwarded-for; empty: none.",
        &CLIENT_IP_HEADER,
        GucFlags::default(),
    );
    int(
        c"auth.session_idle_timeout",
        c"A session not seen for this long ends (0: off).",
        &SESSION_IDLE_TIMEOUT,
        0,
        366 * 24 * 3600,
        GucFlags::UNIT_S,
    );
    int(
        c"auth.session_max_lifetime",
        c"A session ends this long after login, however active (0: off).",
        &SESSION_MAX_LIFETIME,
        0,
        3660 * 24 * 3600,
        GucFlags::UNIT_S,
    );
    int(
        c"auth.audit_retention",
        c"How long purge_sessions keeps rows of auth.audit_log (0: for ever).",
        &AUDIT_RETENTION,
        0,
        3660 * 24 * 3600,
        GucFlags::UNIT_S,
    );
    boolean(
        c"auth.allow_signup",
        c"Whether auth.signup creates accounts.",
        &ALLOW_SIGNUP,
    );
    string(
        c"auth.signup_role",
        c"The database role of users created by auth.signup.",
        &SIGNUP_ROLE,
        GucFlags::default(),
    );
    boolean(
        c"auth.require_verified_email",
        c"Sign-up needs an email address and starts no session; login refuses users whose email address is not verified.",
        &REQUIRE_VERIFIED_EMAIL,
    );
    int(
        c"auth.reset_token_ttl",
        c"Lifetime of password reset tokens.",
        &RESET_TOKEN_TTL,
        60,
        24 * 3600,
        GucFlags::UNIT_S,
    );
    int(
        c"auth.verification_token_ttl",
        c"Lifetime of email verification tokens.",
        &VERIFICATION_TOKEN_TTL,
        60,
        7 * 24 * 3600,
        GucFlags::UNIT_S,
    );
    int(
        c"auth.max_account_requests_per_ip",
        c"Sign-ups, password reset and verification requests from one client address within auth.lockout_window (0: no limit).",
        &MAX_ACCOUNT_REQUESTS_PER_IP,
        0,
        1_000_000,
        GucFlags::default(),
    );
    int(
        c"auth.api_key_token_ttl",
        c"Lifetime of JWTs returned by exchange_api_key.",
        &API_KEY_TOKEN_TTL,
        1,
        24 * 3600,
        GucFlags::UNIT_S,
    );
    int(
        c"auth.my_api_token_max_ttl",
        c"Longest lifetime of an API token a user creates for themselves (create_my_api_token).",
        &MY_API_TOKEN_MAX_TTL,
        60,
        366 * 24 * 3600,
        GucFlags::UNIT_S,
    );
    int(
        c"auth.my_api_token_max_count",
        c"Live API tokens a user may hold from create_my_api_token; 0: none.",
        &MY_API_TOKEN_MAX_COUNT,
        0,
        1000,
        GucFlags::default(),
    );
    boolean(
        c"auth.check_sessions",
        c"check_request refuses access tokens whose session (sid) is no longer live.",
        &CHECK_SESSIONS,
    );
    secret(
        c"auth.proxy_secret",
        c"When set, API-token and API-key requests must carry it in x-proxy-secret.",
        &PROXY_SECRET,
        show_proxy_secret,
    );
    secret(
        c"auth.key_encryption_key",
        c"Encrypts the private parts of the stored signing keys (at least 32 bytes).",
        &KEY_ENCRYPTION_KEY,
        show_key_encryption_key,
    );
    string(
        c"auth.postgrest_channel",
        c"Channel that key changes notify with 'reload config' (PostgREST's db-channel); empty: none.",
        &POSTGREST_CHANNEL,
        GucFlags::default(),
    );
}

fn text(s: &GucSetting<Option<CString>>) -> Option<String> {
    s.get()
        .map(|c| c.to_string_lossy().into_owned())
        .filter(|v| !v.is_empty())
}

/// Any setting's value, ours or not, None when unset or empty. Read without the privilege check
/// SHOW applies: for the request settings PostgREST sets
/// (`request.headers`, `request.cookies`, `response.headers`), which every role may read anyway.
pub fn setting_value(name: &CStr) -> Option<String> {
    // SAFETY: GetConfigOption with missing_ok returns NULL or a valid C string owned by the GUC
    // machinery, which we copy at once.
    let raw = unsafe { pg_sys::GetConfigOption(name.as_ptr(), true, false) };
    if raw.is_null() {
        return None;
    }
    let value = unsafe { CStr::from_ptr(raw) }.to_string_lossy();
    (!value.is_empty()).then(|| value.into_owned())
}

/// `request.jwt.claims`, read by the claim helpers once per row: its bytes, without a copy, empty
/// when unset. They belong to the settings machinery and stay valid while no setting changes, so
/// `f` must not change one.
pub fn with_request_claims<R>(f: impl FnOnce(&[u8]) -> R) -> R {
    let raw = hot::request_claims();
    if raw.is_null() {
        return f(&[]);
    }
    // SAFETY: a valid C string of the settings machinery, borrowed for the duration of `f`.
    f(unsafe { CStr::from_ptr(raw) }.to_bytes())
}

/// Reading `request.jwt.claims` by name costs more than everything else a claim helper does:
/// PostgreSQL 15 keeps the settings in an array sorted by name and searches it with a
/// case-insensitive comparison at every read. So the reader remembers where the setting's record
/// sits and, at every read, checks that the record there is still one named `request.jwt.claims`
/// holding a string before taking its current value; anything else (a new setting re-sorts the
/// array, a reserved prefix removes placeholders, a library defining the setting replaces its
/// placeholder) falls back to the search. The value read is the one `GetConfigOption` returns.
/// PostgreSQL 16 and later look settings up in a hash table: the plain read is used there.
#[cfg(feature = "pg15")]
mod hot {
    use std::cell::Cell;
    use std::ffi::{c_char, c_int, CStr};

    use pgrx::pg_sys;

    const NAME: &CStr = c"request.jwt.claims";

    // Both return a backend-local static and cannot raise an error, so they are declared here
    // without pgrx's error guard (a setjmp per call).
    unsafe extern "C-unwind" {
        fn get_guc_variables() -> *mut *mut pg_sys::config_generic;
        fn GetNumConfigOptions() -> c_int;
    }

    thread_local! {
        /// Where `request.jwt.claims` was last found in the array of settings.
        static INDEX: Cell<usize> = const { Cell::new(usize::MAX) };
    }

    /// PostgreSQL's comparison of setting names: ASCII letters in either case.
    fn is_our_name(name: *const c_char) -> bool {
        // SAFETY: `name` is a valid C string: reading stops at its NUL, as the first byte that
        // differs from NAME (which holds none) ends the loop.
        let ours = NAME.to_bytes_with_nul();
        ours.iter().enumerate().all(|(i, &want)| {
            let got = unsafe { *name.add(i) } as u8;
            got.eq_ignore_ascii_case(&want)
        })
    }

    /// The value of the string setting whose record is `record`, when it is ours.
    ///
    /// SAFETY: `record` is a live entry of the array of settings.
    unsafe fn value_of(record: *mut pg_sys::config_generic) -> Option<*const c_char> {
        unsafe {
            if (*record).vartype != pg_sys::config_type::PGC_STRING || !is_our_name((*record).name)
            {
                return None;
            }
            Some(*(*record.cast::<pg_sys::config_string>()).variable)
        }
    }

    pub fn request_claims() -> *const c_char {
        // SAFETY: the array and its length are read together, in this single-threaded backend,
        // and only entries below the length are read.
        unsafe {
            let records = get_guc_variables();
            let count = usize::try_from(GetNumConfigOptions()).unwrap_or(0);
            let at = INDEX.get();
            if at < count {
                if let Some(value) = value_of(*records.add(at)) {
                    return value;
                }
            }
            // Not where it was: ask by name (NULL when it was never set in this backend), then
            // find the record for the next read.
            let value = pg_sys::GetConfigOption(NAME.as_ptr(), true, false);
            if !value.is_null() {
                if let Some(found) = (0..count).find(|&i| value_of(*records.add(i)).is_some()) {
                    INDEX.set(found);
                }
            }
            value
        }
    }
}

#[cfg(not(feature = "pg15"))]
mod hot {
    use std::ffi::c_char;

    use pgrx::pg_sys;

    pub fn request_claims() -> *const c_char {
        // SAFETY: with missing_ok, GetConfigOption returns NULL or a valid C string.
        unsafe { pg_sys::GetConfigOption(c"request.jwt.claims".as_ptr(), true, false) }
    }
}

/// The configured JWT secret, the setting it came from, and whether it is base64. Only
/// `auth.jwt_secret`: PostgREST's `pgrst.jwt_secret` and `app.settings.jwt_secret`, which 0.1.0
/// fell back to, are settings every role can read.
pub fn jwt_secret() -> Option<(String, &'static str, bool)> {
    text(&JWT_SECRET).map(|s| (s, "auth.jwt_secret", JWT_SECRET_IS_BASE64.get()))
}

/// The current bytes of a string setting (empty when unset), without a copy: valid until the
/// setting changes, so only for an immediate comparison.
fn raw_bytes(s: &'static GucSetting<Option<CString>>) -> &'static [u8] {
    // SAFETY: the setting's variable holds NULL or a C string owned by the settings machinery;
    // callers compare the bytes before anything can change a setting.
    unsafe {
        let raw = *s.as_ptr();
        if raw.is_null() {
            &[]
        } else {
            CStr::from_ptr(raw).to_bytes()
        }
    }
}

/// `auth.jwt_secret` and `auth.jwt_algorithm` as they are now, to tell whether a key derived
/// from them is still current.
pub fn jwt_secret_bytes() -> &'static [u8] {
    raw_bytes(&JWT_SECRET)
}
pub fn jwt_algorithm_bytes() -> &'static [u8] {
    raw_bytes(&JWT_ALGORITHM)
}
pub fn jwt_secret_is_base64() -> bool {
    JWT_SECRET_IS_BASE64.get()
}

/// True when `auth.jwt_secret` itself (not a fallback) holds a value.
pub fn jwt_secret_configured() -> bool {
    text(&JWT_SECRET).is_some()
}

pub fn jwt_algorithm() -> String {
    text(&JWT_ALGORITHM).unwrap_or_else(|| "HS256".into())
}
pub fn jwt_audience() -> Option<String> {
    text(&JWT_AUDIENCE)
}
pub fn jwt_issuer() -> Option<String> {
    text(&JWT_ISSUER)
}
pub fn jwt_leeway() -> i32 {
    JWT_LEEWAY.get()
}
pub fn access_token_ttl() -> i32 {
    ACCESS_TOKEN_TTL.get()
}
pub fn bcrypt_cost() -> u32 {
    BCRYPT_COST.get() as u32
}
/// The password settings together. With `argon2id` selected, parameters argon2 would refuse
/// (memory times passes over 1 GiB: each setting is in range alone) are 22023 naming the settings,
/// for every call that hashes or checks a password.
pub fn password_config() -> Result<password::PasswordConfig, AuthError> {
    let argon2 = password::Argon2Params {
        m_kib: ARGON2_MEMORY.get() as u32,
        t: ARGON2_ITERATIONS.get() as u32,
        p: ARGON2_PARALLELISM.get() as u32,
    };
    let algorithm = match PASSWORD_ALGORITHM.get() {
        PasswordAlgorithm::Bcrypt => password::PasswordAlgorithm::Bcrypt,
        PasswordAlgorithm::Argon2id => password::PasswordAlgorithm::Argon2id,
    };
    if algorithm == password::PasswordAlgorithm::Argon2id {
        argon2.check().map_err(|e| {
            AuthError::Config(format!(
                "auth.argon2_memory, auth.argon2_iterations, auth.argon2_parallelism: {}",
                e.message()
            ))
        })?;
    }
    Ok(password::PasswordConfig {
        algorithm,
        bcrypt_cost: bcrypt_cost(),
        argon2,
    })
}
pub fn password_min_length() -> u32 {
    PASSWORD_MIN_LENGTH.get() as u32
}
/// `auth.password_check`, None when unset or empty.
pub fn password_check() -> Option<String> {
    text(&PASSWORD_CHECK)
}
/// `auth.access_token_hook`, None when unset or empty.
pub fn access_token_hook() -> Option<String> {
    text(&ACCESS_TOKEN_HOOK)
}
pub fn refresh_token_ttl() -> i32 {
    REFRESH_TOKEN_TTL.get()
}
pub fn refresh_reuse_interval() -> i32 {
    REFRESH_REUSE_INTERVAL.get()
}
pub fn refresh_cookie_path() -> String {
    text(&REFRESH_COOKIE_PATH).unwrap_or_else(|| "/rpc/refresh_token".into())
}
pub fn cookie_samesite() -> SameSite {
    match COOKIE_SAMESITE.get() {
        CookieSameSite::Strict => SameSite::Strict,
        CookieSameSite::Lax => SameSite::Lax,
        CookieSameSite::None => SameSite::None,
    }
}
pub fn cookie_secure() -> bool {
    COOKIE_SECURE.get()
}
pub fn cookie_host_prefix() -> bool {
    COOKIE_HOST_PREFIX.get()
}
pub fn cookie_domain() -> Option<String> {
    text(&COOKIE_DOMAIN)
}
/// The configured base names of the session cookies (access, refresh); an empty setting is the
/// default name.
pub fn cookie_base_names() -> (String, String) {
    (
        text(&ACCESS_COOKIE_NAME).unwrap_or_else(|| "access_token".into()),
        text(&REFRESH_COOKIE_NAME).unwrap_or_else(|| "refresh_token".into()),
    )
}
pub fn cookie_auth() -> bool {
    COOKIE_AUTH.get()
}
pub fn csrf_allow_same_site() -> bool {
    CSRF_ALLOW_SAME_SITE.get()
}
pub fn allowed_origins() -> String {
    text(&ALLOWED_ORIGINS).unwrap_or_default()
}
pub fn tokens_in_body() -> bool {
    TOKENS_IN_BODY.get()
}
pub fn max_failed_logins() -> i32 {
    MAX_FAILED_LOGINS.get()
}
pub fn lockout_window() -> i32 {
    LOCKOUT_WINDOW.get()
}
pub fn max_failed_logins_per_ip() -> i32 {
    MAX_FAILED_LOGINS_PER_IP.get()
}
/// The header named by `auth.client_ip_header`, lower-cased as `request.headers` has it.
pub fn client_ip_header() -> Option<String> {
    text(&CLIENT_IP_HEADER).map(|h| h.to_ascii_lowercase())
}
pub fn session_idle_timeout() -> i32 {
    SESSION_IDLE_TIMEOUT.get()
}
pub fn session_max_lifetime() -> i32 {
    SESSION_MAX_LIFETIME.get()
}
pub fn audit_retention() -> i32 {
    AUDIT_RETENTION.get()
}
pub fn api_key_token_ttl() -> i32 {
    API_KEY_TOKEN_TTL.get()
}
pub fn my_api_token_max_ttl() -> i32 {
    MY_API_TOKEN_MAX_TTL.get()
}
pub fn my_api_token_max_count() -> i32 {
    MY_API_TOKEN_MAX_COUNT.get()
}
pub fn allow_signup() -> bool {
    ALLOW_SIGNUP.get()
}
/// `auth.signup_role`, empty when unset.
pub fn signup_role() -> String {
    text(&SIGNUP_ROLE).unwrap_or_default()
}
pub fn require_verified_email() -> bool {
    REQUIRE_VERIFIED_EMAIL.get()
}
pub fn reset_token_ttl() -> i32 {
    RESET_TOKEN_TTL.get()
}
pub fn verification_token_ttl() -> i32 {
    VERIFICATION_TOKEN_TTL.get()
}
pub fn max_account_requests_per_ip() -> i32 {
    MAX_ACCOUNT_REQUESTS_PER_IP.get()
}
pub fn check_sessions() -> bool {
    CHECK_SESSIONS.get()
}
pub fn proxy_secret() -> Option<String> {
    text(&PROXY_SECRET)
}
pub fn key_encryption_key() -> Option<String> {
    text(&KEY_ENCRYPTION_KEY)
}
pub fn postgrest_channel() -> String {
    text(&POSTGREST_CHANNEL).unwrap_or_default()
}

/// The non-secret settings as SQL sees them, for the plpgsql flows (`auth._setting(name)`).
/// Reading through here also loads the library, so the values are never placeholders.
pub fn setting_text(name: &str) -> Option<String> {
    Some(match name {
        "jwt_algorithm" => jwt_algorithm(),
        "jwt_leeway" => jwt_leeway().to_string(),
        "access_token_ttl" => access_token_ttl().to_string(),
        "bcrypt_cost" => bcrypt_cost().to_string(),
        "refresh_token_ttl" => refresh_token_ttl().to_string(),
        "refresh_reuse_interval" => refresh_reuse_interval().to_string(),
        "refresh_cookie_path" => refresh_cookie_path(),
        "cookie_samesite" => cookie_samesite().name().to_string(),
        "cookie_secure" => cookie_secure().to_string(),
        "tokens_in_body" => tokens_in_body().to_string(),
        "cookie_host_prefix" => cookie_host_prefix().to_string(),
        "cookie_domain" => cookie_domain().unwrap_or_default(),
        "access_cookie_name" => cookie_base_names().0,
        "refresh_cookie_name" => cookie_base_names().1,
        "cookie_auth" => cookie_auth().to_string(),
        "csrf_allow_same_site" => csrf_allow_same_site().to_string(),
        "allowed_origins" => allowed_origins(),
        "max_failed_logins" => max_failed_logins().to_string(),
        "lockout_window" => lockout_window().to_string(),
        "max_failed_logins_per_ip" => max_failed_logins_per_ip().to_string(),
        "session_idle_timeout" => session_idle_timeout().to_string(),
        "session_max_lifetime" => session_max_lifetime().to_string(),
        "audit_retention" => audit_retention().to_string(),
        "api_key_token_ttl" => api_key_token_ttl().to_string(),
        "my_api_token_max_ttl" => my_api_token_max_ttl().to_string(),
        "my_api_token_max_count" => my_api_token_max_count().to_string(),
        "check_sessions" => check_sessions().to_string(),
        "allow_signup" => allow_signup().to_string(),
        "signup_role" => signup_role(),
        "require_verified_email" => require_verified_email().to_string(),
        "reset_token_ttl" => reset_token_ttl().to_string(),
        "verification_token_ttl" => verification_token_ttl().to_string(),
        "max_account_requests_per_ip" => max_account_requests_per_ip().to_string(),
        "proxy_secret_set" => proxy_secret().is_some().to_string(),
        "postgrest_channel" => postgrest_channel(),
        _ => return None,
    })
}
