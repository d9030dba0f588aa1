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
-- cost more than the whole check; it only reads a setting and calls one schema-qualified
-- function, so that nothing resolves through the caller's search_path.
-- auth_private._may_carry_markers is auth_core::credentials::may_carry_markers, the test the
-- fuzzer proves sound: PostgREST writes claims with Aeson, which never escapes letters, so a
-- marker is always spelled out literally; a marker name inside a value only costs the slow path.
CREATE FUNCTION auth.check_request() RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    claims text := pg_catalog.current_setting('request.jwt.claims', true);
BEGIN
    IF claims IS NULL OR NOT auth_private._may_carry_markers(claims) THEN
        RETURN;
    END IF;
    PERFORM auth_private._check_request_credentials(claims);
END
$$;
COMMENT ON FUNCTION auth.check_request() IS
    'PostgREST db-pre-request hook: refuses (PT401) revoked/expired API tokens and keys, ended sessions, and API credentials without the proxy secret.';

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
-- the authenticated roles, the roles of API tokens and keys) calls it on each request.
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
            'GRANT EXECUTE ON FUNCTION auth.check_request(), auth_private._check_request_credentials(text) TO %I', r);
    END LOOP;
END
$$;
COMMENT ON FUNCTION auth.grant_request_check(name[]) IS
    'Grants EXECUTE on auth.check_request (and its private slow path) to the given roles.';
