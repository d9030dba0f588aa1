-- Sessions: login, refresh-token rotation with reuse detection, logout, failed-login throttling.
-- Called as PostgREST RPC (POST /rpc/login ...). As PostgREST runs a request (docs/postgrest.md), a raised
-- error rolls the whole request back and drops response.headers, so the flows that must keep a
-- write while answering an error (a failed login's record, a session revoked for token reuse)
-- answer through response.status and a JSON body instead of raising.

-- A session is live iff revoked_at IS NULL AND expires_at > now(). expires_at moves forward to
-- the newest refresh token's expiry at each rotation (a sliding session); auth.check_request and
-- auth.change_password rely on this definition.
CREATE TABLE auth.sessions (
    id           uuid        PRIMARY KEY DEFAULT pg_catalog.gen_random_uuid(),
    username     text        NOT NULL REFERENCES auth.users (username)
                                 ON DELETE CASCADE ON UPDATE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    refreshed_at timestamptz,
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz
);
CREATE INDEX sessions_username_idx ON auth.sessions (username);
COMMENT ON TABLE auth.sessions IS
    'Login sessions; live iff revoked_at IS NULL AND expires_at > now(). The access token''s sid is the id.';

-- A SHA-256 digest: 32 bytes. A domain rather than a CHECK on the table: PostgreSQL rebuilds a
-- table's CHECK expressions in every statement that writes the table and evaluates them on every
-- row written (the UPDATE that spends a token included), while a domain's check comes prepared from
-- the type cache and runs only where a value is stored into the column. Same guarantee, same
-- SQLSTATE (23514), off the refresh path's hot statements.
CREATE DOMAIN auth.sha256_digest AS bytea
    CHECK (pg_catalog.octet_length(VALUE) OPERATOR(pg_catalog.=) 32);

-- Refresh tokens, stored only as SHA-256 of the token text. Each rotation spends a token
-- (spent_at) and inserts its successor in the same session; a session has at most one unspent one.
CREATE TABLE auth.refresh_tokens (
    id         uuid        PRIMARY KEY DEFAULT pg_catalog.gen_random_uuid(),
    session_id uuid        NOT NULL REFERENCES auth.sessions (id) ON DELETE CASCADE,
    token_hash auth.sha256_digest NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    expires_at timestamptz NOT NULL,
    spent_at   timestamptz
);
CREATE INDEX refresh_tokens_session_idx ON auth.refresh_tokens (session_id);
COMMENT ON TABLE auth.refresh_tokens IS
    'Refresh tokens as SHA-256 hashes; spent_at is set when the token is rotated.';

-- One row per failed login, kept for auth.lockout_window. username is the name as typed, cut to
-- 257 characters (longer names cannot exist, and the cut keeps index entries small).
CREATE TABLE auth.login_failures (
    id        uuid        PRIMARY KEY DEFAULT pg_catalog.gen_random_uuid(),
    username  text        NOT NULL,
    failed_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
CREATE INDEX login_failures_username_idx ON auth.login_failures (username, failed_at);
CREATE INDEX login_failures_failed_at_idx ON auth.login_failures (failed_at);
COMMENT ON TABLE auth.login_failures IS
    'Failed logins within auth.lockout_window, for throttling (HTTP 429).';

SELECT pg_catalog.pg_extension_config_dump('auth.sessions', '');
SELECT pg_catalog.pg_extension_config_dump('auth.refresh_tokens', '');
SELECT pg_catalog.pg_extension_config_dump('auth.login_failures', '');

-- auth._add_response_headers(jsonb), auth._clear_session_cookies() and
-- auth._session_response(uuid, text, name, text) are Rust (src/sessions.rs): the last one is the
-- whole answer of a successful login or refresh (access token, cookies, Cache-Control, result).

-- An error answer that does not roll the request back: sets response.status and returns the
-- body PostgREST would have sent for a raised error of SQLSTATE PT<status>.
CREATE FUNCTION auth._error_response(status integer, message text) RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM pg_catalog.set_config('response.status', status::text, true);
    RETURN pg_catalog.jsonb_build_object(
        'code', 'PT' || status::text, 'message', message, 'details', NULL, 'hint', NULL);
END
$$;

-- Starts a session: the session row, its first refresh token, the cookies, the result.
CREATE FUNCTION auth._start_session(username text, role name) RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_ttl interval := pg_catalog.make_interval(secs => auth._setting('refresh_token_ttl')::integer);
    v_session uuid;
    v_refresh text := auth._new_refresh_token();
BEGIN
    INSERT INTO auth.sessions (username, expires_at)
    VALUES ($1, pg_catalog.now() + v_ttl)
    RETURNING id INTO v_session;
    INSERT INTO auth.refresh_tokens (session_id, token_hash, expires_at)
    VALUES (v_session, pg_catalog.sha256(pg_catalog.convert_to(v_refresh, 'UTF8')),
            pg_catalog.now() + v_ttl);
    RETURN auth._session_response(v_session, $1, $2, v_refresh);
END
$$;

-- POST /rpc/login {"username": ..., "password": ...}
--
-- Success: HTTP 200, the access_token and refresh_token cookies in response.headers, and
--   {"username", "role", "expires_at" (the access token's exp), "expires_in"} (+ "token_type",
--   "access_token", "refresh_token" when auth.tokens_in_body is on). Any failure record of the
--   username is cleared; a hash of lower cost than auth.bcrypt_cost is re-hashed.
-- Wrong password or unknown user: NOT raised. response.status = 401 and the body
--   {"code": "PT401", "message": "Invalid user or password", ...}; the failure is recorded and the
--   transaction commits. Unknown users cost one bcrypt of a dummy hash, like known ones.
-- Throttled: when the username has auth.max_failed_logins failures within auth.lockout_window,
--   response.status = 429, a Retry-After header (seconds until the oldest of those failures leaves
--   the window) and {"code": "PT429", ...}, without checking the password. Unknown usernames are
--   throttled alike, so a 429 says nothing about existence. Refused attempts are not recorded.
-- Bad arguments (NULL, empty or over-72-byte password): raised, SQLSTATE 22023 (HTTP 400).
-- Attempts for one username are serialized (a transaction-level advisory lock on a hash of the
-- username), so parallel guesses cannot slip past the failure count.
CREATE FUNCTION auth.login(username text, password text) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_key text;
    v_window interval := pg_catalog.make_interval(secs => auth._setting('lockout_window')::integer);
    v_max integer := auth._setting('max_failed_logins')::integer;
    v_nth timestamptz;
    v_user record;
BEGIN
    IF $1 IS NULL OR $2 IS NULL THEN
        RAISE SQLSTATE '22023' USING MESSAGE = 'username and password must not be NULL';
    END IF;
    PERFORM auth._check_password($2);
    v_key := pg_catalog.left($1, 257);
    PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended('auth.login:' || v_key, 0));

    SELECT f.failed_at INTO v_nth
    FROM auth.login_failures f
    WHERE f.username = v_key AND f.failed_at > pg_catalog.now() - v_window
    ORDER BY f.failed_at DESC
    OFFSET v_max - 1 LIMIT 1;
    IF FOUND THEN
        PERFORM auth._add_response_headers(pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
            'Retry-After',
            greatest(1, pg_catalog.ceil(pg_catalog.date_part('epoch',
                v_nth + v_window - pg_catalog.now())))::bigint::text)));
        RETURN auth._error_response(429, 'Too many failed logins, try again later');
    END IF;

    SELECT u.username, u.password, u.role INTO v_user FROM auth.users u WHERE u.username = $1;
    IF NOT auth._login_password_matches($2, v_user.password) THEN
        INSERT INTO auth.login_failures (username, failed_at) VALUES (v_key, pg_catalog.now());
        DELETE FROM auth.login_failures f WHERE f.failed_at <= pg_catalog.now() - v_window;
        RETURN auth._error_response(401, 'Invalid user or password');
    END IF;

    IF auth._password_needs_rehash(v_user.password) THEN
        UPDATE auth.users u SET password = auth.hash_password($2) WHERE u.username = v_user.username;
    END IF;
    DELETE FROM auth.login_failures f WHERE f.username = v_key;
    RETURN auth._start_session(v_user.username, v_user.role);
END
$$;
COMMENT ON FUNCTION auth.login(text, text) IS
    'Logs in: sets the access_token and refresh_token cookies; 401 "Invalid user or password" and 429 through response.status.';

-- The answer to a refused refresh: 401 through response.status, both cookies cleared.
CREATE FUNCTION auth._refresh_refused() RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM auth._clear_session_cookies();
    RETURN auth._error_response(401, 'Invalid or expired refresh token');
END
$$;

-- POST /rpc/refresh_token (the refresh_token cookie) or {"token": ...} (non-browser clients; the
-- argument wins over the cookie).
--
-- A live, unspent token: it is spent, a successor is issued in the same session (whose expiry
--   moves to the successor's), both cookies are set again; result as for login.
-- A token spent less than auth.refresh_reuse_interval ago (two tabs refreshing at once): a new
--   access token (access cookie only) and "refresh_token": null in the body; the refresh cookie
--   the first refresh set stays the one live token.
-- A token spent longer ago (reuse: a copy was stolen, or replayed): the whole session is revoked
--   and the answer is 401. Not raised, so the revocation commits.
-- No token, unknown, expired, or its session revoked or expired: 401.
-- Every 401 here is response.status = 401, the body {"code": "PT401", "message": "Invalid or
-- expired refresh token", ...} and both cookies cleared.
-- A token is spent by one UPDATE ... WHERE spent_at IS NULL, which locks its row (as SELECT ...
-- FOR UPDATE would) and re-checks the condition on the row's latest version after waiting: of two
-- concurrent refreshes of one token the second waits for the first, then finds it spent and takes
-- the grace-window answer. Never two live refresh tokens. The session row is locked too (by its
-- UPDATE) before a successor is issued, so a concurrent logout either waits for the rotation or
-- makes it refuse. A live token whose session has ended is spent and refused (it was dead anyway).
--
-- This is the hot path of every browser session (once per access token lifetime), so a rotation
-- is three statements: spend the token, slide the session's expiry (checking that the session is
-- live and reading the user's role in the same UPDATE), insert the successor; the answer (access
-- token, cookies, result) is one Rust call.
CREATE FUNCTION auth.refresh_token(token text DEFAULT NULL) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_token text := coalesce(nullif($1, ''), auth._request_cookie('refresh_token'));
    v_hash bytea;
    v_session uuid;
    v_spent_at timestamptz;
    v_username text;
    v_role name;
    v_expires_at timestamptz;
    v_new text;
BEGIN
    IF v_token IS NULL THEN
        RETURN auth._refresh_refused();
    END IF;
    v_hash := pg_catalog.sha256(pg_catalog.convert_to(v_token, 'UTF8'));
    UPDATE auth.refresh_tokens rt SET spent_at = pg_catalog.now()
    WHERE rt.token_hash = v_hash AND rt.spent_at IS NULL AND rt.expires_at > pg_catalog.now()
    RETURNING rt.session_id INTO v_session;
    IF FOUND THEN
        -- Rotation. The session must be live; its expiry moves to the successor's.
        UPDATE auth.sessions s
        SET expires_at = pg_catalog.now()
                + pg_catalog.make_interval(secs => auth._setting('refresh_token_ttl')::integer),
            refreshed_at = pg_catalog.now()
        FROM auth.users u
        WHERE s.id = v_session AND s.revoked_at IS NULL AND s.expires_at > pg_catalog.now()
          AND u.username = s.username
        RETURNING s.username, u.role, s.expires_at INTO v_username, v_role, v_expires_at;
        IF NOT FOUND THEN
            RETURN auth._refresh_refused();
        END IF;
        v_new := auth._new_refresh_token();
        INSERT INTO auth.refresh_tokens (session_id, token_hash, expires_at)
        VALUES (v_session, pg_catalog.sha256(pg_catalog.convert_to(v_new, 'UTF8')), v_expires_at);
        RETURN auth._session_response(v_session, v_username, v_role, v_new);
    END IF;

    -- Unknown, expired, or spent: only a spent, unexpired token of a live session goes on, to the
    -- grace window or to reuse detection.
    SELECT rt.session_id, rt.spent_at INTO v_session, v_spent_at
    FROM auth.refresh_tokens rt
    WHERE rt.token_hash = v_hash AND rt.spent_at IS NOT NULL AND rt.expires_at > pg_catalog.now();
    IF NOT FOUND THEN
        RETURN auth._refresh_refused();
    END IF;
    SELECT s.username, u.role INTO v_username, v_role
    FROM auth.sessions s JOIN auth.users u ON u.username = s.username
    WHERE s.id = v_session AND s.revoked_at IS NULL AND s.expires_at > pg_catalog.now()
    FOR NO KEY UPDATE OF s;
    IF NOT FOUND THEN
        RETURN auth._refresh_refused();
    END IF;
    IF pg_catalog.now() < v_spent_at
            + pg_catalog.make_interval(secs => auth._setting('refresh_reuse_interval')::integer) THEN
        RETURN auth._session_response(v_session, v_username, v_role, NULL);
    END IF;
    UPDATE auth.sessions s SET revoked_at = pg_catalog.now() WHERE s.id = v_session;
    RETURN auth._refresh_refused();
END
$$;
COMMENT ON FUNCTION auth.refresh_token(text) IS
    'Rotates the refresh token (cookie or argument) and sets both cookies; reuse after auth.refresh_reuse_interval revokes the session; 401 through response.status.';

-- POST /rpc/logout, or {"scope": "global"}.
--
-- Clears both cookies (empty value, Max-Age=0) and revokes the session(s) the request proves it
-- holds, found from any of: the refresh_token cookie, the sid of request.jwt.claims, the
-- access_token cookie (signature checked, expiry not: an expired access token still ends its
-- session). 'local' revokes those sessions; 'global' every session of their users. Always
-- succeeds (HTTP 204) once the scope is valid, also when no session is found; a bad or NULL
-- scope raises 22023.
CREATE FUNCTION auth.logout(scope text DEFAULT 'local') RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_sids uuid[] := '{}';
    v_cookie text;
    v_sid uuid;
BEGIN
    IF $1 IS NULL OR $1 NOT IN ('local', 'global') THEN
        RAISE SQLSTATE '22023' USING MESSAGE = 'scope must be ''local'' or ''global''';
    END IF;

    v_cookie := auth._request_cookie('refresh_token');
    IF v_cookie IS NOT NULL THEN
        SELECT rt.session_id INTO v_sid FROM auth.refresh_tokens rt
        WHERE rt.token_hash = pg_catalog.sha256(pg_catalog.convert_to(v_cookie, 'UTF8'));
        v_sids := v_sids || v_sid;
    END IF;
    v_sids := v_sids || auth._to_uuid(auth.claims() ->> 'sid');
    v_cookie := auth._request_cookie('access_token');
    IF v_cookie IS NOT NULL THEN
        v_sids := v_sids || auth._to_uuid(auth._signed_claims_ignoring_time(v_cookie) ->> 'sid');
    END IF;

    IF $1 = 'local' THEN
        UPDATE auth.sessions s SET revoked_at = pg_catalog.now()
        WHERE s.id = ANY (v_sids) AND s.revoked_at IS NULL;
    ELSE
        UPDATE auth.sessions s SET revoked_at = pg_catalog.now()
        WHERE s.revoked_at IS NULL
          AND s.username IN (SELECT o.username FROM auth.sessions o WHERE o.id = ANY (v_sids));
    END IF;
    PERFORM auth._clear_session_cookies();
END
$$;
COMMENT ON FUNCTION auth.logout(text) IS
    'Clears the session cookies and revokes the current session (''local'') or all sessions of its user (''global'').';

-- Revokes every live session of a user (for administrators, e.g. after resetting a password by
-- UPDATE auth.users). Returns how many sessions it revoked.
CREATE FUNCTION auth.revoke_user_sessions(username text) RETURNS integer
LANGUAGE plpgsql VOLATILE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_count integer;
BEGIN
    UPDATE auth.sessions s SET revoked_at = pg_catalog.now()
    WHERE s.username = $1 AND s.revoked_at IS NULL;
    GET DIAGNOSTICS v_count = ROW_COUNT;
    RETURN v_count;
END
$$;

-- Housekeeping (run it from cron or pg_cron as the extension owner): deletes sessions that ended
-- (revoked or expired) more than `older_than` ago with their refresh tokens, refresh tokens expired
-- more than `older_than` ago, and failed logins outside auth.lockout_window. Returns the number of
-- sessions deleted. A deleted session is as dead as a revoked one for every check.
CREATE FUNCTION auth.purge_sessions(older_than interval DEFAULT '7 days') RETURNS integer
LANGUAGE plpgsql VOLATILE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_cutoff timestamptz := pg_catalog.now() - $1;
    v_count integer;
BEGIN
    DELETE FROM auth.sessions s
    WHERE least(s.revoked_at, s.expires_at) < v_cutoff;
    GET DIAGNOSTICS v_count = ROW_COUNT;
    DELETE FROM auth.refresh_tokens rt WHERE rt.expires_at < v_cutoff;
    DELETE FROM auth.login_failures f
    WHERE f.failed_at <= pg_catalog.now()
        - pg_catalog.make_interval(secs => auth._setting('lockout_window')::integer);
    RETURN v_count;
END
$$;

-- One call to set up PostgREST's roles: USAGE on schema auth, and EXECUTE on
--   login, refresh_token, logout                          for the anonymous role;
--   refresh_token, logout, change_password               for each authenticated role
-- (refresh_token too, because a client that sends its access token in Authorization runs as that
-- role). Neither may be PUBLIC. Run as the extension owner (a superuser).
CREATE FUNCTION auth.grant_session_access(anon_role name, authenticated_roles name[] DEFAULT '{}')
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_role name;
BEGIN
    IF $1 IS NULL AND coalesce(pg_catalog.cardinality($2), 0) = 0 THEN
        RAISE SQLSTATE '22023' USING MESSAGE = 'name an anonymous role or authenticated roles';
    END IF;
    IF $1 IS NOT NULL THEN
        IF pg_catalog.lower($1) = 'public' THEN
            RAISE SQLSTATE '22023' USING MESSAGE = 'grant_session_access does not grant to PUBLIC';
        END IF;
        EXECUTE pg_catalog.format('GRANT USAGE ON SCHEMA auth TO %I', $1);
        EXECUTE pg_catalog.format(
            'GRANT EXECUTE ON FUNCTION auth.login(text, text), auth.refresh_token(text), auth.logout(text) TO %I', $1);
    END IF;
    FOREACH v_role IN ARRAY coalesce($2, '{}') LOOP
        IF v_role IS NULL OR pg_catalog.lower(v_role) = 'public' THEN
            RAISE SQLSTATE '22023' USING MESSAGE = 'authenticated_roles must name roles (not NULL, not PUBLIC)';
        END IF;
        EXECUTE pg_catalog.format('GRANT USAGE ON SCHEMA auth TO %I', v_role);
        EXECUTE pg_catalog.format(
            'GRANT EXECUTE ON FUNCTION auth.refresh_token(text), auth.logout(text), auth.change_password(text, text) TO %I',
            v_role);
    END LOOP;
END
$$;
COMMENT ON FUNCTION auth.grant_session_access(name, name[]) IS
    'Grants PostgREST''s anonymous role login/refresh_token/logout and authenticated roles refresh_token/logout/change_password.';
