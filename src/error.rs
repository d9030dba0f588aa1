//! The one boundary where a core [`AuthError`] becomes a PostgreSQL error with its SQLSTATE.
//!
//! pgrx cannot raise `PTxxx` codes; functions that reject credentials return the rejection to a
//! plpgsql wrapper (in `sql/`) that raises `PT401` itself. [`raise`] refuses to lose that code.

use auth_core::AuthError;
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::{PgLogLevel, PgSqlErrorCode};

/// The SQLSTATE of each kind of error. Exhaustive on purpose: a new variant of [`AuthError`] is a
/// compile error here until it is given its code, never a silent `XX000`.
fn code(err: &AuthError) -> PgSqlErrorCode {
    match err {
        AuthError::InvalidText(_) => PgSqlErrorCode::ERRCODE_INVALID_TEXT_REPRESENTATION,
        AuthError::InvalidParameter(_) | AuthError::Config(_) => {
            PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE
        }
        // A rejection reaching here is a bug in the SQL layer (rejections are returned to the
        // plpgsql wrappers, which raise PT401): fail closed, loudly.
        AuthError::Rejected(_) | AuthError::Internal(_) => PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
    }
}

pub fn raise(err: AuthError) -> ! {
    ErrorReport::new(code(&err), err.message(), "").report(PgLogLevel::ERROR);
    unreachable!("ERROR does not return")
}

/// Unwraps a core result or raises its error.
pub trait OrRaise<T> {
    fn or_raise(self) -> T;
}

impl<T> OrRaise<T> for Result<T, AuthError> {
    fn or_raise(self) -> T {
        self.unwrap_or_else(|e| raise(e))
    }
}
