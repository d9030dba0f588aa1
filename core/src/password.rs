//! Password hashing: bcrypt, compatible with pgcrypto's `crypt(p, gen_salt('bf'))`, and argon2id.
//!
//! bcrypt: we write `$2a$` hashes (the only prefix pgcrypto's `crypt()` accepts) and verify `$2a$`,
//! `$2b$` and `$2y$`. bcrypt reads at most 72 bytes: longer passwords are refused, never truncated.
//!
//! argon2id: see the section below [`needs_rehash`]. [`verify_stored`], [`login_matches`],
//! [`needs_rehash_for`] and [`check_importable`] take a stored hash of either algorithm.

use subtle::ConstantTimeEq;

use crate::AuthError;

pub const MAX_PASSWORD_BYTES: usize = 72;
pub const MIN_COST: u32 = 4;
/// Above this one hash takes minutes, and a bcrypt call cannot be interrupted: refused both for
/// hashing and in stored hashes (which could otherwise pin a backend).
pub const MAX_COST: u32 = 20;

/// A bcrypt hash we accept: `$2a$`/`$2b$`/`$2y$`, two-digit cost, 53 characters of bcrypt base64.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParsedHash {
    pub cost: u32,
}

/// The cost digits of a text shaped like a bcrypt hash (any two digits, 00 to 99), else `None`.
fn shaped_cost(hash: &str) -> Option<u32> {
    let b = hash.as_bytes();
    if b.len() != 60
        || !(hash.starts_with("$2a$") || hash.starts_with("$2b$") || hash.starts_with("$2y$"))
    {
        return None;
    }
    if !b[4].is_ascii_digit() || !b[5].is_ascii_digit() || b[6] != b'$' {
        return None;
    }
    let body_ok = b[7..]
        .iter()
        .all(|&c| c.is_ascii_alphanumeric() || c == b'.' || c == b'/');
    body_ok.then(|| u32::from(b[4] - b'0') * 10 + u32::from(b[5] - b'0'))
}

/// A bcrypt hash of a cost bcrypt defines (4 to 31), else `None`.
pub fn parse_hash(hash: &str) -> Option<ParsedHash> {
    shaped_cost(hash)
        .filter(|cost| (MIN_COST..=31).contains(cost))
        .map(|cost| ParsedHash { cost })
}

fn not_bcrypt() -> AuthError {
    AuthError::InvalidText("not a bcrypt hash ($2a$, $2b$ or $2y$)".into())
}

/// The highest cost of a hash stored as it is given (imported from pgcrypto, say). A hash of
/// cost 15 already takes a few seconds to verify, and one bcrypt call cannot be interrupted.
pub const MAX_IMPORT_COST: u32 = 14;

/// Whether a ready-made bcrypt hash may be stored as a password hash: a `$2a$`, `$2b$` or `$2y$`
/// hash of the documented shape whose cost is from [`MIN_COST`] to [`MAX_IMPORT_COST`].
///
/// Errors: a hash-shaped value whose cost is outside that range is 22023 (`InvalidParameter`),
/// naming its cost and the range; anything else, the empty text included, is 22P02
/// (`InvalidText`, "not a bcrypt hash ($2a$, $2b$ or $2y$)"). The hash itself is never in a
/// message.
pub fn check_importable_hash(hash: &str) -> Result<(), AuthError> {
    let cost = shaped_cost(hash).ok_or_else(not_bcrypt)?;
    if (MIN_COST..=MAX_IMPORT_COST).contains(&cost) {
        Ok(())
    } else {
        Err(AuthError::InvalidParameter(format!(
            "bcrypt hash has cost {cost}; an imported hash must have a cost from {MIN_COST} to {MAX_IMPORT_COST}"
        )))
    }
}

/// Whether a stored hash of cost `cost` is verified at login when `auth.bcrypt_cost` is
/// `configured`: only when `cost <= max(MAX_IMPORT_COST, configured)`. A stored hash of higher
/// cost (planted, or left from a higher setting since lowered) would pin a backend for up to
/// minutes; the login then fails as for a wrong password, after the usual dummy work. Costs
/// below [`MIN_COST`] are not bcrypt and never reach this: [`parse_hash`] refuses them.
pub fn verifiable_cost(cost: u32, configured: u32) -> bool {
    cost <= MAX_IMPORT_COST.max(configured)
}

pub fn check_password(password: &str) -> Result<(), AuthError> {
    if password.is_empty() {
        return Err(AuthError::InvalidParameter(
            "password must not be empty".into(),
        ));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(AuthError::InvalidParameter(format!(
            "password is {} bytes; bcrypt uses at most {MAX_PASSWORD_BYTES}, and it is never truncated",
            password.len()
        )));
    }
    Ok(())
}

pub fn check_cost(cost: u32) -> Result<(), AuthError> {
    if (MIN_COST..=MAX_COST).contains(&cost) {
        Ok(())
    } else {
        Err(AuthError::InvalidParameter(format!(
            "bcrypt cost {cost} is outside {MIN_COST}..{MAX_COST}"
        )))
    }
}

pub fn hash(password: &str, cost: u32) -> Result<String, AuthError> {
    check_password(password)?;
    check_cost(cost)?;
    bcrypt::hash_with_result(password, cost)
        .map(|parts| parts.format_for_version(bcrypt::Version::TwoA))
        .map_err(|e| AuthError::Internal(format!("bcrypt failed: {e}")))
}

/// Checks a password against a stored hash. A hash that is not bcrypt as described above is an
/// error (22P02), as is one whose cost is over [`MAX_COST`] (22023).
pub fn verify(password: &str, hash: &str) -> Result<bool, AuthError> {
    check_password(password)?;
    let parsed = parse_hash(hash).ok_or_else(not_bcrypt)?;
    if parsed.cost > MAX_COST {
        return Err(AuthError::InvalidParameter(format!(
            "bcrypt cost {} is above {MAX_COST}",
            parsed.cost
        )));
    }
    bcrypt::verify(password, hash).map_err(|_| not_bcrypt())
}

/// A well-formed hash of the given cost that no password matches in practice: verifying against it
/// costs what verifying a real user's hash costs, so unknown users are not told apart by timing.
pub fn dummy_hash(cost: u32) -> String {
    format!("$2a${cost:02}$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW")
}

/// True when a successful login should replace the stored hash with one at `cost` (the configured
/// `auth.bcrypt_cost`): whenever the stored hash's cost differs, lower or higher. Every user's
/// hash then converges on the cost the dummy hash of unknown users has, so a login's duration
/// does not tell users apart. False for a value that is not a bcrypt hash (it cannot have
/// matched a password).
pub fn needs_rehash(hash: &str, cost: u32) -> bool {
    parse_hash(hash).is_some_and(|p| p.cost != cost)
}

// ---------------------------------------------------------------------------------------------
// argon2id, and stored hashes of either algorithm
// ---------------------------------------------------------------------------------------------
//
// We write `$argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<hash>` (PHC string format, salt
// and hash in unpadded standard base64) with a 16-byte random salt and a 32-byte hash, and
// verify argon2id and argon2i strings of that shape. argon2d is refused (its memory access
// depends on the password), and so is version 16 (argon2 1.0, `v=16` or no `v=` at all): every
// implementation has written version 19 since 2016, and 1.0 is the weaker of the two.
//
// The same password rules apply whatever the algorithm ([`check_password`]: 1 to 72 bytes), so
// that switching `auth.password_algorithm` back to bcrypt never strands a password.
//
// Caps, for hashing and for stored hashes alike (verification and import): a login verifying an
// argon2 hash takes `m` KiB of memory and reads `m * t` KiB, in one thread, and cannot be
// interrupted. [`ARGON2_MAX_M_KIB`] (256 MiB) bounds the memory and [`ARGON2_MAX_WORK_KIB`]
// (`m * t` at most 1 GiB, one to two seconds) the time, as [`MAX_IMPORT_COST`] does for bcrypt. A
// stored hash over them is refused with 22023 by [`verify_stored`] and [`check_importable`]
// and fails the login closed in [`login_matches`].

/// The least memory of the argon2id hashes we write (KiB): OWASP's smallest recommendation (7 MiB,
/// which OWASP pairs with t=5). Stored hashes need only what argon2 itself requires (8 KiB a lane).
pub const ARGON2_MIN_M_KIB: u32 = 7 * 1024;
/// The most memory of an argon2 hash, written or stored (KiB): 256 MiB, the memory one login may
/// take in a backend.
pub const ARGON2_MAX_M_KIB: u32 = 256 * 1024;
/// The most lanes of an argon2 hash, written or stored. Lanes are computed one after the other
/// here, so they do not change the time; the cap only keeps values sane.
pub const ARGON2_MAX_P: u32 = 64;
/// The most work of an argon2 hash, written or stored: `m * t` in KiB (1 GiB read and written,
/// one to two seconds). It bounds `t` too (at most 146 passes at the 7 MiB floor).
pub const ARGON2_MAX_WORK_KIB: u64 = 1024 * 1024;
/// Salt and hash lengths of the argon2id hashes we write (bytes).
pub const ARGON2_SALT_BYTES: usize = 16;
pub const ARGON2_HASH_BYTES: usize = 32;
/// Salt and hash lengths accepted in a stored argon2 hash (bytes). Below 16 bytes a hash is
/// short enough to be matched by chance; 8 is argon2's own least salt.
pub const ARGON2_STORED_SALT_BYTES: std::ops::RangeInclusive<usize> = 8..=64;
pub const ARGON2_STORED_HASH_BYTES: std::ops::RangeInclusive<usize> = 16..=64;

/// argon2 cost parameters: memory in KiB (`m`), passes (`t`), lanes (`p`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Argon2Params {
    pub m_kib: u32,
    pub t: u32,
    pub p: u32,
}

impl Argon2Params {
    /// OWASP's password storage recommendation: m=19456 (19 MiB), t=2, p=1.
    pub const OWASP: Argon2Params = Argon2Params {
        m_kib: 19 * 1024,
        t: 2,
        p: 1,
    };

    /// `m * t`, the work of one hash in KiB read and written.
    pub fn work_kib(&self) -> u64 {
        u64::from(self.m_kib) * u64::from(self.t)
    }

    /// Whether we hash new passwords with these parameters: `m` from [`ARGON2_MIN_M_KIB`] to
    /// [`ARGON2_MAX_M_KIB`], `t` at least 1, `p` from 1 to [`ARGON2_MAX_P`], `m * t` at most
    /// [`ARGON2_MAX_WORK_KIB`]. Errors are 22023 naming the value and its bound.
    pub fn check(&self) -> Result<(), AuthError> {
        if !(ARGON2_MIN_M_KIB..=ARGON2_MAX_M_KIB).contains(&self.m_kib) {
            return Err(AuthError::InvalidParameter(format!(
                "argon2 memory {} KiB is outside {ARGON2_MIN_M_KIB}..{ARGON2_MAX_M_KIB}",
                self.m_kib
            )));
        }
        if self.t < 1 {
            return Err(AuthError::InvalidParameter(
                "argon2 passes (t) must be at least 1".into(),
            ));
        }
        if !(1..=ARGON2_MAX_P).contains(&self.p) {
            return Err(AuthError::InvalidParameter(format!(
                "argon2 lanes (p) {} is outside 1..{ARGON2_MAX_P}",
                self.p
            )));
        }
        self.check_work()
    }

    /// Whether a stored hash with these parameters is verified (and may be imported): argon2's
    /// own minimums (`t` and `p` at least 1, `m` at least 8 KiB a lane) and the caps
    /// [`ARGON2_MAX_M_KIB`], [`ARGON2_MAX_P`] and [`ARGON2_MAX_WORK_KIB`]. Errors are 22023.
    pub fn check_stored(&self) -> Result<(), AuthError> {
        if self.t < 1 || self.p < 1 || u64::from(self.m_kib) < 8 * u64::from(self.p) {
            return Err(AuthError::InvalidParameter(
                "argon2 hash has t or p below 1, or less than 8 KiB of memory a lane".into(),
            ));
        }
        if self.m_kib > ARGON2_MAX_M_KIB {
            return Err(AuthError::InvalidParameter(format!(
                "argon2 hash uses {} KiB of memory; a stored hash may use at most {ARGON2_MAX_M_KIB}",
                self.m_kib
            )));
        }
        if self.p > ARGON2_MAX_P {
            return Err(AuthError::InvalidParameter(format!(
                "argon2 hash has {} lanes; a stored hash may have at most {ARGON2_MAX_P}",
                self.p
            )));
        }
        self.check_work()
    }

    fn check_work(&self) -> Result<(), AuthError> {
        if self.work_kib() > ARGON2_MAX_WORK_KIB {
            return Err(AuthError::InvalidParameter(format!(
                "argon2 work m*t is {} KiB; at most {ARGON2_MAX_WORK_KIB} (m={} KiB, t={})",
                self.work_kib(),
                self.m_kib,
                self.t
            )));
        }
        Ok(())
    }
}

impl Default for Argon2Params {
    fn default() -> Self {
        Self::OWASP
    }
}

/// The two argon2 variants accepted in a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Argon2Variant {
    Argon2id,
    Argon2i,
}

impl Argon2Variant {
    pub fn name(self) -> &'static str {
        match self {
            Argon2Variant::Argon2id => "argon2id",
            Argon2Variant::Argon2i => "argon2i",
        }
    }

    fn algorithm(self) -> argon2::Algorithm {
        match self {
            Argon2Variant::Argon2id => argon2::Algorithm::Argon2id,
            Argon2Variant::Argon2i => argon2::Algorithm::Argon2i,
        }
    }
}

/// What a well-formed argon2 PHC string says (its salt and hash left out).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParsedArgon2 {
    pub variant: Argon2Variant,
    pub params: Argon2Params,
    pub salt_len: usize,
    pub hash_len: usize,
}

/// A stored password hash of an algorithm we verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoredHash {
    Bcrypt(ParsedHash),
    Argon2(ParsedArgon2),
}

/// The algorithm new password hashes are written with (`auth.password_algorithm`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PasswordAlgorithm {
    Bcrypt,
    Argon2id,
}

impl PasswordAlgorithm {
    /// `bcrypt` or `argon2id`, as the setting spells them.
    pub fn name(self) -> &'static str {
        match self {
            PasswordAlgorithm::Bcrypt => "bcrypt",
            PasswordAlgorithm::Argon2id => "argon2id",
        }
    }

    /// The algorithm a setting value names (exactly `bcrypt` or `argon2id`), else `None`.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "bcrypt" => Some(PasswordAlgorithm::Bcrypt),
            "argon2id" => Some(PasswordAlgorithm::Argon2id),
            _ => None,
        }
    }
}

/// The password settings together: the algorithm new hashes are written with, and the parameters
/// of each algorithm (both are used: a stored bcrypt hash is still verified, and its cost cap
/// still follows `bcrypt_cost`, when argon2id is configured).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordConfig {
    pub algorithm: PasswordAlgorithm,
    pub bcrypt_cost: u32,
    pub argon2: Argon2Params,
}

const UNSUPPORTED_HASH: &str = "not a supported password hash: accepted are bcrypt ($2a$, $2b$, $2y$) \
     and argon2id or argon2i PHC strings ($argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<hash>)";

fn unsupported_hash() -> AuthError {
    AuthError::InvalidParameter(UNSUPPORTED_HASH.into())
}

fn malformed_argon2(why: &str) -> AuthError {
    AuthError::InvalidParameter(format!("malformed argon2 hash: {why}"))
}

const ARGON2_SHAPE: &str =
    "expected $argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<hash> (or $argon2i$)";

/// A PHC decimal: 1 to 10 digits, no leading zero, fitting a u32.
fn phc_decimal(text: &str) -> Option<u32> {
    let b = text.as_bytes();
    if b.is_empty() || b.len() > 10 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    if b[0] == b'0' && b.len() > 1 {
        return None;
    }
    text.parse().ok()
}

/// The value of `name=value`, else `None`.
fn phc_param<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    text.strip_prefix(name)?.strip_prefix('=')
}

/// Unpadded standard base64 in its one canonical spelling (unused low bits zero), else `None`.
fn phc_base64(text: &str) -> Option<Vec<u8>> {
    use base64::engine::general_purpose::STANDARD_NO_PAD;
    use base64::Engine;
    STANDARD_NO_PAD.decode(text).ok()
}

/// Parses an argon2 PHC string strictly: `$argon2id$` or `$argon2i$`, then `v=19`, then exactly
/// `m=<KiB>,t=<passes>,p=<lanes>` (decimal, no leading zeros), then the salt (8 to 64 bytes) and
/// the hash (16 to 64 bytes) in unpadded standard base64. Returns the parsed form with the salt
/// and the hash.
fn decode_argon2(hash: &str) -> Result<(ParsedArgon2, Vec<u8>, Vec<u8>), AuthError> {
    let mut fields = hash.split('$');
    if fields.next() != Some("") {
        return Err(malformed_argon2(ARGON2_SHAPE));
    }
    let variant = match fields.next() {
        Some("argon2id") => Argon2Variant::Argon2id,
        Some("argon2i") => Argon2Variant::Argon2i,
        Some("argon2d") => {
            return Err(malformed_argon2(
                "argon2d is not accepted for passwords (argon2id or argon2i only)",
            ))
        }
        _ => return Err(malformed_argon2(ARGON2_SHAPE)),
    };
    let rest: Vec<&str> = fields.collect();
    let (params, salt, tag) = match rest.as_slice() {
        [version, params, salt, tag] => {
            match phc_param(version, "v").and_then(phc_decimal) {
                Some(19) => {}
                Some(16) => {
                    return Err(malformed_argon2(
                        "argon2 version 16 is not accepted (only v=19)",
                    ))
                }
                _ => return Err(malformed_argon2(ARGON2_SHAPE)),
            }
            (*params, *salt, *tag)
        }
        // No version field: argon2 1.0, as the reference implementation reads it.
        [params, _, _] if params.starts_with("m=") => {
            return Err(malformed_argon2(
                "argon2 version 16 is not accepted (only v=19)",
            ))
        }
        _ => return Err(malformed_argon2(ARGON2_SHAPE)),
    };
    let mut values = params.split(',');
    let mut next = |name: &str| {
        values
            .next()
            .and_then(|v| phc_param(v, name))
            .and_then(phc_decimal)
    };
    let (Some(m_kib), Some(t), Some(p), None) = (next("m"), next("t"), next("p"), values.next())
    else {
        return Err(malformed_argon2(
            "the parameters must be m, t and p, in that order, in decimal",
        ));
    };
    let salt =
        phc_base64(salt).ok_or_else(|| malformed_argon2("the salt is not unpadded base64"))?;
    let tag = phc_base64(tag).ok_or_else(|| malformed_argon2("the hash is not unpadded base64"))?;
    if !ARGON2_STORED_SALT_BYTES.contains(&salt.len()) {
        return Err(malformed_argon2(&format!(
            "the salt is {} bytes, not 8 to 64",
            salt.len()
        )));
    }
    if !ARGON2_STORED_HASH_BYTES.contains(&tag.len()) {
        return Err(malformed_argon2(&format!(
            "the hash is {} bytes, not 16 to 64",
            tag.len()
        )));
    }
    let parsed = ParsedArgon2 {
        variant,
        params: Argon2Params { m_kib, t, p },
        salt_len: salt.len(),
        hash_len: tag.len(),
    };
    Ok((parsed, salt, tag))
}

/// Parses an argon2id or argon2i PHC string (see the section comment for the exact shape). Says
/// nothing of the caps: [`Argon2Params::check_stored`] does. Errors are 22023 with a fixed
/// reason; the hash is never in a message.
pub fn parse_argon2_hash(hash: &str) -> Result<ParsedArgon2, AuthError> {
    decode_argon2(hash).map(|(parsed, _, _)| parsed)
}

/// What a stored hash is: bcrypt as [`parse_hash`] accepts it, or argon2 as
/// [`parse_argon2_hash`] does. Anything else is 22023 naming the accepted formats; a text
/// starting `$argon2` gets the argon2 parser's own reason.
pub fn parse_stored_hash(stored: &str) -> Result<StoredHash, AuthError> {
    if let Some(parsed) = parse_hash(stored) {
        return Ok(StoredHash::Bcrypt(parsed));
    }
    if stored.starts_with("$argon2") {
        return parse_argon2_hash(stored).map(StoredHash::Argon2);
    }
    Err(unsupported_hash())
}

fn argon2_context(
    variant: Argon2Variant,
    params: &Argon2Params,
    hash_len: usize,
) -> Result<argon2::Argon2<'static>, AuthError> {
    let params = argon2::Params::new(params.m_kib, params.t, params.p, Some(hash_len))
        .map_err(|e| AuthError::Internal(format!("argon2 parameters refused: {e}")))?;
    Ok(argon2::Argon2::new(
        variant.algorithm(),
        argon2::Version::V0x13,
        params,
    ))
}

fn argon2_raw(
    variant: Argon2Variant,
    params: &Argon2Params,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> Result<(), AuthError> {
    argon2_context(variant, params, out.len())?
        .hash_password_into(password, salt, out)
        .map_err(|e| AuthError::Internal(format!("argon2 failed: {e}")))
}

fn encode_argon2(variant: Argon2Variant, params: &Argon2Params, salt: &[u8], tag: &[u8]) -> String {
    use base64::engine::general_purpose::STANDARD_NO_PAD;
    use base64::Engine;
    format!(
        "${}$v=19$m={},t={},p={}${}${}",
        variant.name(),
        params.m_kib,
        params.t,
        params.p,
        STANDARD_NO_PAD.encode(salt),
        STANDARD_NO_PAD.encode(tag)
    )
}

/// A new argon2id hash of `password` (1 to 72 bytes, as [`check_password`] says) with `params`
/// (as [`Argon2Params::check`] says), a fresh 16-byte salt and a 32-byte hash:
/// `$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>` with [`Argon2Params::OWASP`].
pub fn hash_argon2id(password: &str, params: &Argon2Params) -> Result<String, AuthError> {
    check_password(password)?;
    params.check()?;
    let mut salt = [0u8; ARGON2_SALT_BYTES];
    getrandom::fill(&mut salt)
        .map_err(|e| AuthError::Internal(format!("no randomness for a salt: {e}")))?;
    let mut tag = [0u8; ARGON2_HASH_BYTES];
    argon2_raw(
        Argon2Variant::Argon2id,
        params,
        password.as_bytes(),
        &salt,
        &mut tag,
    )?;
    Ok(encode_argon2(Argon2Variant::Argon2id, params, &salt, &tag))
}

/// A new hash of `password` with the configured algorithm: [`hash`] at `bcrypt_cost`, or
/// [`hash_argon2id`] with `argon2`.
pub fn hash_with(password: &str, config: &PasswordConfig) -> Result<String, AuthError> {
    match config.algorithm {
        PasswordAlgorithm::Bcrypt => hash(password, config.bcrypt_cost),
        PasswordAlgorithm::Argon2id => hash_argon2id(password, &config.argon2),
    }
}

/// Checks an argon2 string whose caps have been checked: the tag is compared in constant time.
fn verify_argon2(password: &str, hash: &str) -> Result<bool, AuthError> {
    let (parsed, salt, tag) = decode_argon2(hash)?;
    parsed.params.check_stored()?;
    let mut out = vec![0u8; tag.len()];
    argon2_raw(
        parsed.variant,
        &parsed.params,
        password.as_bytes(),
        &salt,
        &mut out,
    )?;
    Ok(bool::from(out.as_slice().ct_eq(tag.as_slice())))
}

/// Checks a password against a stored hash of either algorithm, whatever is configured: bcrypt
/// as [`verify`] does (a cost over [`MAX_COST`] is 22023), argon2id or argon2i within the caps
/// ([`Argon2Params::check_stored`], 22023). The password must pass [`check_password`] (22023).
/// Any other stored value is 22023, naming the accepted formats; the hash is never in a message.
pub fn verify_stored(password: &str, stored: &str) -> Result<bool, AuthError> {
    check_password(password)?;
    match parse_stored_hash(stored)? {
        StoredHash::Bcrypt(_) => verify(password, stored),
        StoredHash::Argon2(_) => verify_argon2(password, stored),
    }
}

/// Whether login verifies a stored hash under `config`: a bcrypt hash of a cost
/// [`verifiable_cost`] allows (at most `max(14, bcrypt_cost)`), or an argon2 hash within the
/// caps. Whatever the configured algorithm: hashes written before a change of
/// `auth.password_algorithm` still verify.
pub fn verifiable(stored: &StoredHash, config: &PasswordConfig) -> bool {
    match stored {
        StoredHash::Bcrypt(p) => p.cost <= MAX_COST && verifiable_cost(p.cost, config.bcrypt_cost),
        StoredHash::Argon2(a) => a.params.check_stored().is_ok(),
    }
}

/// A well-formed argon2id hash with exactly `params`, a 16-byte salt and a 32-byte hash that no
/// password matches in practice (the hash is all zero bytes: finding a password for it is a
/// preimage search). Verifying against it costs what verifying a real hash of those parameters
/// costs; it is built by formatting alone, so there is nothing to compute once and keep.
pub fn dummy_argon2_hash(params: &Argon2Params) -> String {
    encode_argon2(
        Argon2Variant::Argon2id,
        params,
        &[0u8; ARGON2_SALT_BYTES],
        &[0u8; ARGON2_HASH_BYTES],
    )
}

/// The dummy hash of the configured algorithm and parameters: [`dummy_hash`] at `bcrypt_cost`,
/// or [`dummy_argon2_hash`] of `argon2`.
pub fn dummy_hash_for(config: &PasswordConfig) -> String {
    match config.algorithm {
        PasswordAlgorithm::Bcrypt => dummy_hash(config.bcrypt_cost),
        PasswordAlgorithm::Argon2id => dummy_argon2_hash(&config.argon2),
    }
}

/// The work of a verification under `config` with nothing to verify (an unknown user, a stored
/// value login refuses): verifies `password` against [`dummy_hash_for`] and drops the answer.
/// Costs what a login of a user whose hash has the configured parameters costs.
pub fn verify_dummy(password: &str, config: &PasswordConfig) {
    let _ = verify_stored(password, &dummy_hash_for(config));
}

/// The login check. `password` must pass [`check_password`] (else the error). With a stored hash
/// that is [`verifiable`] under `config`, whether it matches; with none (unknown user), or one
/// that is not a hash we verify, or one over the caps, false after [`verify_dummy`]: unknown
/// users cost what known ones do, and a planted hash fails closed instead of pinning the backend.
pub fn login_matches(
    password: &str,
    stored: Option<&str>,
    config: &PasswordConfig,
) -> Result<bool, AuthError> {
    check_password(password)?;
    let dummy = || {
        verify_dummy(password, config);
        false
    };
    Ok(match stored.map(|s| (s, parse_stored_hash(s))) {
        Some((s, Ok(parsed))) if verifiable(&parsed, config) => {
            verify_stored(password, s).unwrap_or_else(|_| dummy())
        }
        _ => dummy(),
    })
}

/// True when a successful login should replace the stored hash with [`hash_with`]`(config)`:
/// the stored hash is of another algorithm or variant than the configured one, or has other
/// parameters (bcrypt cost; argon2 `m`, `t`, `p`, salt or hash length). Every hash thus converges
/// on what the dummy of unknown users costs. False for a value that is not a hash we verify (it
/// cannot have matched a password).
pub fn needs_rehash_for(stored: &str, config: &PasswordConfig) -> bool {
    match parse_stored_hash(stored) {
        Ok(StoredHash::Bcrypt(p)) => {
            config.algorithm != PasswordAlgorithm::Bcrypt || p.cost != config.bcrypt_cost
        }
        Ok(StoredHash::Argon2(a)) => {
            config.algorithm != PasswordAlgorithm::Argon2id
                || a.variant != Argon2Variant::Argon2id
                || a.params != config.argon2
                || a.salt_len != ARGON2_SALT_BYTES
                || a.hash_len != ARGON2_HASH_BYTES
        }
        Err(_) => false,
    }
}

/// Whether a ready-made hash may be stored as it is given (`auth.import_user`), whatever the
/// configured algorithm: a bcrypt hash as [`check_importable_hash`] says (cost 4 to 14), or an
/// argon2id or argon2i PHC string that [`parse_argon2_hash`] accepts within the caps of
/// [`Argon2Params::check_stored`]. Every refusal is 22023 with a fixed reason (a bcrypt cost out
/// of range, an argon2 field, a cap, or the list of accepted formats); never the hash itself.
pub fn check_importable(stored: &str) -> Result<(), AuthError> {
    if shaped_cost(stored).is_some() {
        return check_importable_hash(stored);
    }
    match parse_stored_hash(stored)? {
        // Hash-shaped bcrypt was handled above.
        StoredHash::Bcrypt(_) => Err(unsupported_hash()),
        StoredHash::Argon2(a) => a.params.check_stored(),
    }
}

/// What `auth.verify_password(password, hash)` answers: a bcrypt hash is checked as [`verify`]
/// checks it (any cost up to [`MAX_COST`], as pgcrypto's `crypt()` would), an argon2id or argon2i
/// PHC string as [`verify_stored`] does (within the caps; a malformed one is 22023). Any other
/// text is 22P02, `not a bcrypt hash ($2a$, $2b$ or $2y$) nor an argon2id or argon2i PHC
/// string`. The password must pass [`check_password`] (22023).
pub fn verify_bcrypt_or_argon2(password: &str, hash: &str) -> Result<bool, AuthError> {
    check_password(password)?;
    if parse_hash(hash).is_some() {
        return verify(password, hash);
    }
    if hash.starts_with("$argon2") {
        return verify_stored(password, hash);
    }
    Err(AuthError::InvalidText(
        "not a bcrypt hash ($2a$, $2b$ or $2y$) nor an argon2id or argon2i PHC string".into(),
    ))
}

// ---------------------------------------------------------------------------------------------
// The policy for new passwords
// ---------------------------------------------------------------------------------------------
//
// New passwords (written to `auth.users`, changed by `change_password`) must have at least
// `auth.password_min_length` characters (NIST SP 800-63B: at least 8), counted as Unicode
// characters, not bytes, as NIST counts them; and `auth.password_check`, when set, names a
// function `(username text, password text) → text` whose non-NULL answer refuses the password with
// that reason. Passwords already stored are not checked again: login never applies the policy.

/// The default of `auth.password_min_length`: NIST SP 800-63B's least length for a password the
/// user chooses.
pub const DEFAULT_MIN_LENGTH: u32 = 8;
/// The highest `auth.password_min_length`: a password is at most 72 bytes
/// ([`MAX_PASSWORD_BYTES`]), so more characters could never be met.
pub const MAX_MIN_LENGTH: u32 = MAX_PASSWORD_BYTES as u32;

/// Whether a new password is long enough: at least `min_chars` characters. The password must
/// also pass [`check_password`] (1 to 72 bytes), checked first. Errors are 22023 naming the
/// counts, never the password.
pub fn check_new_password_length(password: &str, min_chars: u32) -> Result<(), AuthError> {
    check_password(password)?;
    let chars = password.chars().count();
    if chars < min_chars as usize {
        return Err(AuthError::InvalidParameter(format!(
            "password is {chars} characters; at least {min_chars} are required (auth.password_min_length)"
        )));
    }
    Ok(())
}

/// [`parse_function_setting`] for `auth.password_check`.
pub fn parse_check_function_name(setting: &str) -> Result<(String, String), AuthError> {
    parse_function_setting("auth.password_check", setting)
}

/// The value of the setting `name` (`auth.password_check`, `auth.access_token_hook`), a
/// schema-qualified function name as PostgreSQL spells it: `schema.name`, each part an unquoted
/// identifier (folded to lower case) or a double-quoted one (`""` for a quote). Returns the
/// schema and the name as stored in the catalogs. Anything else, an unqualified name included,
/// is 22023 naming the setting: the function is found by exactly this name, never through
/// `search_path`.
pub fn parse_function_setting(name: &str, setting: &str) -> Result<(String, String), AuthError> {
    let refused = || {
        AuthError::Config(format!(
            "{name} must be a schema-qualified function name (schema.name)"
        ))
    };
    let mut parts = Vec::new();
    let mut rest = setting.trim();
    loop {
        let (part, after) = if let Some(quoted) = rest.strip_prefix('"') {
            let mut out = String::new();
            let mut chars = quoted.char_indices();
            let end = loop {
                match chars.next() {
                    Some((i, '"')) => {
                        if quoted[i + 1..].starts_with('"') {
                            out.push('"');
                            chars.next();
                        } else {
                            break i + 1;
                        }
                    }
                    Some((_, c)) => out.push(c),
                    None => return Err(refused()),
                }
            };
            if out.is_empty() {
                return Err(refused());
            }
            (out, &quoted[end..])
        } else {
            let end = rest
                .char_indices()
                .find(|&(_, c)| !(c.is_alphanumeric() || c == '_' || c == '$'))
                .map_or(rest.len(), |(i, _)| i);
            let word = &rest[..end];
            let first = word.chars().next().ok_or_else(refused)?;
            if first.is_ascii_digit() || first == '$' {
                return Err(refused());
            }
            (word.to_ascii_lowercase(), &rest[end..])
        };
        parts.push(part);
        match after.strip_prefix('.') {
            Some(next) => rest = next,
            None if after.trim().is_empty() => break,
            None => return Err(refused()),
        }
    }
    match <[String; 2]>::try_from(parts) {
        Ok([schema, name]) => Ok((schema, name)),
        Err(_) => Err(refused()),
    }
}

/// The error for a password `auth.password_check`'s function refused with `reason`: 22023
/// `password refused: <reason>`. A reason that is empty, or that contains the password itself,
/// is replaced by a fixed one, so that the password never reaches an error message or a log.
pub fn policy_refusal(reason: &str, password: &str) -> AuthError {
    let reason = reason.trim();
    if reason.is_empty() || (!password.is_empty() && reason.contains(password)) {
        return AuthError::InvalidParameter(
            "password refused by the function of auth.password_check".into(),
        );
    }
    AuthError::InvalidParameter(format!("password refused: {reason}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_2a_and_verify() {
        let h = hash("correct horse", 4).unwrap();
        assert!(h.starts_with("$2a$04$"), "{h}");
        assert_eq!(parse_hash(&h), Some(ParsedHash { cost: 4 }));
        assert!(verify("correct horse", &h).unwrap());
        assert!(!verify("wrong horse", &h).unwrap());
    }

    #[test]
    fn known_hashes_of_each_prefix() {
        // OpenBSD/John the Ripper vectors: "U*U" under $2a$ and the same hash relabelled $2b$/$2y$.
        let h = "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW";
        assert!(verify("U*U", h).unwrap());
        assert!(verify("U*U", &h.replace("$2a$", "$2b$")).unwrap());
        assert!(verify("U*U", &h.replace("$2a$", "$2y$")).unwrap());
        assert!(!verify("U*V", h).unwrap());
    }

    #[test]
    fn refuses_empty_and_long_passwords() {
        let h = hash("x", 4).unwrap();
        assert_eq!(hash("", 4).unwrap_err().sqlstate(), "22023");
        assert_eq!(verify("", &h).unwrap_err().sqlstate(), "22023");
        assert!(hash(&"a".repeat(72), 4).is_ok());
        assert_eq!(hash(&"a".repeat(73), 4).unwrap_err().sqlstate(), "22023");
        // 72 bytes, not characters: 24 three-byte characters fit, 25 do not.
        assert!(check_password(&"€".repeat(24)).is_ok());
        assert!(check_password(&"€".repeat(25)).is_err());
    }

    #[test]
    fn malformed_hashes_are_22p02() {
        for bad in [
            "",
            "plain",
            "$2x$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
            "$2a$5$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeWx",
            "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOe",
            "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOe!",
            "$1$abc$def",
            "$2a$03$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
        ] {
            assert_eq!(verify("pw", bad).unwrap_err().sqlstate(), "22P02", "{bad}");
        }
        assert_eq!(
            verify(
                "pw",
                "$2a$31$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"
            )
            .unwrap_err()
            .sqlstate(),
            "22023"
        );
    }

    /// The OpenBSD "U*U" vector's salt and checksum under another prefix and cost.
    fn vector(prefix: &str, cost: &str) -> String {
        format!("${prefix}${cost}$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW")
    }

    #[test]
    fn costs_and_rehash() {
        assert!(check_cost(3).is_err());
        assert!(check_cost(21).is_err());
        for prefix in ["2a", "2b", "2y"] {
            // Lower and higher than configured both re-hash; equal does not.
            assert!(needs_rehash(&vector(prefix, "05"), 10));
            assert!(needs_rehash(&vector(prefix, "12"), 10));
            assert!(needs_rehash(&vector(prefix, "31"), 10));
            assert!(!needs_rehash(&vector(prefix, "10"), 10));
            assert!(!needs_rehash(&vector(prefix, "04"), 4));
        }
        for not_a_hash in ["", "plain", &vector("2x", "05"), &vector("2a", "03")] {
            assert!(!needs_rehash(not_a_hash, 10), "{not_a_hash}");
        }
        assert_eq!(parse_hash(&dummy_hash(12)).unwrap().cost, 12);
        assert!(!verify("anything", &dummy_hash(4)).unwrap());
        // A real hash of cost 4 re-hashes under a configured 5, not under 4.
        let h = hash("pw", 4).unwrap();
        assert!(needs_rehash(&h, 5));
        assert!(!needs_rehash(&h, 4));
    }

    #[test]
    fn importable_hashes() {
        for prefix in ["2a", "2b", "2y"] {
            for cost in ["04", "05", "10", "14"] {
                assert_eq!(check_importable_hash(&vector(prefix, cost)), Ok(()));
            }
        }
        // The imported vector still verifies: it is what it claims to be.
        assert!(verify("U*U", &vector("2y", "05")).unwrap());
        assert_eq!(check_importable_hash(&hash("pw", 4).unwrap()), Ok(()));
        assert_eq!(check_importable_hash(&dummy_hash(MAX_IMPORT_COST)), Ok(()));

        for (cost, n) in [
            ("15", 15),
            ("20", 20),
            ("31", 31),
            ("99", 99),
            ("03", 3),
            ("00", 0),
        ] {
            let h = vector("2b", cost);
            let e = check_importable_hash(&h).unwrap_err();
            assert_eq!(e.sqlstate(), "22023", "{h}");
            assert_eq!(
                e.message(),
                format!("bcrypt hash has cost {n}; an imported hash must have a cost from 4 to 14")
            );
            assert!(!e.message().contains("CCCC"));
        }
        let body = "CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW";
        for bad in [
            String::new(),
            "plain password".into(),
            vector("2x", "05"),
            vector("2", "05"),
            format!("$2a$5$${body}"),
            format!("$2a$05${body}x"),
            format!("$2a$05${}", &body[1..]),
            format!("$2a$05${}!", &body[1..]),
            format!("$2a$0a${body}"),
            format!("$2a$05-{body}"),
            format!("$2a$05${}é", &body[2..]),
            "$1$abc$def".into(),
            format!("$argon2id$v=19$m=65536,t=3,p=4${body}"),
        ] {
            let e = check_importable_hash(&bad).unwrap_err();
            assert_eq!(e.sqlstate(), "22P02", "{bad}");
            assert_eq!(e.message(), "not a bcrypt hash ($2a$, $2b$ or $2y$)");
        }
    }

    #[test]
    fn verifiable_costs() {
        // Up to the import cap whatever is configured; up to the configured cost above it.
        assert!(verifiable_cost(4, 4));
        assert!(verifiable_cost(MAX_IMPORT_COST, 4));
        assert!(!verifiable_cost(MAX_IMPORT_COST + 1, 4));
        assert!(!verifiable_cost(MAX_IMPORT_COST + 1, MAX_IMPORT_COST));
        assert!(verifiable_cost(15, 15));
        assert!(!verifiable_cost(16, 15));
        assert!(verifiable_cost(MAX_COST, MAX_COST));
        assert!(!verifiable_cost(MAX_COST + 1, MAX_COST));
        assert!(!verifiable_cost(31, 12));
        assert!(!verifiable_cost(u32::MAX, MAX_COST));
        // A hash at the configured cost is always verifiable: every hash we write is.
        for configured in MIN_COST..=MAX_COST {
            assert!(verifiable_cost(configured, configured));
        }
    }
}

#[cfg(test)]
mod argon2_tests {
    use super::*;
    use serde_json::Value;

    fn vectors() -> Value {
        serde_json::from_str(include_str!("../vectors/argon2_vectors.json")).unwrap()
    }

    fn hex(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect()
    }

    fn variant(name: &str) -> Argon2Variant {
        match name {
            "argon2id" => Argon2Variant::Argon2id,
            "argon2i" => Argon2Variant::Argon2i,
            other => panic!("{other}"),
        }
    }

    fn params_of(v: &Value) -> Argon2Params {
        let n = |k: &str| u32::try_from(v[k].as_u64().unwrap()).unwrap();
        Argon2Params {
            m_kib: n("m_kib"),
            t: n("t"),
            p: n("p"),
        }
    }

    /// The cheapest parameters we hash with, to keep the tests quick.
    const CHEAP: Argon2Params = Argon2Params {
        m_kib: ARGON2_MIN_M_KIB,
        t: 1,
        p: 1,
    };

    fn config(algorithm: PasswordAlgorithm, argon2: Argon2Params) -> PasswordConfig {
        PasswordConfig {
            algorithm,
            bcrypt_cost: 4,
            argon2,
        }
    }

    /// Flips the last character of a password to another one of the same byte length.
    fn wrong(password: &str) -> String {
        let mut w: String = password
            .chars()
            .rev()
            .skip(1)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        w.push(if password.ends_with('Z') { 'Y' } else { 'Z' });
        w
    }

    #[test]
    fn rfc9106_vectors_with_secret_and_data() {
        // Only the crate's full API takes a secret and associated data: this pins the primitive.
        for v in vectors()["rfc9106"].as_array().unwrap() {
            let p = params_of(v);
            let data = argon2::AssociatedData::new(&hex(v["ad_hex"].as_str().unwrap())).unwrap();
            let params = argon2::ParamsBuilder::new()
                .m_cost(p.m_kib)
                .t_cost(p.t)
                .p_cost(p.p)
                .data(data)
                .output_len(32)
                .build()
                .unwrap();
            let secret = hex(v["secret_hex"].as_str().unwrap());
            let ctx = argon2::Argon2::new_with_secret(
                &secret,
                variant(v["variant"].as_str().unwrap()).algorithm(),
                argon2::Version::V0x13,
                params,
            )
            .unwrap();
            let mut out = [0u8; 32];
            ctx.hash_password_into(
                &hex(v["password_hex"].as_str().unwrap()),
                &hex(v["salt_hex"].as_str().unwrap()),
                &mut out,
            )
            .unwrap();
            assert_eq!(out.to_vec(), hex(v["tag_hex"].as_str().unwrap()), "{v}");
        }
    }

    #[test]
    fn reference_implementation_vectors() {
        for v in vectors()["reference_phc"].as_array().unwrap() {
            let phc = v["phc"].as_str().unwrap();
            let password = v["password"].as_str().unwrap();
            let salt = v["salt"].as_str().unwrap().as_bytes();
            let tag = hex(v["tag_hex"].as_str().unwrap());
            let kind = variant(v["variant"].as_str().unwrap());
            let params = params_of(v);
            // Our encoder writes the reference string byte for byte from its tag.
            let mut out = vec![0u8; 32];
            argon2_raw(kind, &params, password.as_bytes(), salt, &mut out).unwrap();
            assert_eq!(out, tag, "{phc}");
            assert_eq!(encode_argon2(kind, &params, salt, &tag), phc);
            assert_eq!(
                parse_argon2_hash(phc),
                Ok(ParsedArgon2 {
                    variant: kind,
                    params,
                    salt_len: 8,
                    hash_len: 32
                })
            );
            assert_eq!(verify_stored(password, phc), Ok(true), "{phc}");
            assert_eq!(verify_stored(&wrong(password), phc), Ok(false), "{phc}");
            assert_eq!(check_importable(phc), Ok(()));
        }
    }

    #[test]
    fn hashes_of_an_independent_implementation() {
        let v = vectors();
        let tool = v["argon2_cffi"]["tool"].as_str().unwrap();
        assert!(tool.starts_with("argon2-cffi "), "{tool}");
        let owasp = config(PasswordAlgorithm::Argon2id, Argon2Params::OWASP);
        for h in v["argon2_cffi"]["hashes"].as_array().unwrap() {
            let phc = h["phc"].as_str().unwrap();
            let password = h["password"].as_str().unwrap();
            assert_eq!(verify_stored(password, phc), Ok(true), "{phc}");
            assert_eq!(verify_stored(&wrong(password), phc), Ok(false), "{phc}");
            assert_eq!(login_matches(password, Some(phc), &owasp), Ok(true));
            assert_eq!(check_importable(phc), Ok(()));
            // Only the one written with OWASP's parameters, 16-byte salt and 32-byte hash is kept.
            let is_owasp = phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$") && phc.len() == 97;
            assert_eq!(needs_rehash_for(phc, &owasp), !is_owasp, "{phc}");
        }
    }

    /// The other direction: hashes we write verify with an independent implementation
    /// (rust-argon2, which shares no code with RustCrypto's argon2), and a wrong password does not.
    #[test]
    fn our_hashes_verify_with_an_independent_implementation() {
        for params in [
            Argon2Params::OWASP,
            Argon2Params {
                m_kib: 7168,
                t: 5,
                p: 3,
            },
        ] {
            for password in ["correct horse battery staple", "pässwörd ✓", "x"] {
                let phc = hash_argon2id(password, &params).unwrap();
                assert!(phc.starts_with("$argon2id$v=19$"), "{phc}");
                assert_eq!(
                    rust_argon2::verify_encoded(&phc, password.as_bytes()),
                    Ok(true),
                    "{phc}"
                );
                assert_eq!(
                    rust_argon2::verify_encoded(&phc, wrong(password).as_bytes()),
                    Ok(false),
                    "{phc}"
                );
            }
        }
    }

    #[test]
    fn version_16_and_argon2d_are_refused() {
        let v16 = vectors()["version16_refused"]["phc"]
            .as_str()
            .unwrap()
            .to_string();
        let with_v16 = v16.replacen("$m=", "$v=16$m=", 1);
        let argon2d =
            "$argon2d$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4";
        for (bad, why) in [
            (
                v16.as_str(),
                "argon2 version 16 is not accepted (only v=19)",
            ),
            (
                with_v16.as_str(),
                "argon2 version 16 is not accepted (only v=19)",
            ),
            (
                argon2d,
                "argon2d is not accepted for passwords (argon2id or argon2i only)",
            ),
        ] {
            for e in [
                verify_stored("password", bad).unwrap_err(),
                check_importable(bad).unwrap_err(),
                parse_stored_hash(bad).unwrap_err(),
            ] {
                assert_eq!(e.sqlstate(), "22023", "{bad}");
                assert_eq!(e.message(), format!("malformed argon2 hash: {why}"));
            }
            assert!(!needs_rehash_for(
                bad,
                &config(PasswordAlgorithm::Bcrypt, CHEAP)
            ));
        }
    }

    #[test]
    fn our_hashes_verify_and_have_the_documented_shape() {
        let h = hash_argon2id("correct horse", &CHEAP).unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=7168,t=1,p=1$"), "{h}");
        let fields: Vec<&str> = h.split('$').collect();
        assert_eq!(fields.len(), 6);
        assert_eq!((fields[4].len(), fields[5].len()), (22, 43));
        assert_eq!(
            parse_argon2_hash(&h),
            Ok(ParsedArgon2 {
                variant: Argon2Variant::Argon2id,
                params: CHEAP,
                salt_len: 16,
                hash_len: 32
            })
        );
        assert_eq!(verify_stored("correct horse", &h), Ok(true));
        assert_eq!(verify_stored("correct horsf", &h), Ok(false));
        // A fresh salt each time.
        assert_ne!(h, hash_argon2id("correct horse", &CHEAP).unwrap());
        // The crate's own PHC parser and verifier agree.
        use argon2::PasswordVerifier;
        let theirs = argon2::PasswordHash::new(&h).unwrap();
        assert!(argon2::Argon2::default()
            .verify_password(b"correct horse", &theirs)
            .is_ok());
        assert!(argon2::Argon2::default()
            .verify_password(b"correct horsf", &theirs)
            .is_err());
        // The same password rules as bcrypt.
        for bad in ["", &"a".repeat(73)] {
            assert_eq!(hash_argon2id(bad, &CHEAP).unwrap_err().sqlstate(), "22023");
            assert_eq!(verify_stored(bad, &h).unwrap_err().sqlstate(), "22023");
        }
        assert_eq!(verify_stored(&"€".repeat(24), &h), Ok(false));
    }

    #[test]
    fn owasp_parameters_by_default() {
        assert_eq!(
            Argon2Params::default(),
            Argon2Params {
                m_kib: 19456,
                t: 2,
                p: 1
            }
        );
        let h = hash_with(
            "pw",
            &config(PasswordAlgorithm::Argon2id, Argon2Params::default()),
        )
        .unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert_eq!(verify_stored("pw", &h), Ok(true));
        let b = hash_with("pw", &config(PasswordAlgorithm::Bcrypt, CHEAP)).unwrap();
        assert!(b.starts_with("$2a$04$"), "{b}");
        assert_eq!(verify_stored("pw", &b), Ok(true));
    }

    #[test]
    fn parameter_bounds() {
        let p = |m_kib, t, p| Argon2Params { m_kib, t, p };
        for ok in [
            Argon2Params::OWASP,
            CHEAP,
            p(ARGON2_MAX_M_KIB, 4, 1),
            p(47104, 1, 1),
            p(7168, 146, ARGON2_MAX_P),
        ] {
            assert_eq!(ok.check(), Ok(()), "{ok:?}");
            assert_eq!(ok.check_stored(), Ok(()), "{ok:?}");
        }
        for bad in [
            p(7167, 5, 1),
            p(ARGON2_MAX_M_KIB + 1, 1, 1),
            p(19456, 0, 1),
            p(19456, 2, 0),
            p(19456, 2, ARGON2_MAX_P + 1),
            p(ARGON2_MAX_M_KIB, 5, 1),
            p(7168, 147, 1),
            p(u32::MAX, u32::MAX, u32::MAX),
        ] {
            assert_eq!(bad.check().unwrap_err().sqlstate(), "22023", "{bad:?}");
            assert!(hash_argon2id("pw", &bad).is_err());
        }
        // Stored hashes need only argon2's minimums, and the same caps.
        for ok in [p(8, 1, 1), p(256, 2, 2), p(1024, 1024, 1)] {
            assert_eq!(ok.check_stored(), Ok(()), "{ok:?}");
        }
        for (bad, message) in [
            (
                p(7, 1, 1),
                "argon2 hash has t or p below 1, or less than 8 KiB of memory a lane",
            ),
            (
                p(8, 1, 2),
                "argon2 hash has t or p below 1, or less than 8 KiB of memory a lane",
            ),
            (
                p(8, 0, 1),
                "argon2 hash has t or p below 1, or less than 8 KiB of memory a lane",
            ),
            (
                p(262_145, 1, 1),
                "argon2 hash uses 262145 KiB of memory; a stored hash may use at most 262144",
            ),
            (
                p(65536, 17, 1),
                "argon2 work m*t is 1114112 KiB; at most 1048576 (m=65536 KiB, t=17)",
            ),
            (
                p(8 * 65, 1, 65),
                "argon2 hash has 65 lanes; a stored hash may have at most 64",
            ),
            (
                p(1 << 20, u32::MAX, 1),
                "argon2 hash uses 1048576 KiB of memory; a stored hash may use at most 262144",
            ),
        ] {
            let e = bad.check_stored().unwrap_err();
            assert_eq!((e.sqlstate(), e.message().as_str()), ("22023", message));
        }
    }

    const SALT: &str = "c29tZXNhbHQ";
    const TAG: &str = "nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4";

    #[test]
    fn malformed_argon2_strings() {
        let good = format!("$argon2id$v=19$m=256,t=2,p=1${SALT}${TAG}");
        assert!(parse_argon2_hash(&good).is_ok());
        let shape = "malformed argon2 hash: expected $argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<hash> (or $argon2i$)";
        let params =
            "malformed argon2 hash: the parameters must be m, t and p, in that order, in decimal";
        for (bad, message) in [
            (format!("$argon2$v=19$m=256,t=2,p=1${SALT}${TAG}"), shape),
            (format!("$argon2ID$v=19$m=256,t=2,p=1${SALT}${TAG}"), shape),
            (format!("$argon2id$v=20$m=256,t=2,p=1${SALT}${TAG}"), shape),
            (format!("$argon2id$v=019$m=256,t=2,p=1${SALT}${TAG}"), shape),
            (format!("$argon2id$v=19$m=256,t=2,p=1${SALT}${TAG}$"), shape),
            (format!("$argon2id$v=19$m=256,t=2,p=1${SALT}"), shape),
            ("$argon2id".into(), shape),
            ("$argon2id$".into(), shape),
            (format!("$argon2id$v=19$m=256,p=1,t=2${SALT}${TAG}"), params),
            (format!("$argon2id$v=19$m=256,t=2${SALT}${TAG}"), params),
            (
                format!("$argon2id$v=19$m=256,t=2,p=1,data=YQ${SALT}${TAG}"),
                params,
            ),
            (
                format!("$argon2id$v=19$m=0256,t=2,p=1${SALT}${TAG}"),
                params,
            ),
            (
                format!("$argon2id$v=19$m=+256,t=2,p=1${SALT}${TAG}"),
                params,
            ),
            (
                format!("$argon2id$v=19$m=4294967296,t=2,p=1${SALT}${TAG}"),
                params,
            ),
            (
                format!("$argon2id$v=19$m=256,t=2,p=1,${SALT}${TAG}"),
                params,
            ),
            (format!("$argon2id$v=19$m=256,t=,p=1${SALT}${TAG}"), params),
            (format!("$argon2id$v=19$M=256,t=2,p=1${SALT}${TAG}"), params),
            (
                format!("$argon2id$v=19$m=256,t=2,p=1${SALT}=${TAG}"),
                "malformed argon2 hash: the salt is not unpadded base64",
            ),
            (
                format!("$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHR${TAG}"),
                "malformed argon2 hash: the salt is not unpadded base64",
            ),
            (
                format!(
                    "$argon2id$v=19$m=256,t=2,p=1${SALT}${}",
                    TAG.replace('/', "_")
                ),
                "malformed argon2 hash: the hash is not unpadded base64",
            ),
            (
                format!("$argon2id$v=19$m=256,t=2,p=1${SALT}${}5", &TAG[..42]),
                "malformed argon2 hash: the hash is not unpadded base64",
            ),
            (
                format!("$argon2id$v=19$m=256,t=2,p=1$c29tZXNh${TAG}"),
                "malformed argon2 hash: the salt is 6 bytes, not 8 to 64",
            ),
            (
                format!("$argon2id$v=19$m=256,t=2,p=1${}${TAG}", "A".repeat(88)),
                "malformed argon2 hash: the salt is 66 bytes, not 8 to 64",
            ),
            (
                format!("$argon2id$v=19$m=256,t=2,p=1${SALT}${}", &TAG[..20]),
                "malformed argon2 hash: the hash is 15 bytes, not 16 to 64",
            ),
            (
                format!("$argon2id$v=19$m=256,t=2,p=1${SALT}${}", "A".repeat(88)),
                "malformed argon2 hash: the hash is 66 bytes, not 16 to 64",
            ),
        ] {
            let e = parse_argon2_hash(&bad).unwrap_err();
            assert_eq!(
                (e.sqlstate(), e.message().as_str()),
                ("22023", message),
                "{bad}"
            );
            assert_eq!(verify_stored("password", &bad).unwrap_err(), e);
            assert_eq!(check_importable(&bad).unwrap_err(), e);
            assert!(!e.message().contains(SALT) && !e.message().contains(&TAG[..10]));
        }
    }

    #[test]
    fn other_formats_name_the_accepted_ones() {
        for bad in [
            "",
            "plain password",
            "$1$abc$def",
            "$5$rounds=5000$abc$def",
            "$scrypt$ln=16,r=8,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
            "pbkdf2_sha256$600000$salt$hash",
            "$2x$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
            "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOe",
            "$2a$03$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
            " $argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
            "argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
        ] {
            let e = verify_stored("pw", bad).unwrap_err();
            assert_eq!(
                (e.sqlstate(), e.message()),
                ("22023", UNSUPPORTED_HASH.to_string()),
                "{bad}"
            );
            assert!(e.message().contains("bcrypt") && e.message().contains("argon2id"));
            assert_eq!(parse_stored_hash(bad).unwrap_err(), e);
            assert!(!needs_rehash_for(
                bad,
                &config(PasswordAlgorithm::Argon2id, CHEAP)
            ));
            assert!(!needs_rehash_for(
                bad,
                &config(PasswordAlgorithm::Bcrypt, CHEAP)
            ));
        }
        // bcrypt through the new entry points, as `verify` has it.
        let u = "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW";
        assert_eq!(verify_stored("U*U", u), Ok(true));
        assert_eq!(verify_stored("U*V", &u.replace("$2a$", "$2y$")), Ok(false));
        assert_eq!(
            parse_stored_hash(u),
            Ok(StoredHash::Bcrypt(ParsedHash { cost: 5 }))
        );
        let e = verify_stored("U*U", &u.replace("$05$", "$31$")).unwrap_err();
        assert_eq!(
            (e.sqlstate(), e.message().as_str()),
            ("22023", "bcrypt cost 31 is above 20")
        );
    }

    #[test]
    fn stored_hashes_over_the_caps_are_refused_without_hashing() {
        // Each would take minutes or gigabytes; refused before any work.
        for bad in [
            format!("$argon2id$v=19$m=4194304,t=3,p=4${SALT}${TAG}"),
            format!("$argon2id$v=19$m=262144,t=5,p=1${SALT}${TAG}"),
            format!("$argon2i$v=19$m=65536,t=4294967295,p=1${SALT}${TAG}"),
            format!("$argon2id$v=19$m=4294967295,t=4294967295,p=16777215${SALT}${TAG}"),
            format!("$argon2id$v=19$m=65536,t=1,p=65${SALT}${TAG}"),
        ] {
            assert!(parse_argon2_hash(&bad).is_ok(), "{bad}");
            assert_eq!(verify_stored("pw", &bad).unwrap_err().sqlstate(), "22023");
            assert_eq!(check_importable(&bad).unwrap_err().sqlstate(), "22023");
            let parsed = parse_stored_hash(&bad).unwrap();
            for algorithm in [PasswordAlgorithm::Bcrypt, PasswordAlgorithm::Argon2id] {
                assert!(!verifiable(&parsed, &config(algorithm, CHEAP)));
            }
            assert_eq!(
                login_matches("pw", Some(&bad), &config(PasswordAlgorithm::Bcrypt, CHEAP)),
                Ok(false)
            );
        }
        // At the caps: accepted.
        let at_caps = format!("$argon2id$v=19$m=262144,t=4,p=64${SALT}${TAG}");
        assert_eq!(check_importable(&at_caps), Ok(()));
    }

    #[test]
    fn rehash_when_algorithm_or_parameters_differ() {
        let argon2 = config(PasswordAlgorithm::Argon2id, Argon2Params::OWASP);
        let bcrypt4 = config(PasswordAlgorithm::Bcrypt, Argon2Params::OWASP);
        let bcrypt = |cost: &str| {
            format!("$2b${cost}$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW")
        };
        let salt16 = "AAAAAAAAAAAAAAAAAAAAAA";
        let tag32 = "A".repeat(43);
        let a2 = |kind: &str, params: &str| format!("${kind}$v=19${params}${salt16}${tag32}");

        assert!(needs_rehash_for(&bcrypt("04"), &argon2));
        assert!(!needs_rehash_for(&bcrypt("04"), &bcrypt4));
        assert!(needs_rehash_for(&bcrypt("05"), &bcrypt4));
        let ours = a2("argon2id", "m=19456,t=2,p=1");
        assert!(!needs_rehash_for(&ours, &argon2));
        assert!(needs_rehash_for(&ours, &bcrypt4));
        for other in [
            a2("argon2i", "m=19456,t=2,p=1"),
            a2("argon2id", "m=19457,t=2,p=1"),
            a2("argon2id", "m=19456,t=3,p=1"),
            a2("argon2id", "m=19456,t=2,p=2"),
            a2("argon2id", "m=65536,t=3,p=4"),
            format!("$argon2id$v=19$m=19456,t=2,p=1${SALT}${tag32}"),
            format!("$argon2id$v=19$m=19456,t=2,p=1${salt16}${}", "A".repeat(86)),
        ] {
            assert!(needs_rehash_for(&other, &argon2), "{other}");
        }
        // A new hash under the configuration is never re-hashed.
        let cheap = config(PasswordAlgorithm::Argon2id, CHEAP);
        let h = hash_with("pw", &cheap).unwrap();
        assert!(!needs_rehash_for(&h, &cheap));
        assert!(needs_rehash_for(&h, &argon2));
        // The bcrypt rule is unchanged.
        assert_eq!(
            needs_rehash_for(&bcrypt("10"), &bcrypt4),
            needs_rehash(&bcrypt("10"), 4)
        );
    }

    #[test]
    fn dummy_hashes_have_the_configured_parameters() {
        for params in [
            Argon2Params::OWASP,
            CHEAP,
            Argon2Params {
                m_kib: 65536,
                t: 3,
                p: 4,
            },
        ] {
            let d = dummy_argon2_hash(&params);
            assert_eq!(
                parse_argon2_hash(&d),
                Ok(ParsedArgon2 {
                    variant: Argon2Variant::Argon2id,
                    params,
                    salt_len: ARGON2_SALT_BYTES,
                    hash_len: ARGON2_HASH_BYTES
                })
            );
            let c = config(PasswordAlgorithm::Argon2id, params);
            assert_eq!(dummy_hash_for(&c), d);
            assert!(!needs_rehash_for(&d, &c));
        }
        let c = config(PasswordAlgorithm::Argon2id, CHEAP);
        assert_eq!(verify_stored("anything", &dummy_hash_for(&c)), Ok(false));
        verify_dummy("anything", &c);
        let b = config(PasswordAlgorithm::Bcrypt, CHEAP);
        assert_eq!(dummy_hash_for(&b), dummy_hash(4));
        verify_dummy("anything", &b);
    }

    #[test]
    fn login() {
        let c = config(PasswordAlgorithm::Argon2id, CHEAP);
        let h = hash_with("pw", &c).unwrap();
        assert_eq!(login_matches("pw", Some(&h), &c), Ok(true));
        assert_eq!(login_matches("px", Some(&h), &c), Ok(false));
        assert_eq!(login_matches("pw", None, &c), Ok(false));
        assert_eq!(login_matches("pw", Some("pw"), &c), Ok(false));
        assert_eq!(
            login_matches("", Some(&h), &c).unwrap_err().sqlstate(),
            "22023"
        );
        // Hashes of the other algorithm still log in.
        let b = config(PasswordAlgorithm::Bcrypt, CHEAP);
        assert_eq!(login_matches("pw", Some(&h), &b), Ok(true));
        let bh = hash_with("pw", &b).unwrap();
        assert_eq!(login_matches("pw", Some(&bh), &c), Ok(true));
        // The bcrypt login cap: max(14, bcrypt_cost).
        let cost15 = dummy_hash(15);
        let parsed = parse_stored_hash(&cost15).unwrap();
        assert!(!verifiable(&parsed, &c));
        assert!(verifiable(
            &parsed,
            &PasswordConfig {
                bcrypt_cost: 15,
                ..c
            }
        ));
        assert!(!verifiable(
            &parse_stored_hash(&dummy_hash(21)).unwrap(),
            &PasswordConfig {
                bcrypt_cost: 25,
                ..c
            }
        ));
    }

    #[test]
    fn importable_hashes_of_either_algorithm() {
        let v = "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW";
        assert_eq!(check_importable(v), Ok(()));
        // bcrypt costs out of range keep their message.
        for cost in ["15", "03", "99"] {
            let h = v.replace("$05$", &format!("${cost}$"));
            assert_eq!(check_importable(&h), check_importable_hash(&h));
            assert_eq!(check_importable(&h).unwrap_err().sqlstate(), "22023");
        }
        // Weak argon2 hashes are imported (a login re-hashes them), as bcrypt cost 4 is.
        assert_eq!(
            check_importable(&format!("$argon2i$v=19$m=8,t=1,p=1${SALT}${TAG}")),
            Ok(())
        );
        assert_eq!(
            check_importable(&hash_argon2id("pw", &CHEAP).unwrap()),
            Ok(())
        );
        for bad in ["", "plain", "$1$abc$def", "$2a$05$short"] {
            let e = check_importable(bad).unwrap_err();
            assert_eq!(
                (e.sqlstate(), e.message()),
                ("22023", UNSUPPORTED_HASH.to_string())
            );
        }
    }

    #[test]
    fn algorithm_names() {
        for a in [PasswordAlgorithm::Bcrypt, PasswordAlgorithm::Argon2id] {
            assert_eq!(PasswordAlgorithm::from_name(a.name()), Some(a));
        }
        for bad in ["", "BCRYPT", "argon2", "argon2i", "argon2d", " bcrypt"] {
            assert_eq!(PasswordAlgorithm::from_name(bad), None);
        }
    }

    #[test]
    fn verify_password_takes_bcrypt_and_argon2() {
        let b = hash("pw", 4).unwrap();
        assert_eq!(verify_bcrypt_or_argon2("pw", &b), Ok(true));
        assert_eq!(verify_bcrypt_or_argon2("pX", &b), Ok(false));
        let a = hash_argon2id("pw", &CHEAP).unwrap();
        assert_eq!(verify_bcrypt_or_argon2("pw", &a), Ok(true));
        assert_eq!(verify_bcrypt_or_argon2("pX", &a), Ok(false));
        // bcrypt keeps its own rules: any cost to 20, above it 22023.
        assert_eq!(
            verify_bcrypt_or_argon2("pw", &vector_cost(31))
                .unwrap_err()
                .sqlstate(),
            "22023"
        );
        for bad in ["", "plain", "$1$abc$def"] {
            let e = verify_bcrypt_or_argon2("pw", bad).unwrap_err();
            assert_eq!(e.sqlstate(), "22P02", "{bad}");
            assert!(e.message().starts_with("not a bcrypt hash"), "{bad}");
        }
        let e = verify_bcrypt_or_argon2("pw", "$argon2id$v=19$m=1,t=1,p=1$x$y").unwrap_err();
        assert_eq!(e.sqlstate(), "22023");
        assert_eq!(
            verify_bcrypt_or_argon2("", &a).unwrap_err().sqlstate(),
            "22023"
        );
    }

    fn vector_cost(cost: u32) -> String {
        format!("$2a${cost:02}$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW")
    }

    #[test]
    fn new_password_length_counts_characters() {
        assert_eq!(check_new_password_length("12345678", 8), Ok(()));
        let e = check_new_password_length("1234567", 8).unwrap_err();
        assert_eq!(e.sqlstate(), "22023");
        assert_eq!(
            e.message(),
            "password is 7 characters; at least 8 are required (auth.password_min_length)"
        );
        // Characters, not bytes: 7 three-byte characters are 21 bytes and still too few.
        assert!(check_new_password_length(&"€".repeat(7), 8).is_err());
        assert_eq!(check_new_password_length(&"€".repeat(8), 8), Ok(()));
        // The byte rules come first.
        assert!(check_new_password_length("", 1)
            .unwrap_err()
            .message()
            .contains("must not be empty"));
        assert!(check_new_password_length(&"a".repeat(73), 8)
            .unwrap_err()
            .message()
            .contains("73 bytes"));
        assert_eq!(
            check_new_password_length(&"a".repeat(72), MAX_MIN_LENGTH),
            Ok(())
        );
        assert!(!check_new_password_length("secret1", 8)
            .unwrap_err()
            .message()
            .contains("secret1"));
    }

    #[test]
    fn check_function_names() {
        for (text, schema, name) in [
            ("public.pw_check", "public", "pw_check"),
            ("Public.PW_Check", "public", "pw_check"),
            (" app.check_pw ", "app", "check_pw"),
            (
                "\"My Schema\".\"Check \"\"pw\"\"\"",
                "My Schema",
                "Check \"pw\"",
            ),
            ("app.\"x.y\"", "app", "x.y"),
            ("s_1.f$2", "s_1", "f$2"),
            ("é.ü", "é", "ü"),
        ] {
            assert_eq!(
                parse_check_function_name(text),
                Ok((schema.to_string(), name.to_string())),
                "{text}"
            );
        }
        for bad in [
            "",
            "pw_check",
            "a.b.c",
            "a.",
            ".b",
            "a..b",
            "1a.b",
            "a.$b",
            "a.b(text, text)",
            "a.b; drop table x",
            "\"a.b",
            "\"\".b",
            "a b.c",
            "a.b c",
        ] {
            let e = parse_check_function_name(bad).unwrap_err();
            assert_eq!(e.sqlstate(), "22023", "{bad}");
            assert!(e.message().contains("auth.password_check"), "{bad}");
        }
    }

    #[test]
    fn policy_refusals_never_carry_the_password() {
        assert_eq!(
            policy_refusal("too common", "password1").message(),
            "password refused: too common"
        );
        for (reason, password) in [
            ("", "pw"),
            ("   ", "pw"),
            ("password1 is too common", "password1"),
        ] {
            let e = policy_refusal(reason, password);
            assert_eq!(e.sqlstate(), "22023");
            assert_eq!(
                e.message(),
                "password refused by the function of auth.password_check"
            );
        }
    }
}
