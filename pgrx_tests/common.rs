//! Helpers shared by the in-database tests.

use pgrx::prelude::*;

/// Runs `sql` and returns the SQLSTATE and message it fails with; panics if it succeeds.
/// The statement runs in a subtransaction, so the test can go on after it.
pub fn error_of(sql: &str) -> (String, String) {
    let quoted = sql.replace('\'', "''");
    let row =
        Spi::get_two::<String, String>(&format!("SELECT * FROM tests.sqlstate_of('{quoted}')"))
            .expect("sqlstate_of failed");
    match row {
        (Some(state), Some(message)) => (state, message),
        _ => panic!("expected an error from: {sql}"),
    }
}

/// Asserts `sql` fails with `state` and a message containing `needle`.
pub fn assert_error(sql: &str, state: &str, needle: &str) {
    let (got, message) = error_of(sql);
    assert_eq!(got, state, "{sql}: {message}");
    assert!(
        message.contains(needle),
        "{sql}: message {message:?} lacks {needle:?}"
    );
}

pub fn one<T: pgrx::datum::FromDatum + pgrx::datum::IntoDatum>(sql: &str) -> Option<T> {
    Spi::get_one::<T>(sql).unwrap_or_else(|e| panic!("{sql}: {e}"))
}

pub fn run(sql: &str) {
    Spi::run(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
}

extension_sql!(
    r#"
CREATE SCHEMA IF NOT EXISTS tests;
-- Privilege tests switch to unprivileged roles and still call these helpers.
GRANT USAGE ON SCHEMA tests TO PUBLIC;
-- Runs a statement and reports how it failed (NULLs when it did not), inside a subtransaction.
CREATE FUNCTION tests.sqlstate_of(stmt text, OUT state text, OUT message text)
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE stmt;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT;
END
$$;
-- Runs a statement in a READ ONLY subtransaction (as PostgREST begins a GET) and reports how it
-- failed (NULLs when it did not); the subtransaction's rollback leaves read-only mode.
CREATE FUNCTION tests.read_only_error(stmt text, OUT state text, OUT message text)
LANGUAGE plpgsql AS $$
BEGIN
    BEGIN
        PERFORM pg_catalog.set_config('transaction_read_only', 'on', true);
        EXECUTE stmt;
        RAISE SQLSTATE 'TS000';
    EXCEPTION WHEN OTHERS THEN
        IF SQLSTATE <> 'TS000' THEN
            GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT;
        END IF;
    END;
END
$$;
-- Polls the lock manager until backend `pid` waits for a lock (true), for at most 20 s (false).
-- The condition interleavings wait for, instead of a sleep that guesses.
CREATE FUNCTION tests.wait_for_lock_wait(pid integer) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 1..2000 LOOP
        IF EXISTS (SELECT FROM pg_catalog.pg_locks l WHERE l.pid = $1 AND NOT l.granted) THEN
            RETURN true;
        END IF;
        PERFORM pg_catalog.pg_sleep(0.01);
    END LOOP;
    RETURN false;
END
$$;
"#,
    name = "tests_common"
);
