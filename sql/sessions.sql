-- Sessions: login, refresh-token rotation with reuse detection, logout, change_password,
-- failed-login throttling. Called as PostgREST RPC (POST /rpc/login ...). A raised error rolls the
-- whole request back and drops response.headers, so the flows that must keep a write while
-- answering an error (a failed password check's record, a session revoked for token reuse) answer
-- through response.status and a JSON body instead of raising.
--
-- Every flow here first calls auth_private._require_committing_transaction(): in a READ ONLY
-- transaction (GET and HEAD over PostgREST) or one the request asked to roll back
-- (Prefer: tx=rollback), each answers the same refusal (25006, HTTP 405) before it reads any
-- argument, because what it would record (a failure, a spent token) would not be kept.

-- A session is live iff revoked_at IS NULL, expires_at > now(), and neither
-- auth.session_max_lifetime (from created_at) nor auth.session_idle_timeout (from last_seen_at)
-- has passed: auth_private._live, the one definition every path uses. expires_at moves forward to
-- the newest refresh token's expiry at each rotation (a sliding session). last_seen_at is set at
-- login and by every refresh, and by the request hook at most once a minute (never in a READ ONLY
-- transaction). ended_reason says why revoked_at was set. The columns after revoked_at came with
-- 0.2.0 (an updated database appends them, so a fresh install has them last too).
CREATE TABLE auth.sessions (
    id           uuid        PRIMARY KEY DEFAULT pg_catalog.gen_random_uuid(),
    username     text        NOT NULL REFERENCES auth.users (username)
                                 ON DELETE CASCADE ON UPDATE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    refreshed_at timestamptz,
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz,
    last_seen_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    user_agent   text,
    client_ip    inet,
    method       text        NOT NULL DEFAULT 'password',
    ended_reason text
);
CREATE INDEX sessions_username_idx ON auth.sessions (username);
COMMENT ON TABLE auth.sessions IS
    'Login sessions; live iff auth_private._live (not revoked, not expired, not timed out). The access token''s sid is the id.';
COMMENT ON COLUMN auth.sessions.method IS 'How the session was started: password (login) or signup.';
COMMENT ON COLUMN auth.sessions.ended_reason IS
    'Why revoked_at was set: logout, ended_by_user, password_changed, revoked, refresh_reuse, idle_timeout, max_lifetime.';

-- A SHA-256 digest: 32 bytes. A domain rather than a CHECK on the table: PostgreSQL rebuilds a
-- table's CHECK expressions in every statement that writes the table and evaluates them on every
-- row written (the UPDATE that spends a token included), while a domain's check comes prepared from
-- the type cache and runs only where a value is stored into the column. Same guarantee, same
-- SQLSTATE (23514), off the refresh path's hot statements.
CREATE DOMAIN auth.sha256_digest AS bytea
    CHECK (pg_catalog.octet_length(VALUE) OPERATOR(pg_catalog.=) 32);

-- Refresh tokens, stored only as their digest (auth_private._refresh_token_hash). Each rotation
-- spends a token (spent_at) and inserts its successor in the same session; a session has at most
-- one unspent one.
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

-- One row per failed password check (login, change_password), kept for auth.lockout_window.
-- username is the name as typed, cut to 257 characters (auth_private._throttle_key); client_ip
-- the client's address when auth.client_ip_header reports one (0.2.0; appended).
CREATE TABLE auth.login_failures (
    id        uuid        PRIMARY KEY DEFAULT pg_catalog.gen_random_uuid(),
    username  text        NOT NULL,
    failed_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    client_ip inet
);
CREATE INDEX login_failures_username_idx ON auth.login_failures (username, failed_at);
CREATE INDEX login_failures_failed_at_idx ON auth.login_failures (failed_at);
CREATE INDEX login_failures_client_ip_idx ON auth.login_failures (client_ip, failed_at)
    WHERE client_ip IS NOT NULL;
COMMENT ON TABLE auth.login_failures IS
    'Failed password checks within auth.lockout_window, for throttling (HTTP 429).';

SELECT pg_catalog.pg_extension_config_dump('auth.sessions', '');
SELECT pg_catalog.pg_extension_config_dump('auth.refresh_tokens', '');
SELECT pg_catalog.pg_extension_config_dump('auth.login_failures', '');

-- Password checks of one username are serialized so that parallel guesses cannot slip past the
-- failure count: on the user's row (FOR NO KEY UPDATE) when the user exists — which also makes a
-- login in flight and a concurrent change_password, password UPDATE or DELETE of that user wait
-- for each other — and, for names no user has, on one of these 256 rows, chosen by a hash of the
-- name. Row locks on auth-owned tables: no other role can take them (0.1.0 used the advisory-lock
-- space, which every role shares).
CREATE TABLE auth_private.login_locks (
    stripe integer PRIMARY KEY CHECK (stripe BETWEEN 0 AND 255)
);
INSERT INTO auth_private.login_locks (stripe) SELECT pg_catalog.generate_series(0, 255);
COMMENT ON TABLE auth_private.login_locks IS
    'Lock rows serializing password checks of usernames that have no user.';

-- auth_private._session_response(text, name, text, jsonb), _session_claims(uuid, text, name,
-- jsonb), _access_token_hook(), _call_access_token_hook(jsonb), _clear_session_cookies() and
-- _refresh_token_hash(text) are Rust (src/sessions.rs): the first is the whole answer of a
-- successful login or refresh (access token of the given claims, cookies, Cache-Control, result).

-- The one definition of a live session: not revoked, not expired, and neither timeout passed
-- (auth_private._session_timeout, Rust: auth.session_max_lifetime from created_at,
-- auth.session_idle_timeout from last_seen_at). Login, refresh, logout, the caller's identity,
-- my_sessions, end_my_session and the request hook all decide by it.
CREATE FUNCTION auth_private._live(s auth.sessions) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT s.revoked_at IS NULL AND s.expires_at OPERATOR(pg_catalog.>) pg_catalog.now()
       AND auth_private._session_timeout(s.created_at, s.last_seen_at) IS NULL
$$;

-- Ends session `id` when a timeout ended it (revoked_at = now(), ended_reason = the timeout) and
-- records the event; nothing otherwise. The request hook refuses a timed-out session but cannot
-- record anything (its refusal rolls the request back): refresh_token and purge_sessions do.
CREATE FUNCTION auth_private._end_timed_out_session(id uuid) RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_username text;
    v_reason text;
BEGIN
    UPDATE auth.sessions s
    SET revoked_at = pg_catalog.now(),
        ended_reason = auth_private._session_timeout(s.created_at, s.last_seen_at)
    WHERE s.id = $1 AND s.revoked_at IS NULL
      AND auth_private._session_timeout(s.created_at, s.last_seen_at) IS NOT NULL
    RETURNING s.username, s.ended_reason INTO v_username, v_reason;
    IF FOUND THEN
        PERFORM auth_private._audit('session_timed_out', v_username, $1, NULL,
                                    pg_catalog.jsonb_build_object('reason', v_reason));
    END IF;
END
$$;

-- The throttle key of a username as typed.
CREATE FUNCTION auth_private._throttle_key(username text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT pg_catalog.left(username, 257) $$;

-- An error answer that does not roll the request back: sets response.status and returns the
-- body PostgREST would have sent for a raised error of SQLSTATE PT<status>.
CREATE FUNCTION auth_private._error_response(status integer, message text) RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM pg_catalog.set_config('response.status', status::text, true);
    RETURN pg_catalog.jsonb_build_object(
        'code', 'PT' || status::text, 'message', message, 'details', NULL, 'hint', NULL);
END
$$;

-- Takes the lock that serializes password checks of `name` (see auth_private.login_locks) and
-- returns the user's row as it is once locked: a concurrent password change or deletion has
-- committed or waits for us. NULLs when no user has that name.
CREATE FUNCTION auth_private._lock_user(name text, OUT username text, OUT password text, OUT role name)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    SELECT u.username, u.password, u.role INTO username, password, role
    FROM auth.users u WHERE u.username = $1
    FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        PERFORM FROM auth_private.login_locks l
        WHERE l.stripe = pg_catalog.hashtext(auth_private._throttle_key($1)) OPERATOR(pg_catalog.&) 255
        FOR UPDATE;
    END IF;
END
$$;

-- The throttle, shared by every function that checks a password, with two counts within
-- auth.lockout_window, C the client's address (auth_private._request_client_ip, NULL when
-- auth.client_ip_header reports none):
--   * failures of `key` from C (every address unknown counting as one): at
--     auth.max_failed_logins, 429. With no address known this is the count per username alone;
--     with one, failures from other addresses do not count, so guesses from one address cannot
--     lock the user out of every other;
--   * when C is known, failures from C whatever the username: at auth.max_failed_logins_per_ip,
--     429 (one password tried against many usernames).
-- The 429 carries a Retry-After header (seconds until the oldest of the failures counted leaves
-- the window) and is recorded in the audit log; NULL when neither count is reached. Call it
-- holding auth_private._lock_user's lock (which serializes attempts per username; the count per
-- address may be passed by as many attempts as run at once).
CREATE FUNCTION auth_private._throttled(key text) RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_window interval := pg_catalog.make_interval(secs => auth_private._setting('lockout_window')::integer);
    v_ip inet := auth_private._request_client_ip();
    v_nth timestamptz;
    v_scope text;
    v_retry bigint;
BEGIN
    SELECT f.failed_at INTO v_nth
    FROM auth.login_failures f
    WHERE f.username = $1 AND f.client_ip IS NOT DISTINCT FROM v_ip
      AND f.failed_at > pg_catalog.now() - v_window
    ORDER BY f.failed_at DESC
    OFFSET auth_private._setting('max_failed_logins')::integer - 1 LIMIT 1;
    IF FOUND THEN
        v_scope := 'username';
    ELSIF v_ip IS NOT NULL THEN
        SELECT f.failed_at INTO v_nth
        FROM auth.login_failures f
        WHERE f.client_ip = v_ip AND f.failed_at > pg_catalog.now() - v_window
        ORDER BY f.failed_at DESC
        OFFSET auth_private._setting('max_failed_logins_per_ip')::integer - 1 LIMIT 1;
        IF FOUND THEN
            v_scope := 'client_ip';
        END IF;
    END IF;
    IF v_scope IS NULL THEN
        RETURN NULL;
    END IF;
    v_retry := greatest(1, pg_catalog.ceil(pg_catalog.date_part('epoch', v_nth + v_window - pg_catalog.now())));
    PERFORM auth_private._add_response_headers(pg_catalog.jsonb_build_array(
        pg_catalog.jsonb_build_object('Retry-After', v_retry::text)));
    PERFORM auth_private._audit('login_throttled', $1, NULL, NULL,
                                pg_catalog.jsonb_build_object('scope', v_scope, 'retry_after', v_retry));
    RETURN auth_private._error_response(429, 'Too many failed logins, try again later');
END
$$;

-- Records a failed password check of `key` from the client's address (and prunes failures that
-- left the window), then answers 401 with `message`, without raising so that the record commits.
CREATE FUNCTION auth_private._password_refused(key text, message text) RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    INSERT INTO auth.login_failures (username, failed_at, client_ip)
    VALUES ($1, pg_catalog.now(), auth_private._request_client_ip());
    DELETE FROM auth.login_failures f
    WHERE f.failed_at <= pg_catalog.now()
        - pg_catalog.make_interval(secs => auth_private._setting('lockout_window')::integer);
    RETURN auth_private._error_response(401, $2);
END
$$;

-- The claims of the access token of session `session_id` of `username` (database role `role`),
-- whose user's app_metadata is `app_metadata`, for `method` ('password' at login, 'refresh' at
-- refresh, 'signup'): auth_private._session_claims (role, sub, username, sid, app_metadata, iat,
-- exp, aud, iss), and when auth.access_token_hook is set, what the function it names answers
-- (called as its owner by auth_private._call_access_token_hook, with the event {"username",
-- "role", "session_id", "method", "claims"}). A setting that names no usable function raises
-- 22023 (a configuration error). A hook that raises, answers NULL or a non-object, or changes a
-- reserved claim refuses the login or refresh: PT403 'Login refused by auth.access_token_hook',
-- the reason (or the hook's own message) as DETAIL; the caller's transaction rolls back with it.
-- Raised here, in plpgsql: a PT code raised through a Rust frame would lose its SQLSTATE. Without
-- a hook: two Rust calls, no catalog query, no subtransaction.
CREATE FUNCTION auth_private._token_claims(session_id uuid, username text, role name, method text,
                                           app_metadata jsonb) RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_claims jsonb := auth_private._session_claims($1, $2, $3, $5);
    v_reason text;
BEGIN
    IF NOT auth_private._access_token_hook() THEN
        RETURN v_claims;
    END IF;
    BEGIN
        RETURN auth_private._call_access_token_hook(pg_catalog.jsonb_build_object(
            'username', $2, 'role', $3, 'session_id', $1, 'method', $4, 'claims', v_claims));
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS v_reason = MESSAGE_TEXT;
        RAISE SQLSTATE 'PT403' USING MESSAGE = 'Login refused by auth.access_token_hook',
                                     DETAIL = v_reason;
    END;
END
$$;

-- Starts a session after a password check (method 'password'; 'signup' for a new user): the
-- session row (with the client's user agent, cut to 512 characters, and address), its first
-- refresh token, the audit row, the cookies, the result. PT403 when auth.access_token_hook
-- refuses (auth_private._token_claims): nothing it wrote is kept.
CREATE FUNCTION auth_private._start_session(username text, role name, method text) RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_ttl interval := pg_catalog.make_interval(secs => auth_private._setting('refresh_token_ttl')::integer);
    v_session uuid;
    v_refresh text := auth_private._new_refresh_token();
    v_app_metadata jsonb;
BEGIN
    SELECT u.app_metadata INTO v_app_metadata FROM auth.users u WHERE u.username = $1;
    INSERT INTO auth.sessions (username, expires_at, user_agent, client_ip, method)
    VALUES ($1, pg_catalog.now() + v_ttl, pg_catalog.left(auth_private._request_header('user-agent'), 512),
            auth_private._request_client_ip(), $3)
    RETURNING id INTO v_session;
    INSERT INTO auth.refresh_tokens (session_id, token_hash, expires_at)
    VALUES (v_session, auth_private._refresh_token_hash(v_refresh), pg_catalog.now() + v_ttl);
    PERFORM auth_private._audit('login_succeeded', $1, v_session, NULL,
                                pg_catalog.jsonb_build_object('method', $3));
    RETURN auth_private._session_response($1, $2, v_refresh,
                                          auth_private._token_claims(v_session, $1, $2, $3, v_app_metadata));
END
$$;

-- The caller, proven by its own access token (the Authorization bearer token, else the
-- access_token cookie; signature, algorithm, exp/nbf, aud and iss checked): its username (sub)
-- and session id (sid, when the token has one). NULLs unless the token verifies and, when it
-- has a sid, that session is live and belongs to the same user. Never request.jwt.claims, which
-- any SQL session can set.
CREATE FUNCTION auth_private._caller_session(OUT username text, OUT session_id uuid)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_claims jsonb := auth_private._caller_claims(true);
BEGIN
    IF v_claims IS NULL OR pg_catalog.jsonb_typeof(v_claims -> 'sub') IS DISTINCT FROM 'string' THEN
        RETURN;
    END IF;
    IF v_claims ? 'sid' THEN
        SELECT s.username, s.id INTO username, session_id
        FROM auth.sessions s
        WHERE s.id = auth_private._to_uuid(v_claims ->> 'sid') AND s.username = v_claims ->> 'sub'
          AND auth_private._live(s);
    ELSE
        username := v_claims ->> 'sub';
    END IF;
END
$$;

-- The live sessions the request proves it holds: the session of its refresh_token cookie, and
-- the session (sid) of its own access token, signature checked but not expiry (an expired access
-- token still ends its session). Ended sessions prove nothing.
CREATE FUNCTION auth_private._request_sessions() RETURNS uuid[]
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_refresh text := auth_private._request_cookie('refresh_token');
    v_candidates uuid[] := ARRAY[auth_private._to_uuid(auth_private._caller_claims(false) ->> 'sid')];
BEGIN
    IF v_refresh IS NOT NULL THEN
        v_candidates := v_candidates || (
            SELECT rt.session_id FROM auth.refresh_tokens rt
            WHERE rt.token_hash = auth_private._refresh_token_hash(v_refresh));
    END IF;
    RETURN coalesce((
        SELECT pg_catalog.array_agg(s.id) FROM auth.sessions s
        WHERE s.id = ANY (v_candidates) AND auth_private._live(s)), '{}');
END
$$;

-- Login's rule for auth.require_verified_email: when it is on, a user with an email address not
-- verified yet is refused (PT403 'Email address not verified'). Users without an address are not
-- concerned (there is nothing to verify).
CREATE FUNCTION auth_private._require_verified_email(username text) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF auth_private._setting('require_verified_email')::boolean
       AND EXISTS (SELECT FROM auth.users u
                   WHERE u.username = $1 AND u.email IS NOT NULL AND u.email_verified_at IS NULL) THEN
        RAISE SQLSTATE 'PT403' USING MESSAGE = 'Email address not verified',
            HINT = 'Open the link of the verification email, or ask for a new one (auth.request_email_verification).';
    END IF;
END
$$;

-- POST /rpc/login {"username": ..., "password": ...}
--
-- Success: HTTP 200, the access_token and refresh_token cookies in response.headers, and
--   {"username", "role", "expires_at" (the access token's exp), "expires_in"} (+ "token_type",
--   "access_token", "refresh_token" when auth.tokens_in_body is on). Any failure record of the
--   username is cleared; a hash that differs from the configured algorithm and parameters
--   (auth.password_algorithm, auth.bcrypt_cost, auth.argon2_*) is re-hashed.
-- Wrong password or unknown user: NOT raised. response.status = 401 and the body
--   {"code": "PT401", "message": "Invalid user or password", ...}; the failure is recorded and the
--   transaction commits. Unknown users cost one check of a dummy hash of the configured
--   algorithm, like known ones.
-- Throttled (auth_private._throttled: per username and client address, and per address):
--   response.status = 429, a Retry-After header and {"code": "PT429", ...}, without checking the
--   password. Unknown usernames are throttled alike, so a 429 says nothing about existence.
--   Refused attempts are not counted. A success clears the username's failures from the same
--   address. Each outcome is recorded in auth.audit_log.
-- Right password of a user whose email address is not verified while
--   auth.require_verified_email is on: raised, PT403 'Email address not verified'.
-- Read-only transaction (GET, HEAD) or Prefer: tx=rollback: 25006 (HTTP 405) before anything.
-- Bad arguments (NULL, empty or over-72-byte password): raised, SQLSTATE 22023 (HTTP 400).
-- The access token carries the user's app_metadata; auth.access_token_hook, when set, decides its
-- claims (auth_private._token_claims) and may refuse the login: PT403 (HTTP 403), nothing kept.
-- Attempts for one username are serialized (auth_private._lock_user), and the user's row stays
-- locked until the session commits: a concurrent password change waits, then ends it.
CREATE FUNCTION auth.login(username text, password text) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_key text;
    v_user record;
    v_answer jsonb;
BEGIN
    PERFORM auth_private._require_committing_transaction();
    PERFORM auth_private._require_same_origin();
    IF $1 IS NULL OR $2 IS NULL THEN
        RAISE SQLSTATE '22023' USING MESSAGE = 'username and password must not be NULL';
    END IF;
    PERFORM auth_private._check_password($2);
    v_key := auth_private._throttle_key($1);
    SELECT * INTO v_user FROM auth_private._lock_user($1);
    v_answer := auth_private._throttled(v_key);
    IF v_answer IS NOT NULL THEN
        RETURN v_answer;
    END IF;
    IF NOT auth_private._login_password_matches($2, v_user.password) THEN
        PERFORM auth_private._audit('login_failed', v_key, NULL, NULL,
                                    pg_catalog.jsonb_build_object('user_exists', v_user.username IS NOT NULL));
        RETURN auth_private._password_refused(v_key, 'Invalid user or password');
    END IF;
    PERFORM auth_private._require_verified_email(v_user.username);
    IF auth_private._password_needs_rehash(v_user.password) THEN
        UPDATE auth.users u SET password = auth_private._hash_to_store($2)
        WHERE u.username = v_user.username;
    END IF;
    DELETE FROM auth.login_failures f
    WHERE f.username = v_key AND f.client_ip IS NOT DISTINCT FROM auth_private._request_client_ip();
    RETURN auth_private._start_session(v_user.username, v_user.role, 'password');
END
$$;
COMMENT ON FUNCTION auth.login(text, text) IS
    'Logs in: sets the access_token and refresh_token cookies; 401 "Invalid user or password" and 429 through response.status.';

-- The answer to a refused refresh: 401 through response.status, both cookies cleared.
CREATE FUNCTION auth_private._refresh_refused() RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM auth_private._clear_session_cookies();
    RETURN auth_private._error_response(401, 'Invalid or expired refresh token');
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
-- No token, unknown, expired, or its session revoked, expired or timed out (a timeout is then
--   recorded: auth_private._end_timed_out_session), or the refresh cookie sent twice (cookie
--   tossing): 401. A rotation, a grace answer and a detected reuse are recorded in auth.audit_log.
-- The access token is made as at login (method 'refresh'), also for the grace answer: a refusal of
-- auth.access_token_hook raises PT403 (HTTP 403) and nothing is kept (the token stays unspent).
-- Every 401 here is response.status = 401, the body {"code": "PT401", "message": "Invalid or
-- expired refresh token", ...} and both cookies cleared.
-- Read-only transaction (GET, HEAD) or Prefer: tx=rollback: 25006 (HTTP 405) before anything, so
-- a token can neither be probed nor used without being spent.
-- A token is spent by one UPDATE ... WHERE spent_at IS NULL, which locks its row and re-checks the
-- condition on the row's latest version after waiting: of two concurrent refreshes of one token
-- the second waits for the first, then finds it spent and takes the grace-window answer. Never two
-- live refresh tokens. The session row is locked too (by its UPDATE) before a successor is issued,
-- so a concurrent logout either waits for the rotation or makes it refuse.
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
    v_token text;
    v_hash bytea;
    v_session uuid;
    v_spent_at timestamptz;
    v_username text;
    v_role name;
    v_app_metadata jsonb;
    v_expires_at timestamptz;
    v_new text;
BEGIN
    PERFORM auth_private._require_committing_transaction();
    PERFORM auth_private._require_same_origin();
    v_token := coalesce(nullif($1, ''), auth_private._request_cookie('refresh_token'));
    IF v_token IS NULL THEN
        RETURN auth_private._refresh_refused();
    END IF;
    v_hash := auth_private._refresh_token_hash(v_token);
    UPDATE auth.refresh_tokens rt SET spent_at = pg_catalog.now()
    WHERE rt.token_hash = v_hash AND rt.spent_at IS NULL AND rt.expires_at > pg_catalog.now()
    RETURNING rt.session_id INTO v_session;
    IF FOUND THEN
        -- Rotation. The session must be live; its expiry moves to the successor's.
        UPDATE auth.sessions s
        SET expires_at = pg_catalog.now()
                + pg_catalog.make_interval(secs => auth_private._setting('refresh_token_ttl')::integer),
            refreshed_at = pg_catalog.now(),
            last_seen_at = pg_catalog.now()
        FROM auth.users u
        WHERE s.id = v_session AND auth_private._live(s) AND u.username = s.username
        RETURNING s.username, u.role, u.app_metadata, s.expires_at
        INTO v_username, v_role, v_app_metadata, v_expires_at;
        IF NOT FOUND THEN
            PERFORM auth_private._end_timed_out_session(v_session);
            RETURN auth_private._refresh_refused();
        END IF;
        v_new := auth_private._new_refresh_token();
        INSERT INTO auth.refresh_tokens (session_id, token_hash, expires_at)
        VALUES (v_session, auth_private._refresh_token_hash(v_new), v_expires_at);
        PERFORM auth_private._audit('refresh', v_username, v_session);
        RETURN auth_private._session_response(v_username, v_role, v_new, auth_private._token_claims(
            v_session, v_username, v_role, 'refresh', v_app_metadata));
    END IF;

    -- Unknown, expired, or spent: only a spent, unexpired token of a live session goes on, to the
    -- grace window or to reuse detection.
    SELECT rt.session_id, rt.spent_at INTO v_session, v_spent_at
    FROM auth.refresh_tokens rt
    WHERE rt.token_hash = v_hash AND rt.spent_at IS NOT NULL AND rt.expires_at > pg_catalog.now();
    IF NOT FOUND THEN
        RETURN auth_private._refresh_refused();
    END IF;
    SELECT s.username, u.role, u.app_metadata INTO v_username, v_role, v_app_metadata
    FROM auth.sessions s JOIN auth.users u ON u.username = s.username
    WHERE s.id = v_session AND auth_private._live(s)
    FOR NO KEY UPDATE OF s;
    IF NOT FOUND THEN
        PERFORM auth_private._end_timed_out_session(v_session);
        RETURN auth_private._refresh_refused();
    END IF;
    IF pg_catalog.now() < v_spent_at
            + pg_catalog.make_interval(secs => auth_private._setting('refresh_reuse_interval')::integer) THEN
        PERFORM auth_private._audit('refresh', v_username, v_session, NULL, '{"grace": true}');
        RETURN auth_private._session_response(v_username, v_role, NULL, auth_private._token_claims(
            v_session, v_username, v_role, 'refresh', v_app_metadata));
    END IF;
    UPDATE auth.sessions s SET revoked_at = pg_catalog.now(), ended_reason = 'refresh_reuse'
    WHERE s.id = v_session;
    PERFORM auth_private._audit('refresh_reuse_detected', v_username, v_session);
    RETURN auth_private._refresh_refused();
END
$$;
COMMENT ON FUNCTION auth.refresh_token(text) IS
    'Rotates the refresh token (cookie or argument) and sets both cookies; reuse after auth.refresh_reuse_interval revokes the session; 401 through response.status.';

-- POST /rpc/logout, or {"scope": "global"} or {"scope": "others"}.
--
-- Revokes live sessions by what the request proves it holds (auth_private._request_sessions: its
-- refresh_token cookie, its own access token from the Authorization header or the access_token
-- cookie, expired or not): 'local' those sessions; 'global' every session of their users;
-- 'others' every session of their users but those. 'local' and 'global' clear both cookies
-- (empty value, Max-Age=0); 'others' keeps them (the current session goes on). Credentials of an
-- ended session prove nothing. Always succeeds (HTTP 204) once the scope is valid, also when no
-- session is found. Each session ended is recorded in auth.audit_log with the scope.
-- Read-only transaction or Prefer: tx=rollback: 25006 (HTTP 405); a bad or NULL scope: 22023.
CREATE FUNCTION auth.logout(scope text DEFAULT 'local') RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_sids uuid[];
    r record;
BEGIN
    PERFORM auth_private._require_committing_transaction();
    PERFORM auth_private._require_same_origin();
    IF $1 IS NULL OR $1 NOT IN ('local', 'global', 'others') THEN
        RAISE SQLSTATE '22023' USING MESSAGE = 'scope must be ''local'', ''global'' or ''others''';
    END IF;
    v_sids := auth_private._request_sessions();
    IF $1 = 'local' THEN
        FOR r IN
            UPDATE auth.sessions s SET revoked_at = pg_catalog.now(), ended_reason = 'logout'
            WHERE s.id = ANY (v_sids) AND s.revoked_at IS NULL
            RETURNING s.id, s.username
        LOOP
            PERFORM auth_private._audit('logout', r.username, r.id, NULL, pg_catalog.jsonb_build_object('scope', $1));
        END LOOP;
    ELSE
        -- Lock the users first, as password checks do: a login in flight commits its session
        -- before this revokes it, or starts after.
        PERFORM FROM auth.users u
        WHERE u.username IN (SELECT o.username FROM auth.sessions o WHERE o.id = ANY (v_sids))
        ORDER BY u.username
        FOR NO KEY UPDATE;
        FOR r IN
            UPDATE auth.sessions s SET revoked_at = pg_catalog.now(), ended_reason = 'logout'
            WHERE s.revoked_at IS NULL
              AND s.username IN (SELECT o.username FROM auth.sessions o WHERE o.id = ANY (v_sids))
              AND ($1 = 'global' OR s.id <> ALL (v_sids))
            RETURNING s.id, s.username
        LOOP
            PERFORM auth_private._audit('logout', r.username, r.id, NULL, pg_catalog.jsonb_build_object('scope', $1));
        END LOOP;
    END IF;
    IF $1 <> 'others' THEN
        PERFORM auth_private._clear_session_cookies();
    END IF;
END
$$;
COMMENT ON FUNCTION auth.logout(text) IS
    'Revokes the current session (''local'', clearing the session cookies), all sessions of its user (''global'', clearing them) or all but the current one (''others'').';

-- POST /rpc/change_password {"current": ..., "new": ...}, by a logged-in user.
--
-- The user is the one the caller's own access token proves (auth_private._caller_session); its
-- session, when the token has one, must be live. The current password is checked under the login
-- throttle (same failure count, same 429); then the password is changed and every other session
-- of the user is revoked. Answers:
--   200 {"username", "revoked_sessions"}                  changed
--   401 {"code": "PT401", "message": "Wrong current password", ...} through response.status,
--       not raised, so the failure is recorded
--   429 as login's, through response.status
-- Raised: PT401 'Not logged in' (no verified token, ended session, no such user); 22023 for a
-- NULL argument, an empty or over-72-byte password, or a new password the policy refuses
-- (auth.password_min_length, auth.password_check; checked before the current password, so
-- nothing is recorded); 25006 (HTTP 405) in a read-only transaction or with Prefer: tx=rollback.
CREATE FUNCTION auth.change_password("current" text, new text) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_caller record;
    v_user record;
    v_key text;
    v_answer jsonb;
    v_revoked integer;
BEGIN
    PERFORM auth_private._require_committing_transaction();
    SELECT * INTO v_caller FROM auth_private._caller_session();
    IF v_caller.username IS NULL THEN
        RAISE SQLSTATE 'PT401' USING MESSAGE = 'Not logged in';
    END IF;
    IF $1 IS NULL OR $2 IS NULL THEN
        RAISE SQLSTATE '22023' USING MESSAGE = 'current and new passwords must not be NULL';
    END IF;
    PERFORM auth_private._check_password($1);
    PERFORM auth_private._check_new_password(v_caller.username, $2);
    SELECT * INTO v_user FROM auth_private._lock_user(v_caller.username);
    IF v_user.username IS NULL THEN
        RAISE SQLSTATE 'PT401' USING MESSAGE = 'Not logged in';
    END IF;
    v_key := auth_private._throttle_key(v_user.username);
    v_answer := auth_private._throttled(v_key);
    IF v_answer IS NOT NULL THEN
        RETURN v_answer;
    END IF;
    IF NOT auth_private._login_password_matches($1, v_user.password) THEN
        PERFORM auth_private._audit('password_change_failed', v_user.username, v_caller.session_id);
        RETURN auth_private._password_refused(v_key, 'Wrong current password');
    END IF;
    UPDATE auth.users u SET password = auth_private._hash_to_store($2)
    WHERE u.username = v_user.username;
    UPDATE auth.sessions s SET revoked_at = pg_catalog.now(), ended_reason = 'password_changed'
    WHERE s.username = v_user.username AND s.revoked_at IS NULL
      AND s.id IS DISTINCT FROM v_caller.session_id;
    GET DIAGNOSTICS v_revoked = ROW_COUNT;
    DELETE FROM auth.login_failures f
    WHERE f.username = v_key AND f.client_ip IS NOT DISTINCT FROM auth_private._request_client_ip();
    PERFORM auth_private._audit('password_changed', v_user.username, v_caller.session_id, NULL,
                                pg_catalog.jsonb_build_object('revoked_sessions', v_revoked));
    RETURN pg_catalog.jsonb_build_object('username', v_user.username, 'revoked_sessions', v_revoked);
END
$$;
COMMENT ON FUNCTION auth.change_password(text, text) IS
    'Changes the logged-in user''s password (checking the current one under the login throttle) and revokes their other sessions.';

-- GET or POST /rpc/my_sessions, by a logged-in user: the caller's live sessions (the user the
-- caller's own verified access token names, as for change_password), newest first, with
-- "current" true for the token's own session. No secret: no token, no hash. Raised: PT401
-- 'Not logged in' (no verified token, or its session ended). STABLE: also over GET.
CREATE FUNCTION auth.my_sessions()
RETURNS TABLE (id uuid, created_at timestamptz, last_seen_at timestamptz, expires_at timestamptz,
               user_agent text, client_ip inet, method text, "current" boolean)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_caller record;
BEGIN
    SELECT * INTO v_caller FROM auth_private._caller_session();
    IF v_caller.username IS NULL THEN
        RAISE SQLSTATE 'PT401' USING MESSAGE = 'Not logged in';
    END IF;
    RETURN QUERY
        SELECT s.id, s.created_at, s.last_seen_at, s.expires_at, s.user_agent, s.client_ip, s.method,
               s.id IS NOT DISTINCT FROM v_caller.session_id
        FROM auth.sessions s
        WHERE s.username = v_caller.username AND auth_private._live(s)
        ORDER BY s.created_at DESC, s.id;
END
$$;
COMMENT ON FUNCTION auth.my_sessions() IS
    'The logged-in caller''s live sessions (id, times, user agent, client address, method, current); no secrets.';

-- POST /rpc/end_my_session {"id": ...}, by a logged-in user (identified as by my_sessions): ends
-- that session when it is one of the caller's live sessions (the current one included) and
-- answers true; false for any other id — unknown, ended, or another user's, alike, so the answer
-- tells nothing about sessions that are not the caller's. Raised: PT401 'Not logged in'; 22023
-- for NULL; 25006 (HTTP 405) in a read-only transaction or with Prefer: tx=rollback.
CREATE FUNCTION auth.end_my_session(id uuid) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_caller record;
BEGIN
    PERFORM auth_private._require_committing_transaction();
    SELECT * INTO v_caller FROM auth_private._caller_session();
    IF v_caller.username IS NULL THEN
        RAISE SQLSTATE 'PT401' USING MESSAGE = 'Not logged in';
    END IF;
    IF $1 IS NULL THEN
        RAISE SQLSTATE '22023' USING MESSAGE = 'id must not be NULL';
    END IF;
    UPDATE auth.sessions s SET revoked_at = pg_catalog.now(), ended_reason = 'ended_by_user'
    WHERE s.id = $1 AND s.username = v_caller.username AND auth_private._live(s);
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    PERFORM auth_private._audit('session_ended', v_caller.username, $1, NULL,
                                pg_catalog.jsonb_build_object('by_session', v_caller.session_id));
    RETURN true;
END
$$;
COMMENT ON FUNCTION auth.end_my_session(uuid) IS
    'Ends one of the logged-in caller''s own live sessions; false for any other id (unknown, ended or another user''s alike).';

-- Deletes a user locked by the caller (auth_private._lock_user): the row, and with it (ON DELETE
-- CASCADE) every session with its refresh tokens and every API token the user made for
-- themselves. Answers how many of those were live, for the caller's answer and audit row.
CREATE FUNCTION auth_private._delete_user(username text, OUT ended_sessions integer,
                                          OUT deleted_api_tokens integer)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    SELECT pg_catalog.count(*) INTO ended_sessions
    FROM auth.sessions s WHERE s.username = $1 AND auth_private._live(s);
    SELECT pg_catalog.count(*) INTO deleted_api_tokens
    FROM auth.api_tokens t WHERE t.username = $1 AND t.revoked_at IS NULL;
    DELETE FROM auth.users u WHERE u.username = $1;
END
$$;

-- POST /rpc/delete_my_account {"password": ...}, by a logged-in user (identified as by
-- change_password: the caller's own verified access token, its session live). The password is
-- checked under the login throttle (same failure count, same 429); then the user is deleted, and
-- with the row everything that is the user's: every session (and its refresh tokens) and every API
-- token the user made for themselves (auth.create_my_api_token), all deleted by the foreign keys'
-- ON DELETE CASCADE, so auth.check_request refuses their tokens at once. The session cookies are
-- cleared (as logout does). API tokens and keys an administrator made for the user's role are
-- not the user's and stay. Recorded as account_deleted (by self). Answers:
--   200 {"username", "ended_sessions", "deleted_api_tokens"}  deleted
--   401 {"code": "PT401", "message": "Wrong password", ...} through response.status, not raised,
--       so the failure is recorded
--   429 as login's, through response.status
-- Raised: PT401 'Not logged in' (no verified token, ended session, no such user); 22023 for NULL,
-- an empty or over-72-byte password; 25006 (HTTP 405) in a read-only transaction or with
-- Prefer: tx=rollback, before anything else.
CREATE FUNCTION auth.delete_my_account(password text) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_caller record;
    v_user record;
    v_key text;
    v_answer jsonb;
    v_sessions integer;
    v_tokens integer;
BEGIN
    PERFORM auth_private._require_committing_transaction();
    SELECT * INTO v_caller FROM auth_private._caller_session();
    IF v_caller.username IS NULL THEN
        RAISE SQLSTATE 'PT401' USING MESSAGE = 'Not logged in';
    END IF;
    IF $1 IS NULL THEN
        RAISE SQLSTATE '22023' USING MESSAGE = 'password must not be NULL';
    END IF;
    PERFORM auth_private._check_password($1);
    SELECT * INTO v_user FROM auth_private._lock_user(v_caller.username);
    IF v_user.username IS NULL THEN
        RAISE SQLSTATE 'PT401' USING MESSAGE = 'Not logged in';
    END IF;
    v_key := auth_private._throttle_key(v_user.username);
    v_answer := auth_private._throttled(v_key);
    IF v_answer IS NOT NULL THEN
        RETURN v_answer;
    END IF;
    IF NOT auth_private._login_password_matches($1, v_user.password) THEN
        PERFORM auth_private._audit('account_delete_failed', v_user.username, v_caller.session_id);
        RETURN auth_private._password_refused(v_key, 'Wrong password');
    END IF;
    SELECT d.ended_sessions, d.deleted_api_tokens INTO v_sessions, v_tokens
    FROM auth_private._delete_user(v_user.username) AS d;
    DELETE FROM auth.login_failures f
    WHERE f.username = v_key AND f.client_ip IS NOT DISTINCT FROM auth_private._request_client_ip();
    PERFORM auth_private._clear_session_cookies();
    PERFORM auth_private._audit('account_deleted', v_user.username, v_caller.session_id, NULL,
                                pg_catalog.jsonb_build_object('by', 'self', 'ended_sessions', v_sessions,
                                                              'deleted_api_tokens', v_tokens));
    RETURN pg_catalog.jsonb_build_object('username', v_user.username, 'ended_sessions', v_sessions,
                                         'deleted_api_tokens', v_tokens);
END
$$;
COMMENT ON FUNCTION auth.delete_my_account(text) IS
    'Deletes the logged-in user (checking their password under the login throttle) with their sessions and self-made API tokens; clears the session cookies.';

-- Deletes a user (for administrators): the row, and with it (ON DELETE CASCADE) every session and
-- every API token the user made for themselves; API tokens and keys made for the user's role stay.
-- Locks the user's row first (auth_private._lock_user, as password checks do), so a login of that
-- user in flight commits its session before the deletion ends it, or starts after and finds no
-- user. Returns true when a user was deleted, false when none has that name; 22023 for NULL;
-- 25006 in a read-only transaction. Recorded as user_deleted with the invoking role. SECURITY
-- DEFINER: EXECUTE alone delegates it (it is not granted to PUBLIC).
CREATE FUNCTION auth.delete_user(username text) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_user record;
    v_sessions integer;
    v_tokens integer;
BEGIN
    PERFORM auth_private._require_committing_transaction();
    IF $1 IS NULL THEN
        RAISE SQLSTATE '22023' USING MESSAGE = 'username must not be NULL';
    END IF;
    SELECT * INTO v_user FROM auth_private._lock_user($1);
    IF v_user.username IS NULL THEN
        RETURN false;
    END IF;
    SELECT d.ended_sessions, d.deleted_api_tokens INTO v_sessions, v_tokens
    FROM auth_private._delete_user(v_user.username) AS d;
    PERFORM auth_private._audit('user_deleted', v_user.username, NULL, NULL, pg_catalog.jsonb_build_object(
        'by', auth_private._invoking_role(), 'ended_sessions', v_sessions, 'deleted_api_tokens', v_tokens));
    RETURN true;
END
$$;
COMMENT ON FUNCTION auth.delete_user(text) IS
    'Deletes a user with their sessions and self-made API tokens; false when no user has that name.';

-- Revokes every live session of a user (for administrators, e.g. after resetting a password by
-- UPDATE auth.users). Locks the user's row first, so a login in flight commits its session before
-- this revokes it. Returns how many sessions it revoked; 22023 for NULL; 25006 in a read-only
-- transaction. SECURITY DEFINER: EXECUTE alone delegates it (it is not granted to PUBLIC).
CREATE FUNCTION auth.revoke_user_sessions(username text) RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_count integer;
BEGIN
    PERFORM auth_private._require_committing_transaction();
    IF $1 IS NULL THEN
        RAISE SQLSTATE '22023' USING MESSAGE = 'username must not be NULL';
    END IF;
    PERFORM FROM auth.users u WHERE u.username = $1 FOR NO KEY UPDATE;
    UPDATE auth.sessions s SET revoked_at = pg_catalog.now(), ended_reason = 'revoked'
    WHERE s.username = $1 AND s.revoked_at IS NULL;
    GET DIAGNOSTICS v_count = ROW_COUNT;
    PERFORM auth_private._audit('sessions_revoked', $1, NULL, NULL, pg_catalog.jsonb_build_object(
        'revoked_sessions', v_count, 'by', auth_private._invoking_role()));
    RETURN v_count;
END
$$;

-- Housekeeping (run it from cron or pg_cron as the extension owner): ends the sessions a timeout
-- ended unnoticed (recording why), deletes sessions that ended (revoked or expired) more than
-- `older_than` ago with their refresh tokens, refresh tokens expired more than `older_than` ago,
-- failed logins outside auth.lockout_window, one-time tokens spent or expired, outbox rows
-- consumed or expired, and audit rows older than auth.audit_retention
-- (unless 0). Returns the number of sessions deleted. A deleted session is as dead as a revoked
-- one for every check.
CREATE FUNCTION auth.purge_sessions(older_than interval DEFAULT '7 days') RETURNS integer
LANGUAGE plpgsql VOLATILE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_cutoff timestamptz := pg_catalog.now() - $1;
    v_retention integer := auth_private._setting('audit_retention')::integer;
    v_count integer;
BEGIN
    PERFORM auth_private._end_timed_out_session(s.id) FROM auth.sessions s
    WHERE s.revoked_at IS NULL AND auth_private._session_timeout(s.created_at, s.last_seen_at) IS NOT NULL;
    DELETE FROM auth.sessions s
    WHERE least(s.revoked_at, s.expires_at) < v_cutoff;
    GET DIAGNOSTICS v_count = ROW_COUNT;
    DELETE FROM auth.refresh_tokens rt WHERE rt.expires_at < v_cutoff;
    DELETE FROM auth.login_failures f
    WHERE f.failed_at <= pg_catalog.now()
        - pg_catalog.make_interval(secs => auth_private._setting('lockout_window')::integer);
    DELETE FROM auth.one_time_tokens t
    WHERE t.consumed_at IS NOT NULL OR t.expires_at <= pg_catalog.now();
    DELETE FROM auth.outbox o WHERE o.consumed OR o.expires_at <= pg_catalog.now();
    IF v_retention > 0 THEN
        DELETE FROM auth.audit_log a
        WHERE a.at < pg_catalog.now() - pg_catalog.make_interval(secs => v_retention);
    END IF;
    RETURN v_count;
END
$$;

-- One call to set up PostgREST's roles: USAGE on schema auth, and EXECUTE on
--   login, refresh_token, logout, signup, request_password_reset, reset_password,
--   request_email_verification, verify_email              for the anonymous role;
--   refresh_token, logout, change_password, my_sessions, end_my_session, delete_my_account,
--   request_email_verification, verify_email              for each authenticated role
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
            'GRANT EXECUTE ON FUNCTION auth.login(text, text), auth.refresh_token(text), auth.logout(text), '
            'auth.signup(text, text, text), auth.request_password_reset(text), auth.reset_password(text, text), '
            'auth.request_email_verification(text), auth.verify_email(text) TO %I', $1);
    END IF;
    FOREACH v_role IN ARRAY coalesce($2, '{}') LOOP
        IF v_role IS NULL OR pg_catalog.lower(v_role) = 'public' THEN
            RAISE SQLSTATE '22023' USING MESSAGE = 'authenticated_roles must name roles (not NULL, not PUBLIC)';
        END IF;
        EXECUTE pg_catalog.format('GRANT USAGE ON SCHEMA auth TO %I', v_role);
        EXECUTE pg_catalog.format(
            'GRANT EXECUTE ON FUNCTION auth.refresh_token(text), auth.logout(text), auth.change_password(text, text), '
            'auth.my_sessions(), auth.end_my_session(uuid), auth.delete_my_account(text), '
            'auth.request_email_verification(text), auth.verify_email(text) TO %I',
            v_role);
    END LOOP;
END
$$;
COMMENT ON FUNCTION auth.grant_session_access(name, name[]) IS
    'Grants PostgREST''s anonymous role the login, sign-up and reset functions and authenticated roles refresh_token/logout/change_password/my_sessions/end_my_session/delete_my_account/email verification.';
