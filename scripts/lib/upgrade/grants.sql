-- scripts/upgrade-test.sh: the grants an installation makes once (README: PostgREST setup, API
-- tokens and keys setup). Run in the database filled under the released version, before its
-- update, and again in the fresh database of the catalog comparison, so that both hold the same
-- privileges when the update script is right.
\set ON_ERROR_STOP 1
SELECT auth.grant_session_access('upgrade_anon', ARRAY['upgrade_app']::name[]);
SELECT auth.grant_request_check(ARRAY['upgrade_anon', 'upgrade_app', 'upgrade_admin']::name[]);
-- create_api_token and create_api_key by name alone: 0.2.0 added a parameter to each.
GRANT EXECUTE ON FUNCTION
    auth.create_api_token, auth.revoke_api_token(uuid),
    auth.create_api_key,
    auth.disable_api_key(uuid), auth.enable_api_key(uuid), auth.revoke_api_key(uuid)
TO upgrade_admin;
GRANT EXECUTE ON FUNCTION auth.exchange_api_key(text) TO upgrade_anon;
