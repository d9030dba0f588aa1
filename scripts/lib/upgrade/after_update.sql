-- scripts/upgrade-test.sh, step 5: after ALTER EXTENSION auth UPDATE. Every row of every table
-- of the extension is kept, and what was made before the update still works: refresh tokens
-- (one never used since the released version made it), sessions, API tokens and keys, and the
-- refusals (ended session, revoked token, disabled key) still hold. psql variables: to_version.
\set ON_ERROR_STOP 1
\set anon '{"role":"upgrade_anon"}'

SELECT upgrade_check.expect(extversion = :'to_version',
                            format('updated: extension auth is at %s (found %s)', :'to_version', extversion))
FROM pg_extension WHERE extname = 'auth';

-- Rows: the same rows as just before the update (each still holding its old columns' values),
-- and every row the released version wrote in step 3 still there.
SELECT format('updated: %s rows in %s', row_count, tbl) FROM upgrade_check.snapshot('updated');
SELECT upgrade_check.expect_rows_kept('before update', 'updated', 'exact');
SELECT upgrade_check.expect_rows_kept('filled', 'updated', 'keys');

-- Sessions made before the update.
SELECT upgrade_check.expect_session(label) FROM upgrade_check.request(
    'updated: refresh bob''s session (token from the released version)', 'upgrade_anon', :'anon',
    $$SELECT auth.refresh_token()$$,
    jsonb_build_object('refresh_token', (upgrade_check.response('fill: login bob')).refresh_cookie));
SELECT upgrade_check.expect_session(label) FROM upgrade_check.request(
    'updated: refresh alice''s session (token from the new library, old schema)', 'upgrade_anon', :'anon',
    $$SELECT auth.refresh_token()$$,
    jsonb_build_object('refresh_token', (upgrade_check.response('old schema: refresh alice''s refreshed session')).refresh_cookie));
SELECT upgrade_check.expect_ok(label) FROM upgrade_check.request(
    'updated: request with bob''s session', 'upgrade_app',
    auth.jwt_verify((upgrade_check.response('fill: login bob')).access_cookie), NULL);
SELECT upgrade_check.expect_refused(label, 'PT401') FROM upgrade_check.request(
    'updated: request with carol''s ended session', 'upgrade_app',
    auth.jwt_verify((upgrade_check.response('fill: login carol')).access_cookie), NULL);

-- API tokens and keys made before the update.
SELECT upgrade_check.expect_ok(label) FROM upgrade_check.request(
    'updated: request with api token', 'upgrade_app',
    auth.jwt_verify((upgrade_check.response('fill: api token')).body), NULL);
SELECT upgrade_check.expect_ok(label) FROM upgrade_check.request(
    'updated: request with expiring api token', 'upgrade_app',
    auth.jwt_verify((upgrade_check.response('fill: expiring api token')).body), NULL);
SELECT upgrade_check.expect_refused(label, 'PT401') FROM upgrade_check.request(
    'updated: request with revoked api token', 'upgrade_app',
    auth.jwt_verify((upgrade_check.response('fill: revoked api token')).body), NULL);
SELECT upgrade_check.expect_ok(label) FROM upgrade_check.request(
    'updated: request with a JWT exchanged before the update', 'upgrade_app',
    auth.jwt_verify((upgrade_check.response('old schema: exchange api key')).body::jsonb ->> 'access_token'), NULL);
SELECT upgrade_check.expect_ok(label) FROM upgrade_check.request(
    'updated: exchange api key', 'upgrade_anon', :'anon',
    format('SELECT auth.exchange_api_key(%L)', (upgrade_check.response('fill: api key')).body));
SELECT upgrade_check.expect_refused(label, 'PT401') FROM upgrade_check.request(
    'updated: exchange disabled api key', 'upgrade_anon', :'anon',
    format('SELECT auth.exchange_api_key(%L)', (upgrade_check.response('fill: disabled api key')).body));

-- And new ones.
SELECT upgrade_check.expect_session(label) FROM upgrade_check.request(
    'updated: login alice', 'upgrade_anon', :'anon', $$SELECT auth.login('alice', 'alice password')$$);
SELECT upgrade_check.expect(
    auth.jwt_verify(auth.jwt_sign('{"sub": "upgrade", "role": "upgrade_app"}')) ->> 'sub' = 'upgrade',
    'updated: jwt_sign / jwt_verify round trip');
