//! The one boundary where a core [`AuthError`] becomes a PostgreSQL error with its SQLSTATE.
//!
//! pgrx cannot raise `PTxxx` codes; functions that reject credentials return the rejection to a
//! plpgsql wrapper (in `sql/`) that raises `PT401` itself. [`raise`] refuses to lose that code.

use auth_core::AuthError;
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::{PgLogLevel, PgSqlErrorCode};

pub fn raise(err: AuthError) -> ! {
    let code = match err.sqlstate() {
        "22P02" => PgSqlErrorCode::ERRCODE_INVALID_TEXT_REPRESENTATION,
        "22023" => PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
        // A rejection reaching here is a bug in the SQL layer: fail closed, loudly.
        _ => PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
    };
    ErrorReport::new(code, err.message(), "").report(PgLogLevel::ERROR);
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
