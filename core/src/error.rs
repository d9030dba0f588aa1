//! The one error type of the core. The SQL layer turns each variant into its SQLSTATE in one place
//! (`src/error.rs`). Messages never carry a token, a key or a password.

use std::fmt;

/// Why a JWT was refused. Each reason is named in the error message of `auth.jwt_verify`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    Malformed(&'static str),
    TooLarge,
    BadSignature,
    WrongAlgorithm,
    Expired,
    NotYetValid,
    WrongAudience,
    WrongIssuer,
    /// The header's `kid` names no key of the store.
    UnknownKey,
    /// The header's `kid` names a retired key.
    RetiredKey,
    /// No `kid`, and no single key it could mean (see `keystore::select`).
    MissingKeyId,
}

impl Rejection {
    pub fn message(&self) -> String {
        match self {
            Rejection::Malformed(why) => format!("malformed token: {why}"),
            Rejection::TooLarge => {
                format!(
                    "malformed token: longer than {} bytes",
                    crate::jwt::MAX_TOKEN_BYTES
                )
            }
            Rejection::BadSignature => "bad signature".into(),
            Rejection::WrongAlgorithm => "wrong algorithm".into(),
            Rejection::Expired => "token expired".into(),
            Rejection::NotYetValid => "token not yet valid".into(),
            Rejection::WrongAudience => "wrong audience".into(),
            Rejection::WrongIssuer => "wrong issuer".into(),
            Rejection::UnknownKey => "unknown signing key (kid)".into(),
            Rejection::RetiredKey => "signing key retired".into(),
            Rejection::MissingKeyId => {
                "token has no kid and several keys could have signed it".into()
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthError {
    /// A token was refused: authentication failure (HTTP 401 through PostgREST).
    Rejected(Rejection),
    /// An argument has the wrong shape (22P02): bad base64url, a token that does not parse.
    InvalidText(String),
    /// An argument has a value we refuse (22023): unknown algorithm, empty password, bad cost.
    InvalidParameter(String),
    /// The server is not configured for the call (no key, short key): 22023 with a hint to fix it.
    Config(String),
    /// Something that cannot happen with valid input (a CSPRNG failure, say): XX000.
    Internal(String),
}

impl AuthError {
    /// The SQLSTATE this error is raised with.
    pub fn sqlstate(&self) -> &'static str {
        match self {
            AuthError::Rejected(_) => "PT401",
            AuthError::InvalidText(_) => "22P02",
            AuthError::InvalidParameter(_) => "22023",
            AuthError::Config(_) => "22023",
            AuthError::Internal(_) => "XX000",
        }
    }

    pub fn message(&self) -> String {
        match self {
            AuthError::Rejected(r) => r.message(),
            AuthError::InvalidText(m)
            | AuthError::InvalidParameter(m)
            | AuthError::Config(m)
            | AuthError::Internal(m) => m.clone(),
        }
    }
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

impl std::error::Error for AuthError {}

impl From<Rejection> for AuthError {
    fn from(r: Rejection) -> Self {
        AuthError::Rejected(r)
    }
}
