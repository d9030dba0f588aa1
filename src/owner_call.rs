//! Functions a setting names (`auth.password_check`, `auth.access_token_hook`), found by exactly
//! that name and called through the function manager as their owner.
//!
//! Never as the role that runs the flow (inside the extension's flows, the extension owner, a
//! superuser): a function owned by an ordinary role gains nothing by being named in a setting.
//! Its own SECURITY DEFINER and SET clauses apply as in any call. The call is restricted as index
//! expressions are (`SECURITY_RESTRICTED_OPERATION`: no SET ROLE, no temporary objects).

use auth_core::password;
use auth_core::AuthError;
use pgrx::prelude::*;

use crate::error::{raise, OrRaise};

/// The shape a setting's function must have.
pub struct Signature {
    /// The setting's name, in every error message.
    pub setting: &'static str,
    /// The argument types as `pg_proc.proargtypes` spells them (an `oidvector`: `'25 25'`).
    pub arg_types: &'static str,
    /// The arguments as the error message describes them: `username text, password text`.
    pub args: &'static str,
    /// The return type, a `regtype` literal (`pg_catalog.text`).
    pub returns: &'static str,
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
/// another shape.
pub fn find(sig: &Signature, value: &str) -> Found {
    let (schema, name) = password::parse_function_setting(sig.setting, value).or_raise();
    let found = Spi::connect(|client| {
        let rows = client.select(
            "SELECT p.oid, p.proowner, \
                    p.prorettype OPERATOR(pg_catalog.=) $4::pg_catalog.regtype \
                    AND p.prokind OPERATOR(pg_catalog.=) 'f' AND NOT p.proretset \
                    AND pg_catalog.has_function_privilege(p.proowner, p.oid, 'EXECUTE') \
             FROM pg_catalog.pg_proc p \
             JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) p.pronamespace \
             WHERE n.nspname OPERATOR(pg_catalog.=) $1 AND p.proname OPERATOR(pg_catalog.=) $2 \
               AND p.proargtypes OPERATOR(pg_catalog.=) $3::pg_catalog.oidvector",
            Some(1),
            &[
                schema.as_str().into(),
                name.as_str().into(),
                sig.arg_types.into(),
                sig.returns.into(),
            ],
        )?;
        let mut found = None;
        for row in rows {
            found = Some((
                row.get::<pg_sys::Oid>(1)?,
                row.get::<pg_sys::Oid>(2)?,
                row.get::<bool>(3)?,
            ));
        }
        Ok::<_, pgrx::spi::Error>(found)
    })
    .unwrap_or_else(|e| {
        raise(AuthError::Internal(format!(
            "{} lookup failed: {e}",
            sig.setting
        )))
    });
    match found {
        Some((Some(oid), Some(owner), Some(true))) => Found { oid, owner },
        Some((Some(_), Some(_), Some(false))) => raise(AuthError::Config(format!(
            "{} must name a plain function returning {} that its owner may execute",
            sig.setting, sig.returns_name
        ))),
        _ => raise(AuthError::Config(format!(
            "{} names no function schema.name({})",
            sig.setting, sig.args
        ))),
    }
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
