//! Functions a setting names (`auth.password_check`, `auth.access_token_hook`), found by exactly
//! that name and called through the function manager as their owner.
//!
//! Never as the role that runs the flow (inside the extension's flows, the extension owner, a
//! superuser): a function owned by an ordinary role gains nothing by being named in a setting.
//! Its own SECURITY DEFINER and SET clauses apply as in any call. The call is restricted as index
//! expressions are (`SECURITY_RESTRICTED_OPERATION`: no SET ROLE, no temporary objects).

use std::ffi::CString;

use auth_core::password;
use auth_core::AuthError;
use pgrx::prelude::*;

use crate::error::{raise, OrRaise};

/// The shape a setting's function must have.
pub struct Signature {
    /// The setting's name, in every error message.
    pub setting: &'static str,
    /// The argument types.
    pub arg_types: &'static [pg_sys::Oid],
    /// The arguments as the error message describes them: `username text, password text`.
    pub args: &'static str,
    /// The return type.
    pub returns: pg_sys::Oid,
    /// The return type as the error message names it.
    pub returns_name: &'static str,
}

/// A function found by [`find`]: its oid and its owner.
#[derive(Clone, Copy)]
pub struct Found {
    oid: pg_sys::Oid,
    owner: pg_sys::Oid,
}

/// The function `value` (the setting's value, `schema.name`) names: exactly that schema and name,
/// with the signature's argument types, a plain function (not a procedure or aggregate, not
/// set-returning) returning the signature's type, which its owner may execute. Raises 22023
/// naming the setting otherwise: a value that is not `schema.name`, no such function, or one of
/// another shape. Read from the catalog caches (no query): a few microseconds, cheap enough for
/// every call.
pub fn find(sig: &Signature, value: &str) -> Found {
    let (schema, name) = password::parse_function_setting(sig.setting, value).or_raise();
    let not_found = || -> ! {
        raise(AuthError::Config(format!(
            "{} names no function schema.name({})",
            sig.setting, sig.args
        )))
    };
    // A catalog name is shorter than NAMEDATALEN bytes; a longer one (or one holding a NUL,
    // which a setting cannot) names nothing.
    let limit = pg_sys::NAMEDATALEN as usize;
    let (Ok(schema), Ok(name)) = (CString::new(schema), CString::new(name)) else {
        not_found()
    };
    if schema.as_bytes().len() >= limit || name.as_bytes().len() >= limit {
        not_found();
    }
    // SAFETY: catalog-cache lookups as PostgreSQL's own code makes them (ProcedureCreate's
    // PROCNAMEARGSNSP probe with a C-string name key and an oidvector of the argument types);
    // the pg_proc tuple is read while pinned and released before anything can raise.
    let (oid, owner, shaped) = unsafe {
        let namespace = pg_sys::get_namespace_oid(schema.as_ptr(), true);
        if namespace == pg_sys::InvalidOid {
            not_found();
        }
        let arg_types = pg_sys::buildoidvector(sig.arg_types.as_ptr(), sig.arg_types.len() as i32);
        let oid = pg_sys::GetSysCacheOid(
            pg_sys::SysCacheIdentifier::PROCNAMEARGSNSP as i32,
            pg_sys::Anum_pg_proc_oid as pg_sys::AttrNumber,
            pg_sys::Datum::from(name.as_ptr()),
            pg_sys::Datum::from(arg_types),
            namespace.into_datum().unwrap_or_else(|| not_found()),
            pg_sys::Datum::from(0),
        );
        pg_sys::pfree(arg_types.cast());
        if oid == pg_sys::InvalidOid {
            not_found();
        }
        let tuple = pg_sys::SearchSysCache1(
            pg_sys::SysCacheIdentifier::PROCOID as i32,
            oid.into_datum().unwrap_or_else(|| not_found()),
        );
        if tuple.is_null() {
            not_found();
        }
        let proc = &*pg_sys::heap_tuple_get_struct::<pg_sys::FormData_pg_proc>(tuple);
        let shaped = proc.prorettype == sig.returns
            && proc.prokind == pg_sys::PROKIND_FUNCTION as std::ffi::c_char
            && !proc.proretset;
        let owner = proc.proowner;
        pg_sys::ReleaseSysCache(tuple);
        (oid, owner, shaped)
    };
    // SAFETY: has_function_privilege(owner oid, function oid, text), a builtin, called directly
    // with three non-NULL arguments.
    let may_execute = shaped
        && unsafe {
            pgrx::direct_function_call::<bool>(
                pg_sys::has_function_privilege_id_id,
                &[owner.into_datum(), oid.into_datum(), "EXECUTE".into_datum()],
            )
        }
        .unwrap_or(false);
    if !may_execute {
        raise(AuthError::Config(format!(
            "{} must name a plain function returning {} that its owner may execute",
            sig.setting, sig.returns_name
        )));
    }
    Found { oid, owner }
}

/// Calls `f` with `args` (None: SQL NULL) as its owner, and converts its answer (None: NULL).
/// A STRICT function given a NULL argument is not called: None. An error the function raises
/// propagates (its SQLSTATE becomes XX000 on the way through this frame: callers that must keep
/// a code convert in plpgsql). The caller's user and security context are restored after the
/// call, or by the abort of the (sub)transaction an error ends.
pub fn call<T: FromDatum>(sig: &Signature, f: Found, args: &[Option<pg_sys::Datum>]) -> Option<T> {
    let nargs = args.len();
    let mut user = pg_sys::InvalidOid;
    let mut context = 0;
    // SAFETY: the function manager called as PostgreSQL's own callers do (fmgr_info, then a
    // FunctionCallInfo of `nargs` arguments, palloc'd, freed after), across pgrx's error
    // boundary; the argument count matches the signature `find` checked; the user switch is
    // undone below, or by the abort of an error.
    unsafe {
        let mut flinfo = pg_sys::FmgrInfo::default();
        pg_sys::fmgr_info(f.oid, &mut flinfo);
        if flinfo.fn_strict && args.iter().any(Option::is_none) {
            return None;
        }
        let func = flinfo.fn_addr.unwrap_or_else(|| {
            raise(AuthError::Internal(format!(
                "{}: no function address",
                sig.setting
            )))
        });
        let fcinfo = pg_sys::palloc0(
            std::mem::size_of::<pg_sys::FunctionCallInfoBaseData>()
                + std::mem::size_of::<pg_sys::NullableDatum>() * nargs,
        ) as *mut pg_sys::FunctionCallInfoBaseData;
        let call = &mut *fcinfo;
        call.flinfo = &mut flinfo;
        call.fncollation = pg_sys::DEFAULT_COLLATION_OID;
        call.nargs = nargs as i16;
        for (slot, datum) in call.args.as_mut_slice(nargs).iter_mut().zip(args) {
            (slot.value, slot.isnull) = match datum {
                Some(d) => (*d, false),
                None => (pg_sys::Datum::from(0), true),
            };
        }
        pg_sys::GetUserIdAndSecContext(&mut user, &mut context);
        pg_sys::SetUserIdAndSecContext(
            f.owner,
            context
                | pg_sys::SECURITY_LOCAL_USERID_CHANGE as i32
                | pg_sys::SECURITY_RESTRICTED_OPERATION as i32,
        );
        let result = pg_sys::ffi::pg_guard_ffi_boundary(|| func(fcinfo));
        pg_sys::SetUserIdAndSecContext(user, context);
        let answer = T::from_datum(result, call.isnull);
        pg_sys::pfree(fcinfo.cast());
        answer
    }
}
