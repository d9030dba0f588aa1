//! Values PostgreSQL built, returned as they are: pgrx's `JsonB` would serialize a serde value
//! and have PostgreSQL parse it again, and its `String` would copy a cached text twice.

use pgrx::callconv::{Arg, ArgAbi, BoxRet, FcInfo};
use pgrx::datum::Datum;
use pgrx::nullable::Nullable;
use pgrx::prelude::*;
use pgrx::{impl_sql_translatable, FromDatum, IntoDatum};

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

/// A jsonb value (an argument, or what a called function returned) read as serde JSON without
/// panicking: PostgreSQL's jsonb holds numbers beyond `f64` and nesting deeper than serde_json
/// reads (128 levels), which pgrx's `JsonB` turns into a panic (`XX000`). `Err` holds serde's
/// reason, for the caller to raise with its own SQLSTATE.
pub struct JsonbValue(pub Result<serde_json::Value, String>);

impl FromDatum for JsonbValue {
    unsafe fn from_polymorphic_datum(
        datum: pg_sys::Datum,
        is_null: bool,
        _: pg_sys::Oid,
    ) -> Option<JsonbValue> {
        if is_null {
            return None;
        }
        // SAFETY: a jsonb datum (the SQL type of the argument or result); jsonb_out detoasts it
        // and returns a palloc'd C string, freed here once parsed.
        unsafe {
            let text =
                pgrx::direct_function_call::<&std::ffi::CStr>(pg_sys::jsonb_out, &[Some(datum)])?;
            let parsed = text
                .to_str()
                .map_err(|e| e.to_string())
                .and_then(|t| serde_json::from_str(t).map_err(|e| e.to_string()));
            pg_sys::pfree(text.as_ptr() as *mut std::ffi::c_void);
            Some(JsonbValue(parsed))
        }
    }
}

// SAFETY: unboxed through FromDatum, as pgrx unboxes its own JsonB.
unsafe impl<'fcx> ArgAbi<'fcx> for JsonbValue {
    unsafe fn unbox_arg_unchecked(arg: Arg<'_, 'fcx>) -> Self {
        let index = arg.index();
        unsafe { arg.unbox_arg_using_from_datum() }
            .unwrap_or_else(|| panic!("argument {index} must not be null"))
    }

    unsafe fn unbox_nullable_arg(arg: Arg<'_, 'fcx>) -> Nullable<Self> {
        unsafe { arg.unbox_arg_using_from_datum() }.into()
    }
}

impl_sql_translatable!(JsonbValue, "jsonb");
