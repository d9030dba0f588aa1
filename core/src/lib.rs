//! The pure-Rust core of the `auth` PostgreSQL extension.
//!
//! Nothing here links PostgreSQL: the SQL layer (`src/` of the extension) binds these functions,
//! unit tests drive them directly, and the fuzzer (`fuzz/`) feeds them hostile input.

pub mod algorithm;
pub mod base64url;
pub mod claims;
pub mod cookie;
pub mod credentials;
pub mod email;
pub mod error;
pub mod jwt;
pub mod keys;
pub mod keystore;
pub mod password;
pub mod request;
pub mod role_path;
pub mod secret;
pub mod session;
pub mod token;
pub mod token_cache;

pub use algorithm::Algorithm;
pub use error::AuthError;
pub use keys::{JwsAlg, SigningKey, VerifyingKey};
