-- scripts/upgrade-test.sh, step 3: a database in use under the released version. PostgREST's
-- roles, users, sessions (one refreshed, one logged out), failed logins, API tokens (one revoked)
-- and API keys (one disabled), each made the way an application makes it: the flows run as
-- PostgREST runs them (upgrade_check.request), credentials are minted by an admin role.
-- Later steps find every token and cookie by its label in upgrade_check.responses.
\set ON_ERROR_STOP 1
CREATE ROLE upgrade_anon NOLOGIN;
CREATE ROLE upgrade_app NOLOGIN;
CREATE ROLE upgrade_admin NOLOGIN;
CREATE ROLE upgrade_authenticator LOGIN NOINHERIT;
GRANT upgrade_anon, upgrade_app, upgrade_admin TO upgrade_authenticator;
\ir grants.sql

INSERT INTO auth.users (username, password, role) VALUES
    ('alice', 'alice password', 'upgrade_app'),
    ('bob', 'bob password', 'upgrade_app'),
    ('carol', 'carol password', 'upgrade_app');

\set anon '{"role":"upgrade_anon"}'
\set admin '{"role":"upgrade_admin"}'

-- Sessions: alice logs in and refreshes; bob logs in, then someone fails to log in as bob and as
-- an unknown user; carol logs in and out.
SELECT upgrade_check.expect_session(label) FROM upgrade_check.request(
    'fill: login alice', 'upgrade_anon', :'anon', $$SELECT auth.login('alice', 'alice password')$$);
SELECT upgrade_check.expect_session(label) FROM upgrade_check.request(
    'fill: refresh alice', 'upgrade_anon', :'anon', $$SELECT auth.refresh_token()$$,
    jsonb_build_object('refresh_token', (upgrade_check.response('fill: login alice')).refresh_cookie));
SELECT upgrade_check.expect_session(label) FROM upgrade_check.request(
    'fill: login bob', 'upgrade_anon', :'anon', $$SELECT auth.login('bob', 'bob password')$$);
SELECT upgrade_check.expect_refused(label, 'PT401') FROM upgrade_check.request(
    'fill: failed login bob', 'upgrade_anon', :'anon', $$SELECT auth.login('bob', 'not bob''s password')$$);
SELECT upgrade_check.expect_refused(label, 'PT401') FROM upgrade_check.request(
    'fill: failed login mallory', 'upgrade_anon', :'anon', $$SELECT auth.login('mallory', 'a guess')$$);
SELECT upgrade_check.expect_session(label) FROM upgrade_check.request(
    'fill: login carol', 'upgrade_anon', :'anon', $$SELECT auth.login('carol', 'carol password')$$);
SELECT upgrade_check.expect_ok(label) FROM upgrade_check.request(
    'fill: logout carol', 'upgrade_app',
    auth.jwt_verify((upgrade_check.response('fill: login carol')).access_cookie),
    $$SELECT auth.logout()$$,
    jsonb_build_object('refresh_token', (upgrade_check.response('fill: login carol')).refresh_cookie));

-- API tokens, minted by the admin role: one plain, one expiring with extra claims, one revoked.
SELECT upgrade_check.expect_ok(label) FROM upgrade_check.request(
    'fill: api token', 'upgrade_admin', :'admin',
    $$SELECT auth.create_api_token('upgrade token', 'upgrade_app')$$);
SELECT upgrade_check.expect_ok(label) FROM upgrade_check.request(
    'fill: expiring api token', 'upgrade_admin', :'admin',
    $$SELECT auth.create_api_token('expiring token', 'upgrade_app', now() + interval '30 days', '{"plan": "gold"}')$$);
SELECT upgrade_check.expect_ok(label) FROM upgrade_check.request(
    'fill: revoked api token', 'upgrade_admin', :'admin',
    $$SELECT auth.create_api_token('revoked token', 'upgrade_app')$$);
SELECT upgrade_check.expect_ok(label) FROM upgrade_check.request(
    'fill: revoke api token', 'upgrade_admin', :'admin',
    format('SELECT auth.revoke_api_token(%L)',
           auth.jwt_verify((upgrade_check.response('fill: revoked api token')).body) ->> 'tid'));
SELECT upgrade_check.expect_ok(label) FROM upgrade_check.request(
    'fill: request with api token', 'upgrade_app',
    auth.jwt_verify((upgrade_check.response('fill: api token')).body), NULL);

-- API keys: one in use (exchanged once), one disabled.
SELECT upgrade_check.expect_ok(label) FROM upgrade_check.request(
    'fill: api key', 'upgrade_admin', :'admin',
    $$SELECT auth.create_api_key('upgrade_app', 'gold', NULL, 'partner key')$$);
SELECT upgrade_check.expect_ok(label) FROM upgrade_check.request(
    'fill: disabled api key', 'upgrade_admin', :'admin',
    $$SELECT auth.create_api_key('upgrade_app', NULL, now() + interval '1 year', 'disabled key')$$);
SELECT upgrade_check.expect_ok(label) FROM upgrade_check.request(
    'fill: disable api key', 'upgrade_admin', :'admin',
    format('SELECT auth.disable_api_key(%L)', (SELECT id FROM auth.api_keys WHERE name = 'disabled key')));
SELECT upgrade_check.expect_ok(label) FROM upgrade_check.request(
    'fill: exchange api key', 'upgrade_anon', :'anon',
    format('SELECT auth.exchange_api_key(%L)', (upgrade_check.response('fill: api key')).body));

SELECT upgrade_check.expect(
    (SELECT count(*) FROM auth.login_failures) = 2, 'fill: two failed logins recorded');
SELECT upgrade_check.expect(
    (SELECT count(*) FROM auth.sessions WHERE revoked_at IS NOT NULL) = 1, 'fill: carol''s session revoked');

-- What the released version wrote (step 5 checks every row is still there).
SELECT format('fill: %s rows in %s', row_count, tbl) FROM upgrade_check.snapshot('filled');
