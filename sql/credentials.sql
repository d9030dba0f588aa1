-- Helpers shared by API tokens, API keys and auth.check_request. Private (privileges.sql revokes
-- them from PUBLIC); they run inside the SECURITY DEFINER flows.

-- Shared by create_api_token and create_api_key: the role a credential acts as must exist (23503)
-- and the caller — the role the session acts as after SET ROLE, as PostgREST sets it
-- (auth_private._invoking_role) — must be able to act as it: a member of it, or a superuser
-- (42501). A role granted EXECUTE on these functions mints credentials only for roles it holds.
CREATE FUNCTION auth_private._check_credential_role(role name, caller name) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF role IS NULL THEN
        RAISE SQLSTATE '22023' USING MESSAGE = 'role must not be NULL';
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles AS r WHERE r.rolname = role) THEN
        RAISE SQLSTATE '23503' USING MESSAGE = pg_catalog.format('role "%s" does not exist', role);
    END IF;
    IF caller IS NULL
       OR NOT EXISTS (SELECT FROM pg_catalog.pg_roles AS r WHERE r.rolname = caller)
       OR NOT pg_catalog.pg_has_role(caller, role, 'MEMBER') THEN
        RAISE SQLSTATE '42501' USING MESSAGE = pg_catalog.format(
            'role "%s" cannot create credentials for role "%s": it is not a member of it',
            caller, role);
    END IF;
END
$$;

-- The fields a new API token or key is created with, each rule in one place (the tables' CHECK
-- constraints use the same auth_private._valid_* functions): 22023 naming the field. NULLs pass
-- (the caller decides which are required).
CREATE FUNCTION auth_private._check_credential_fields(name text, plan text, expires_at timestamptz)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF $1 IS NOT NULL AND NOT auth_private._valid_credential_name($1) THEN
        RAISE SQLSTATE '22023' USING MESSAGE = 'name must be 1 to 256 characters';
    END IF;
    IF $2 IS NOT NULL AND NOT auth_private._valid_plan($2) THEN
        RAISE SQLSTATE '22023' USING
            MESSAGE = 'plan must be 1 to 64 characters among A-Z a-z 0-9 _ . : -';
    END IF;
    IF $3 IS NOT NULL AND $3 <= pg_catalog.now() THEN
        RAISE SQLSTATE '22023' USING MESSAGE = 'expires_at must be in the future';
    END IF;
END
$$;

-- Whether this transaction may record last_used_at: never in a READ ONLY transaction (PostgREST
-- runs GET and HEAD so, and a write there would fail the request), and only at READ COMMITTED,
-- where updating a row that a concurrent request just touched cannot raise a serialization error.
CREATE FUNCTION auth_private._may_record_use() RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT pg_catalog.current_setting('transaction_read_only') = 'off'
       AND pg_catalog.current_setting('transaction_isolation') = 'read committed'
$$;

-- Records that an API token ('token'), API key ('key') or login session ('session') was used, the
-- one rule for last_used_at (a session's last_seen_at): at most once a minute (`seen` is the
-- value the caller read), only when auth_private._may_record_use(), and never waiting for a row
-- lock (a concurrent request that holds it records the same minute).
CREATE FUNCTION auth_private._record_use(kind text, id uuid, seen timestamptz) RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_stale timestamptz := pg_catalog.now() - interval '1 minute';
BEGIN
    IF (seen IS NOT NULL AND seen > v_stale) OR NOT auth_private._may_record_use() THEN
        RETURN;
    END IF;
    IF kind = 'token' THEN
        UPDATE auth.api_tokens AS t SET last_used_at = pg_catalog.now()
        WHERE t.id = (SELECT u.id FROM auth.api_tokens AS u
                      WHERE u.id = $2 AND (u.last_used_at IS NULL OR u.last_used_at <= v_stale)
                      FOR UPDATE SKIP LOCKED);
    ELSIF kind = 'key' THEN
        UPDATE auth.api_keys AS a SET last_used_at = pg_catalog.now()
        WHERE a.id = (SELECT b.id FROM auth.api_keys AS b
                      WHERE b.id = $2 AND (b.last_used_at IS NULL OR b.last_used_at <= v_stale)
                      FOR UPDATE SKIP LOCKED);
    ELSIF kind = 'session' THEN
        UPDATE auth.sessions AS s SET last_seen_at = pg_catalog.now()
        WHERE s.id = (SELECT o.id FROM auth.sessions AS o
                      WHERE o.id = $2 AND o.last_seen_at <= v_stale
                      FOR NO KEY UPDATE SKIP LOCKED);
    ELSE
        RAISE SQLSTATE '22023' USING MESSAGE = 'kind must be ''token'', ''key'' or ''session''';
    END IF;
END
$$;

-- The proxy-secret rule, once: with auth.proxy_secret set, a request authenticated by an API
-- credential must carry it in x-proxy-secret (compared in constant time). True when the request
-- may go on.
CREATE FUNCTION auth_private._proxy_secret_ok() RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT NOT auth_private._setting('proxy_secret_set')::boolean
        OR auth_private._proxy_secret_matches(auth_private._request_header('x-proxy-secret'))
$$;
