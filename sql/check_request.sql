-- auth.check_request(): PostgREST's db-pre-request hook (`db-pre-request = "auth.check_request"`).
-- PostgREST calls it before every request, after setting request.jwt.claims, so it must be cheap
-- and must never refuse a request it has no reason to refuse:
--   * claims without `tid`, `sid` or `key_id` (anonymous requests, ordinary JWTs): return at
--     once, after one read of request.jwt.claims and three substring tests;
--   * `tid` (API token): the row in auth.api_tokens must exist, be unrevoked and unexpired;
--   * `key_id` (JWT from exchange_api_key): the key must exist, be enabled and unexpired;
--   * `sid` (login session), when auth.check_sessions is on: the session must be live
--     (auth_private._live: not revoked, expired or timed out);
--   * with auth.proxy_secret set, `tid` and `key_id` requests must carry it in x-proxy-secret.
-- Every refusal is PT401 (HTTP 401). last_used_at (a session's last_seen_at) is recorded at most
-- once a minute per credential, never in a READ ONLY transaction (GET, HEAD) and never blocking on
-- a row lock.

-- The fast path, run by every request. SECURITY INVOKER and without a SET clause, which would
-- cost more than the whole check; it only reads a setting and calls schema-qualified functions,
-- so that nothing resolves through the caller's search_path.
-- auth_private._may_carry_markers is auth_core::credentials::may_carry_markers, the test the
-- fuzzer proves sound: PostgREST writes claims with Aeson, which never escapes letters, so a
-- marker is always spelled out literally; a marker name inside a value only costs the slow path.
-- Claims without markers may be an anonymous request with the access cookie: with
-- auth.cookie_auth on, auth_private._cookie_claims verifies the cookie's token (NULL at once when
-- the setting is off, the request has a token, or there is no cookie) and
-- auth_private._cookie_role checks its session and role and the cross-site rule; then the hook
-- switches to that role, as PostgREST switches to a bearer token's, with the verified claims and
-- the role's settings. It must stay SECURITY INVOKER for that: PostgreSQL refuses to set `role`
-- inside a SECURITY DEFINER function.
CREATE FUNCTION auth.check_request() RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    claims text := pg_catalog.current_setting('request.jwt.claims', true);
    verified text;
    switch_to name;
    k text;
    v text;
BEGIN
    IF claims IS NULL OR NOT auth_private._may_carry_markers(claims) THEN
        verified := auth_private._cookie_claims(claims);
        IF verified IS NULL THEN
            RETURN;
        END IF;
        switch_to := auth_private._cookie_role(verified);
        IF switch_to IS NULL THEN
            RETURN;
        END IF;
        PERFORM pg_catalog.set_config('role', switch_to, true);
        PERFORM pg_catalog.set_config('request.jwt.claims', verified, true);
        FOR k, v IN SELECT s.name, s.value FROM auth_private._role_settings(switch_to) AS s LOOP
            PERFORM pg_catalog.set_config(k, v, true);
        END LOOP;
        RETURN;
    END IF;
    PERFORM auth_private._check_request_credentials(claims);
END
$$;
COMMENT ON FUNCTION auth.check_request() IS
    'PostgREST db-pre-request hook: refuses (PT401) revoked/expired API tokens and keys, ended sessions, and API credentials without the proxy secret; with auth.cookie_auth, authenticates by the access cookie (cross-site writes PT403).';

-- The roles auth.grant_request_check enabled: the roles PostgREST may switch to, and the only
-- roles cookie authentication switches to.
CREATE TABLE auth.request_roles (
    role       name        PRIMARY KEY,
    granted_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE auth.request_roles IS
    'Roles auth.grant_request_check enabled; cookie authentication switches only to these.';
SELECT pg_catalog.pg_extension_config_dump('auth.request_roles', '');

-- The second half of cookie authentication (the first is auth_private._cookie_claims, which
-- verified the token): the role to switch to, or NULL to leave the request anonymous. The role is
-- the one auth.users holds for the session's user now, and only when
--   * the session (sid) is live (auth_private._live) and belongs to the token's user (sub);
--   * the token's role claim is that role (a token minted before a role change is not used: the
--     next refresh issues one with the new role);
--   * auth.grant_request_check enabled the role (auth.request_roles);
--   * the authenticator (the session user, which PostgREST logs in as) is a member of it.
-- Then the cross-site rule (auth_private._require_same_origin(true)): PT403 for a write that does
-- not come from the site's own pages, before the request runs.
CREATE FUNCTION auth_private._cookie_role(claims text) RETURNS name
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_claims jsonb := $1::jsonb;
    v_role name;
BEGIN
    SELECT u.role INTO v_role
    FROM auth.sessions s JOIN auth.users u ON u.username = s.username
    WHERE s.id = auth_private._to_uuid(v_claims ->> 'sid')
      AND s.username = v_claims ->> 'sub'
      AND u.role = v_claims ->> 'role'
      AND auth_private._live(s)
      AND EXISTS (SELECT FROM auth.request_roles e WHERE e.role = u.role)
      AND pg_catalog.pg_has_role(session_user, u.role, 'MEMBER');
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    PERFORM auth_private._require_same_origin(true);
    RETURN v_role;
END
$$;

-- The settings PostgREST 12 applies for a role it switches to (its queryRoleSettings, read at
-- start-up and replayed with set_config for every request of that role): the role's settings for
-- every database (ALTER ROLE ... SET, pg_db_role_setting with setdatabase = 0), when the session
-- user (the authenticator) is a direct member of the role, of parameters a user may set or the
-- authenticator was granted SET on; default_transaction_isolation excluded (PostgREST uses it
-- for BEGIN, which the hook comes too late for). plpgsql, so that the query's plan is kept for the
-- session: planned at every call, as a SQL function's would be, it costs more than the rest of
-- the hook.
CREATE FUNCTION auth_private._role_settings(role name, OUT name text, OUT value text)
RETURNS SETOF record
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN QUERY
    SELECT kv.key, kv.value
    FROM (
        SELECT pg_catalog.substr(c.setting, 1, pg_catalog.strpos(c.setting, '=') - 1) AS key,
               pg_catalog.substr(c.setting, pg_catalog.strpos(c.setting, '=') + 1) AS value
        FROM pg_catalog.pg_db_role_setting d
        JOIN pg_catalog.pg_roles r ON r.oid = d.setrole
        CROSS JOIN LATERAL pg_catalog.unnest(d.setconfig) AS c(setting)
        WHERE r.rolname = $1 AND d.setdatabase = 0
          AND EXISTS (SELECT FROM pg_catalog.pg_auth_members m
                      WHERE m.roleid = d.setrole
                        AND m.member = (SELECT a.oid FROM pg_catalog.pg_roles a WHERE a.rolname = session_user))
    ) AS kv
    WHERE kv.key <> 'default_transaction_isolation'
      AND ((SELECT ps.context FROM pg_catalog.pg_settings ps WHERE ps.name = kv.key) = 'user'
           OR pg_catalog.has_parameter_privilege(session_user, kv.key, 'SET'));
END
$$;

-- The cross-site request rule (CSRF), once for every caller: auth.check_request for a request it
-- authenticates by the access cookie (cookie_authenticated), and login, refresh_token and logout
-- for requests a browser sends (a cookie, Sec-Fetch-Site or Origin). With auth.cookie_auth on, a
-- request that is not GET, HEAD or OPTIONS must carry Sec-Fetch-Site: same-origin (or same-site
-- with auth.csrf_allow_same_site) or, without that header, an Origin listed in
-- auth.allowed_origins; otherwise PT403 (HTTP 403), raised before anything is done. The rule is
-- auth_core::request::cross_site_refusal (auth_private._cross_origin_refusal).
CREATE FUNCTION auth_private._require_same_origin(cookie_authenticated boolean DEFAULT false)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_refusal text := auth_private._cross_origin_refusal($1);
BEGIN
    IF v_refusal IS NOT NULL THEN
        RAISE SQLSTATE 'PT403' USING MESSAGE = v_refusal;
    END IF;
END
$$;

-- The slow path: lookups of the credentials the claims name. In schema auth_private, which
-- PostgREST never exposes: it is not an API (over HTTP it would be a liveness oracle).
CREATE FUNCTION auth_private._check_request_credentials(claims text) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    m     record;
    r     record;
BEGIN
    SELECT * INTO m FROM auth_private._claim_markers(claims);
    IF m.refused IS NOT NULL THEN
        RAISE SQLSTATE 'PT401' USING MESSAGE = 'invalid credentials: ' || m.refused;
    END IF;

    IF (m.tid IS NOT NULL OR m.key_id IS NOT NULL) AND NOT auth_private._proxy_secret_ok() THEN
        RAISE SQLSTATE 'PT401' USING MESSAGE = 'API credentials are accepted only through the API gateway';
    END IF;

    IF m.tid IS NOT NULL THEN
        SELECT t.revoked_at, t.expires_at, t.last_used_at INTO r
        FROM auth.api_tokens AS t WHERE t.id = m.tid;
        IF NOT FOUND OR r.revoked_at IS NOT NULL OR r.expires_at <= pg_catalog.now() THEN
            RAISE SQLSTATE 'PT401' USING MESSAGE = 'API token revoked, expired or unknown';
        END IF;
        PERFORM auth_private._record_use('token', m.tid, r.last_used_at);
    END IF;

    IF m.key_id IS NOT NULL THEN
        SELECT a.enabled, a.expires_at, a.last_used_at INTO r
        FROM auth.api_keys AS a WHERE a.id = m.key_id;
        IF NOT FOUND OR NOT r.enabled OR r.expires_at <= pg_catalog.now() THEN
            RAISE SQLSTATE 'PT401' USING MESSAGE = 'API key disabled, expired or unknown';
        END IF;
        PERFORM auth_private._record_use('key', m.key_id, r.last_used_at);
    END IF;

    IF m.sid IS NOT NULL AND auth_private._setting('check_sessions')::boolean THEN
        SELECT s.last_seen_at INTO r FROM auth.sessions AS s WHERE s.id = m.sid AND auth_private._live(s);
        IF NOT FOUND THEN
            RAISE SQLSTATE 'PT401' USING MESSAGE = 'session ended: log in again';
        END IF;
        PERFORM auth_private._record_use('session', m.sid, r.last_seen_at);
    END IF;
END
$$;

-- Lets PostgREST's roles run the hook: every role PostgREST switches to (the anonymous role,
-- the authenticated roles, the roles of API tokens and keys) calls it on each request. Records
-- each role in auth.request_roles: cookie authentication switches only to those.
CREATE FUNCTION auth.grant_request_check(roles name[]) RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r name;
BEGIN
    IF roles IS NULL OR pg_catalog.cardinality(roles) = 0 THEN
        RAISE SQLSTATE '22023' USING MESSAGE = 'roles must name at least one role';
    END IF;
    FOREACH r IN ARRAY roles LOOP
        IF r IS NULL THEN
            RAISE SQLSTATE '22023' USING MESSAGE = 'roles must not contain NULL';
        END IF;
        IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles AS p WHERE p.rolname = r) THEN
            RAISE SQLSTATE '23503' USING MESSAGE = pg_catalog.format('role "%s" does not exist', r);
        END IF;
        EXECUTE pg_catalog.format(
            'GRANT EXECUTE ON FUNCTION auth.check_request(), auth_private._check_request_credentials(text), '
            'auth_private._cookie_claims(text), auth_private._cookie_role(text), '
            'auth_private._role_settings(name) TO %I', r);
        INSERT INTO auth.request_roles (role) VALUES (r) ON CONFLICT DO NOTHING;
    END LOOP;
END
$$;
COMMENT ON FUNCTION auth.grant_request_check(name[]) IS
    'Grants EXECUTE on auth.check_request (and its private helpers) to the given roles and records them in auth.request_roles.';
