//! Values PostgreSQL built, returned as they are: pgrx's `JsonB` would serialize a serde value
//! and have PostgreSQL parse it again, and its `String` would copy a cached text twice.

use pgrx::callconv::{BoxRet, FcInfo};
use pgrx::datum::Datum;
use pgrx::prelude::*;
use pgrx::{impl_sql_translatable, IntoDatum};

/// A jsonb Datum in the caller's memory context.
pub struct JsonbDatum(pub pg_sys::Datum);

// SAFETY: the Datum is a valid jsonb varlena in the caller's memory context.
unsafe impl BoxRet for JsonbDatum {
    unsafe fn box_into<'fcx>(self, fcinfo: &mut FcInfo<'fcx>) -> Datum<'fcx> {
        unsafe { fcinfo.return_raw_datum(self.0) }
    }
}

impl_sql_translatable!(JsonbDatum, "jsonb");

impl JsonbDatum {
    /// PostgreSQL's jsonb of a JSON text (`text::jsonb`); its errors are PostgreSQL's.
    pub fn parse(json: &std::ffi::CStr) -> JsonbDatum {
        // SAFETY: jsonb_in takes one cstring argument and never returns NULL; its errors come
        // back as Rust panics that pgrx turns into the same PostgreSQL error.
        let datum = unsafe {
            pgrx::direct_function_call_as_datum(
                pg_sys::jsonb_in,
                &[Some(pg_sys::Datum::from(json.as_ptr()))],
            )
        };
        JsonbDatum(datum.expect("jsonb_in never returns NULL"))
    }
}

/// A text Datum in the caller's memory context.
pub struct TextDatum(pub pg_sys::Datum);

// SAFETY: the Datum is a valid text varlena in the caller's memory context.
unsafe impl BoxRet for TextDatum {
    unsafe fn box_into<'fcx>(self, fcinfo: &mut FcInfo<'fcx>) -> Datum<'fcx> {
        unsafe { fcinfo.return_raw_datum(self.0) }
    }
}

impl_sql_translatable!(TextDatum, "text");

impl TextDatum {
    /// A palloc'd text copy of `s`.
    pub fn copy(s: &str) -> TextDatum {
        TextDatum(s.into_datum().expect("a str is never NULL"))
    }
}
