-- auth 0.1.0 → 0.2.0 (ALTER EXTENSION auth UPDATE TO '0.2.0').
--
-- Hand-written: every schema change of 0.2.0 is here, and a database updated with it ends with
-- the same objects, definitions and privileges as a fresh 0.2.0 install (scripts/upgrade-test.sh
-- compares the catalogs). A function this script creates is EXECUTE-able by PUBLIC until it is
-- revoked here, as sql/privileges.sql does for a fresh install.

\echo Use "ALTER EXTENSION auth UPDATE TO '0.2.0'" to load this file. \quit
