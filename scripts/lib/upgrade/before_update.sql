-- scripts/upgrade-test.sh, step 4: the new library under the released SQL. The server restarted
-- with the new auth.so preloaded; the database still holds the released version's objects
-- (ALTER EXTENSION auth UPDATE has not run). Every C function of the released SQL must resolve in
-- the new library, and the flows must work: sessions and credentials made before with it, new
-- ones made now. psql variables: from_version.
\set ON_ERROR_STOP 1
\set anon '{"role":"upgrade_anon"}'

SELECT upgrade_check.expect(extversion = :'from_version',
                            format('old schema: extension auth is still at %s (found %s)', :'from_version', extversion))
FROM pg_extension WHERE extname = 'auth';

-- fmgr_c_validator (what CREATE FUNCTION runs) loads the library and looks the symbol up: it
-- raises "could not find function ... in file .../auth.so" for a symbol the new library lacks.
SELECT upgrade_check.expect(count(*) > 0 AND count(*) = count(pg_catalog.fmgr_c_validator(p.oid)),
                            format('old schema: its %s C functions resolve in the new library', count(*)))
FROM pg_proc AS p
JOIN pg_depend AS d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
JOIN pg_extension AS e ON e.oid = d.refobjid AND e.extname = 'auth'
WHERE p.prolang = (SELECT oid FROM pg_language WHERE lanname = 'c');

-- Sessions.
SELECT upgrade_check.expect_session(label) FROM upgrade_check.request(
    'old schema: login alice', 'upgrade_anon', :'anon', $$SELECT auth.login('alice', 'alice password')$$);
SELECT upgrade_check.expect_session(label) FROM upgrade_check.request(
    'old schema: refresh alice''s refreshed session', 'upgrade_anon', :'anon', $$SELECT auth.refresh_token()$$,
    jsonb_build_object('refresh_token', (upgrade_check.response('fill: refresh alice')).refresh_cookie));
SELECT upgrade_check.expect_ok(label) FROM upgrade_check.request(
    'old schema: request with bob''s session', 'upgrade_app',
    auth.jwt_verify((upgrade_check.response('fill: login bob')).access_cookie), NULL);
SELECT upgrade_check.expect_ok(label) FROM upgrade_check.request(
    'old schema: request with alice''s new session', 'upgrade_app',
    auth.jwt_verify((upgrade_check.response('old schema: login alice')).access_cookie), NULL);
SELECT upgrade_check.expect_refused(label, 'PT401') FROM upgrade_check.request(
    'old schema: request with carol''s ended session', 'upgrade_app',
    auth.jwt_verify((upgrade_check.response('fill: login carol')).access_cookie), NULL);
SELECT upgrade_check.expect_refused(label, 'PT401') FROM upgrade_check.request(
    'old schema: request with an unknown session', 'upgrade_app',
    jsonb_build_object('role', 'upgrade_app', 'sub', 'alice', 'sid', gen_random_uuid()), NULL);

-- JWT: tokens signed by the released library verify with the new one, and the new one signs.
SELECT upgrade_check.expect(
    auth.jwt_verify((upgrade_check.response('fill: login bob')).access_cookie) ->> 'sub' = 'bob',
    'old schema: jwt_verify accepts an access token the released library signed');
SELECT upgrade_check.expect(
    auth.jwt_verify(auth.jwt_sign('{"sub": "upgrade", "role": "upgrade_app"}')) ->> 'sub' = 'upgrade',
    'old schema: jwt_sign / jwt_verify round trip');

-- API tokens and keys.
SELECT upgrade_check.expect_ok(label) FROM upgrade_check.request(
    'old schema: request with api token', 'upgrade_app',
    auth.jwt_verify((upgrade_check.response('fill: api token')).body), NULL);
SELECT upgrade_check.expect_refused(label, 'PT401') FROM upgrade_check.request(
    'old schema: request with revoked api token', 'upgrade_app',
    auth.jwt_verify((upgrade_check.response('fill: revoked api token')).body), NULL);
SELECT upgrade_check.expect_ok(label) FROM upgrade_check.request(
    'old schema: exchange api key', 'upgrade_anon', :'anon',
    format('SELECT auth.exchange_api_key(%L)', (upgrade_check.response('fill: api key')).body));
SELECT upgrade_check.expect_ok(label) FROM upgrade_check.request(
    'old schema: request with exchanged api key', 'upgrade_app',
    auth.jwt_verify((upgrade_check.response('old schema: exchange api key')).body::jsonb ->> 'access_token'), NULL);
SELECT upgrade_check.expect_refused(label, 'PT401') FROM upgrade_check.request(
    'old schema: exchange disabled api key', 'upgrade_anon', :'anon',
    format('SELECT auth.exchange_api_key(%L)', (upgrade_check.response('fill: disabled api key')).body));

-- What the update must keep (step 5 compares).
SELECT format('old schema: %s rows in %s', row_count, tbl) FROM upgrade_check.snapshot('before update');
