-- Accounts: sign-up, password reset, email verification. The database sends no mail: the flows
-- hand one-time tokens to the application through auth.outbox, which a mailer process reads
-- (LISTEN auth_outbox). Every flow here is SECURITY DEFINER, first refuses a transaction that
-- would not commit (auth_private._require_committing_transaction: 25006, HTTP 405 over GET/HEAD
-- or Prefer: tx=rollback) and a cross-site browser call (auth_private._require_same_origin:
-- PT403), as login does.

-- One-time tokens, stored only as their SHA-256 (auth_private._one_time_token_hash): a token is
-- spent by one UPDATE ... WHERE consumed_at IS NULL, so of two concurrent uses exactly one wins.
-- `email` is the address the token was sent to. A user has at most one unconsumed token per
-- purpose: a new request replaces it. Not in a dump (pending tokens are not worth restoring);
-- deleted with their user; auth.purge_sessions deletes consumed and expired ones.
CREATE TABLE auth.one_time_tokens (
    id          uuid        PRIMARY KEY DEFAULT pg_catalog.gen_random_uuid(),
    username    text        NOT NULL REFERENCES auth.users (username)
                                ON DELETE CASCADE ON UPDATE CASCADE,
    purpose     text        NOT NULL
                                CONSTRAINT one_time_tokens_purpose
                                CHECK (purpose IN ('password_reset', 'email_verification')),
    token_hash  auth.sha256_digest NOT NULL UNIQUE,
    email       text,
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    expires_at  timestamptz NOT NULL,
    consumed_at timestamptz
);
CREATE INDEX one_time_tokens_username_idx ON auth.one_time_tokens (username, purpose);
COMMENT ON TABLE auth.one_time_tokens IS
    'Password reset and email verification tokens as SHA-256 hashes; single use (consumed_at), short-lived (expires_at).';

-- The outbox: one row per message the application must deliver, with the token in clear (the
-- only place it is). Only the extension owner and the roles auth.grant_outbox_access names read
-- it; those may set `consumed` and nothing else, and setting it erases the token. Each row
-- notifies channel auth_outbox with its id (at commit; never the token). auth.purge_sessions
-- deletes consumed rows and rows past expires_at. Not in a dump.
CREATE TABLE auth.outbox (
    id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT pg_catalog.now(),
    kind       text        NOT NULL
                               CONSTRAINT outbox_kind CHECK (kind IN ('password_reset', 'email_verification')),
    username   text        NOT NULL REFERENCES auth.users (username)
                               ON DELETE CASCADE ON UPDATE CASCADE,
    email      text,
    token      text,
    expires_at timestamptz NOT NULL,
    consumed   boolean     NOT NULL DEFAULT false
);
CREATE INDEX outbox_pending_idx ON auth.outbox (id) WHERE NOT consumed;
CREATE INDEX outbox_username_idx ON auth.outbox (username, kind);
COMMENT ON TABLE auth.outbox IS
    'Messages for the application to deliver (password reset, email verification tokens); NOTIFY auth_outbox on insert; set consumed once sent.';
COMMENT ON COLUMN auth.outbox.token IS 'The one-time token, in clear until the row is consumed.';

-- BEFORE UPDATE of auth.outbox: consumed stays true once set, and the token goes with it.
CREATE FUNCTION auth_private._outbox_before_update() RETURNS trigger
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    NEW.consumed := OLD.consumed OR NEW.consumed;
    IF NEW.consumed THEN
        NEW.token := NULL;
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER outbox_before_update
BEFORE UPDATE ON auth.outbox
FOR EACH ROW EXECUTE FUNCTION auth_private._outbox_before_update();

-- The audit events that count against auth.max_account_requests_per_ip.
CREATE INDEX audit_log_account_requests_idx ON auth.audit_log (client_ip, at)
    WHERE event IN ('signup', 'password_reset_requested', 'email_verification_requested');

-- The throttle of the account flows: at auth.max_account_requests_per_ip sign-ups, reset and
-- verification requests from the client's address (auth_private._request_client_ip) within
-- auth.lockout_window, counted from the audit log, the request is refused with HTTP 429 and a
-- Retry-After header (raised with SQLSTATE PGRST, PostgREST's custom-error form: nothing of a
-- refused request needs to commit). No limit when the address is unknown or the setting is 0.
CREATE FUNCTION auth_private._throttle_account_requests() RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_ip inet := auth_private._request_client_ip();
    v_max integer := auth_private._setting('max_account_requests_per_ip')::integer;
    v_window interval := pg_catalog.make_interval(secs => auth_private._setting('lockout_window')::integer);
    v_nth timestamptz;
    v_retry bigint;
BEGIN
    IF v_ip IS NULL OR v_max = 0 THEN
        RETURN;
    END IF;
    SELECT a.at INTO v_nth
    FROM auth.audit_log a
    WHERE a.client_ip = v_ip
      AND a.event IN ('signup', 'password_reset_requested', 'email_verification_requested')
      AND a.at > pg_catalog.now() - v_window
    ORDER BY a.at DESC
    OFFSET v_max - 1 LIMIT 1;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    v_retry := greatest(1, pg_catalog.ceil(pg_catalog.date_part('epoch', v_nth + v_window - pg_catalog.now())));
    RAISE SQLSTATE 'PGRST' USING
        MESSAGE = pg_catalog.jsonb_build_object('code', 'PT429', 'message', 'Too many requests, try again later',
                                                'details', NULL, 'hint', NULL)::text,
        DETAIL = pg_catalog.jsonb_build_object('status', 429,
                                               'headers', pg_catalog.jsonb_build_object('Retry-After', v_retry::text))::text;
END
$$;

-- Issues a one-time token of `purpose` for a user whose row the caller has locked, to be sent to
-- `email` (may be NULL: the application then reaches the user its own way): replaces the user's
-- unconsumed token of that purpose (and its undelivered outbox row), stores the new token's hash
-- with its lifetime (auth.reset_token_ttl or auth.verification_token_ttl), queues the outbox row
-- and notifies auth_outbox. Does nothing and answers false when a token of that purpose was
-- issued to the user less than 60 seconds ago (no mail flood).
CREATE FUNCTION auth_private._issue_one_time_token(username text, purpose text, email text) RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_token text;
    v_expires timestamptz;
    v_id bigint;
BEGIN
    IF EXISTS (SELECT FROM auth.one_time_tokens t
               WHERE t.username = $1 AND t.purpose = $2
                 AND t.created_at > pg_catalog.now() - interval '60 seconds') THEN
        RETURN false;
    END IF;
    DELETE FROM auth.one_time_tokens t WHERE t.username = $1 AND t.purpose = $2 AND t.consumed_at IS NULL;
    DELETE FROM auth.outbox o WHERE o.username = $1 AND o.kind = $2 AND NOT o.consumed;
    v_expires := pg_catalog.now() + pg_catalog.make_interval(secs => auth_private._setting(
        CASE $2 WHEN 'password_reset' THEN 'reset_token_ttl' ELSE 'verification_token_ttl' END)::integer);
    v_token := auth_private._new_one_time_token();
    INSERT INTO auth.one_time_tokens (username, purpose, token_hash, email, expires_at)
    VALUES ($1, $2, auth_private._one_time_token_hash(v_token), $3, v_expires);
    INSERT INTO auth.outbox (kind, username, email, token, expires_at)
    VALUES ($2, $1, $3, v_token, v_expires)
    RETURNING id INTO v_id;
    PERFORM pg_catalog.pg_notify('auth_outbox', v_id::text);
    RETURN true;
END
$$;

-- Spends a one-time token of `purpose`: the token's user and the address it was sent to, NULLs
-- when it is unknown, of another purpose, spent or expired. One UPDATE ... WHERE consumed_at IS
-- NULL: a concurrent use of the same token waits for this one, then finds it spent. The token's
-- outbox rows are marked consumed (their token erased).
CREATE FUNCTION auth_private._consume_one_time_token(token text, purpose text,
                                                     OUT username text, OUT email text)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_username text;
    v_email text;
BEGIN
    UPDATE auth.one_time_tokens t SET consumed_at = pg_catalog.now()
    WHERE t.token_hash = auth_private._one_time_token_hash($1) AND t.purpose = $2
      AND t.consumed_at IS NULL AND t.expires_at > pg_catalog.now()
    RETURNING t.username, t.email INTO v_username, v_email;
    IF FOUND THEN
        UPDATE auth.outbox o SET consumed = true
        WHERE o.username = v_username AND o.kind = $2 AND NOT o.consumed;
        username := v_username;
        email := v_email;
    END IF;
END
$$;

-- The role auth.signup gives new users: auth.signup_role, which must name an existing role that
-- is neither a superuser nor able to bypass row security or create roles (22023 otherwise: the
-- server is not configured for sign-up).
CREATE FUNCTION auth_private._signup_role() RETURNS name
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_name text := auth_private._setting('signup_role');
    v_role pg_catalog.pg_roles%ROWTYPE;
BEGIN
    IF v_name = '' THEN
        RAISE SQLSTATE '22023' USING MESSAGE = 'sign-up is not configured: auth.signup_role is not set',
            HINT = 'Set auth.signup_role to the role new users get.';
    END IF;
    SELECT * INTO v_role FROM pg_catalog.pg_roles r WHERE r.rolname = v_name;
    IF NOT FOUND THEN
        RAISE SQLSTATE '22023' USING
            MESSAGE = pg_catalog.format('sign-up is not configured: auth.signup_role names no role ("%s")', v_name);
    END IF;
    IF v_role.rolsuper OR v_role.rolbypassrls OR v_role.rolcreaterole THEN
        RAISE SQLSTATE '22023' USING MESSAGE = pg_catalog.format(
            'sign-up is not configured: auth.signup_role "%s" is a superuser or has BYPASSRLS or CREATEROLE', v_name);
    END IF;
    RETURN v_role.rolname;
END
$$;

-- POST /rpc/signup {"username", "password", "email"?}
--
-- Off unless auth.allow_signup is on: PT403 'Sign-up is disabled'. The new user's role is
-- auth.signup_role (never the caller's choice). Checked first, raised: 22023 for NULL username or
-- password, a username outside 3 to 256 characters, an invalid address, a password the policy
-- refuses (auth.password_min_length, auth.password_check; the reason, never the password);
-- HTTP 429 (auth_private._throttle_account_requests) past auth.max_account_requests_per_ip.
-- With auth.require_verified_email off: a taken username or address answers 409
--   {"code": "PT409", "message": "Username or email already taken"} through response.status;
--   otherwise the user is created and logged in: the answer is login's (200, session cookies,
--   the same body), the session's method 'signup'. An address given gets an email_verification
--   token in the outbox.
-- With auth.require_verified_email on: an email is required (22023); the answer is 201
--   {"verification_required": true} whether or not the username or address was taken, after the
--   same work (the password is hashed either way): only a new user gets a row and an
--   email_verification token in the outbox. No session: login waits for auth.verify_email.
-- Concurrent sign-ups of one name: one creates it, the other finds it taken (no unique-violation
-- error). Recorded in auth.audit_log as signup with {"created": true|false}.
CREATE FUNCTION auth.signup(username text, password text, email text DEFAULT NULL) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_verify boolean := auth_private._setting('require_verified_email')::boolean;
    v_email text;
    v_role name;
    v_hash text;
    v_created boolean;
BEGIN
    PERFORM auth_private._require_committing_transaction();
    PERFORM auth_private._require_same_origin();
    IF NOT auth_private._setting('allow_signup')::boolean THEN
        RAISE SQLSTATE 'PT403' USING MESSAGE = 'Sign-up is disabled';
    END IF;
    IF $1 IS NULL OR $2 IS NULL THEN
        RAISE SQLSTATE '22023' USING MESSAGE = 'username and password must not be NULL';
    END IF;
    IF pg_catalog.char_length($1) NOT BETWEEN 3 AND 256 THEN
        RAISE SQLSTATE '22023' USING MESSAGE = 'username must be 3 to 256 characters';
    END IF;
    IF $3 IS NOT NULL THEN
        v_email := auth_private._normalize_email($3);
    ELSIF v_verify THEN
        RAISE SQLSTATE '22023' USING MESSAGE = 'email is required',
            DETAIL = 'auth.require_verified_email is on: accounts are verified by email.';
    END IF;
    PERFORM auth_private._check_password($2);
    PERFORM auth_private._check_new_password($1, $2);
    v_role := auth_private._signup_role();
    PERFORM auth_private._throttle_account_requests();
    v_hash := auth_private._hash_to_store($2);
    INSERT INTO auth.users (username, password, role, email)
    VALUES ($1, v_hash, v_role, v_email)
    ON CONFLICT DO NOTHING;
    v_created := FOUND;
    PERFORM auth_private._audit('signup', $1, NULL, NULL, pg_catalog.jsonb_build_object('created', v_created));
    IF v_created AND v_email IS NOT NULL THEN
        PERFORM auth_private._issue_one_time_token($1, 'email_verification', v_email);
    END IF;
    IF v_verify THEN
        PERFORM pg_catalog.set_config('response.status', '201', true);
        RETURN '{"verification_required": true}'::jsonb;
    END IF;
    IF NOT v_created THEN
        RETURN auth_private._error_response(409, 'Username or email already taken');
    END IF;
    RETURN auth_private._start_session($1, v_role);
END
$$;
COMMENT ON FUNCTION auth.signup(text, text, text) IS
    'Creates an account with auth.signup_role when auth.allow_signup is on; logs in, or with auth.require_verified_email answers 201 and queues a verification email.';

-- POST /rpc/request_password_reset {"username_or_email": ...}: always HTTP 204 (no enumeration:
-- the same answer for unknown accounts). The user is found by address (compared lower-cased)
-- first, then by username. For a user found: a password_reset token (auth.reset_token_ttl)
-- replaces any earlier one and goes to the outbox with the user's address (NULL when the user has
-- none); at most one per user per 60 seconds. Raised: 22023 for NULL, HTTP 429 past
-- auth.max_account_requests_per_ip. Recorded as password_reset_requested.
CREATE FUNCTION auth.request_password_reset(username_or_email text) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_user record;
    v_queued boolean := false;
BEGIN
    PERFORM auth_private._require_committing_transaction();
    PERFORM auth_private._require_same_origin();
    IF $1 IS NULL THEN
        RAISE SQLSTATE '22023' USING MESSAGE = 'username_or_email must not be NULL';
    END IF;
    PERFORM auth_private._throttle_account_requests();
    SELECT u.username, u.email INTO v_user
    FROM auth.users u WHERE u.email = auth_private._email_key($1)
    FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        SELECT u.username, u.email INTO v_user
        FROM auth.users u WHERE u.username = $1
        FOR NO KEY UPDATE;
    END IF;
    IF v_user.username IS NOT NULL THEN
        v_queued := auth_private._issue_one_time_token(v_user.username, 'password_reset', v_user.email);
    END IF;
    PERFORM auth_private._audit('password_reset_requested', coalesce(v_user.username, auth_private._throttle_key($1)),
                                NULL, NULL, pg_catalog.jsonb_build_object(
                                    'user_exists', v_user.username IS NOT NULL, 'queued', v_queued));
END
$$;
COMMENT ON FUNCTION auth.request_password_reset(text) IS
    'Queues a password reset token in auth.outbox for the user with that address or username; answers the same (204) for unknown accounts.';

-- POST /rpc/reset_password {"token", "new_password"}: spends a password_reset token (single use:
-- of two concurrent calls with one token exactly one succeeds), sets the password (the policy
-- applies: 22023 with the reason, and the token is not spent), ends every live session of the
-- user (ended_reason password_reset), clears the caller's session cookies and the user's failed
-- logins, and marks the address verified when the token was sent to the user's current address.
-- Starts no session. Answer: {"username", "revoked_sessions"}.
-- Unknown, spent or expired token: PT401 'Invalid or expired token'. NULL arguments, an empty or
-- over-72-byte password: 22023. Recorded as password_reset.
CREATE FUNCTION auth.reset_password(token text, new_password text) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_token record;
    v_user record;
    v_revoked integer;
BEGIN
    PERFORM auth_private._require_committing_transaction();
    PERFORM auth_private._require_same_origin();
    IF $1 IS NULL OR $2 IS NULL THEN
        RAISE SQLSTATE '22023' USING MESSAGE = 'token and new_password must not be NULL';
    END IF;
    PERFORM auth_private._check_password($2);
    SELECT * INTO v_token FROM auth_private._consume_one_time_token($1, 'password_reset');
    IF v_token.username IS NULL THEN
        RAISE SQLSTATE 'PT401' USING MESSAGE = 'Invalid or expired token';
    END IF;
    SELECT * INTO v_user FROM auth_private._lock_user(v_token.username);
    PERFORM auth_private._check_new_password(v_user.username, $2);
    UPDATE auth.users u
    SET password = auth_private._hash_to_store($2),
        email_verified_at = CASE WHEN u.email = v_token.email
                                 THEN coalesce(u.email_verified_at, pg_catalog.now())
                                 ELSE u.email_verified_at END
    WHERE u.username = v_user.username;
    UPDATE auth.sessions s SET revoked_at = pg_catalog.now(), ended_reason = 'password_reset'
    WHERE s.username = v_user.username AND s.revoked_at IS NULL;
    GET DIAGNOSTICS v_revoked = ROW_COUNT;
    DELETE FROM auth.login_failures f WHERE f.username = auth_private._throttle_key(v_user.username);
    PERFORM auth_private._clear_session_cookies();
    PERFORM auth_private._audit('password_reset', v_user.username, NULL, NULL,
                                pg_catalog.jsonb_build_object('revoked_sessions', v_revoked));
    RETURN pg_catalog.jsonb_build_object('username', v_user.username, 'revoked_sessions', v_revoked);
END
$$;
COMMENT ON FUNCTION auth.reset_password(text, text) IS
    'Sets a new password with a password reset token (single use) and ends every session of the user.';

-- POST /rpc/request_email_verification: queues an email_verification token
-- (auth.verification_token_ttl) in the outbox for an address that is not verified yet, at most one
-- per user per 60 seconds. HTTP 204. Two forms:
--   * without an argument, by a logged-in user (identified as by my_sessions: the caller's own
--     verified access token, its session live; PT401 'Not logged in' otherwise) for their own
--     address: 22023 'No email address to verify' when they have none; nothing when verified;
--   * {"email": ...}, by anyone (a user whom auth.require_verified_email keeps from logging in
--     asks for a new link): for the user with that address when it is not verified; the same 204
--     whether or not there is one (no enumeration).
-- Raised: HTTP 429 past auth.max_account_requests_per_ip. Recorded as
-- email_verification_requested.
CREATE FUNCTION auth.request_email_verification(email text DEFAULT NULL) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_caller record;
    v_user record;
    v_queued boolean := false;
BEGIN
    PERFORM auth_private._require_committing_transaction();
    PERFORM auth_private._require_same_origin();
    IF $1 IS NULL THEN
        SELECT * INTO v_caller FROM auth_private._caller_session();
        IF v_caller.username IS NULL THEN
            RAISE SQLSTATE 'PT401' USING MESSAGE = 'Not logged in';
        END IF;
    END IF;
    PERFORM auth_private._throttle_account_requests();
    IF $1 IS NULL THEN
        SELECT u.username, u.email, u.email_verified_at INTO v_user
        FROM auth.users u WHERE u.username = v_caller.username
        FOR NO KEY UPDATE;
        IF NOT FOUND THEN
            RAISE SQLSTATE 'PT401' USING MESSAGE = 'Not logged in';
        END IF;
        IF v_user.email IS NULL THEN
            RAISE SQLSTATE '22023' USING MESSAGE = 'No email address to verify';
        END IF;
    ELSE
        SELECT u.username, u.email, u.email_verified_at INTO v_user
        FROM auth.users u WHERE u.email = auth_private._email_key($1)
        FOR NO KEY UPDATE;
    END IF;
    IF v_user.username IS NOT NULL AND v_user.email_verified_at IS NULL THEN
        v_queued := auth_private._issue_one_time_token(v_user.username, 'email_verification', v_user.email);
    END IF;
    PERFORM auth_private._audit('email_verification_requested', v_user.username, v_caller.session_id, NULL,
                                pg_catalog.jsonb_build_object('queued', v_queued));
END
$$;
COMMENT ON FUNCTION auth.request_email_verification(text) IS
    'Queues an email verification token in auth.outbox: for the logged-in user''s address, or for the unverified address given (always 204).';

-- POST /rpc/verify_email {"token"} (no login needed: the link may open in any browser): spends an
-- email_verification token sent to the address the user still has and marks it verified.
-- Answer: {"username", "email", "email_verified_at"}. Unknown, spent or expired token, or an
-- address changed since: PT401 'Invalid or expired token'. NULL: 22023. Recorded as
-- email_verified.
CREATE FUNCTION auth.verify_email(token text) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_token record;
    v_user record;
BEGIN
    PERFORM auth_private._require_committing_transaction();
    PERFORM auth_private._require_same_origin();
    IF $1 IS NULL THEN
        RAISE SQLSTATE '22023' USING MESSAGE = 'token must not be NULL';
    END IF;
    SELECT * INTO v_token FROM auth_private._consume_one_time_token($1, 'email_verification');
    IF v_token.username IS NULL THEN
        RAISE SQLSTATE 'PT401' USING MESSAGE = 'Invalid or expired token';
    END IF;
    UPDATE auth.users u SET email_verified_at = coalesce(u.email_verified_at, pg_catalog.now())
    WHERE u.username = v_token.username AND u.email = v_token.email
    RETURNING u.username, u.email, u.email_verified_at INTO v_user;
    IF NOT FOUND THEN
        RAISE SQLSTATE 'PT401' USING MESSAGE = 'Invalid or expired token';
    END IF;
    PERFORM auth_private._audit('email_verified', v_user.username);
    RETURN pg_catalog.jsonb_build_object('username', v_user.username, 'email', v_user.email,
                                         'email_verified_at', v_user.email_verified_at);
END
$$;
COMMENT ON FUNCTION auth.verify_email(text) IS
    'Marks the user''s email address verified with an email verification token (single use).';

-- Lets `role` run a mailer: USAGE on schema auth, SELECT on auth.outbox and UPDATE of its
-- consumed column only (enough for SELECT ... FOR UPDATE SKIP LOCKED). Never PUBLIC (22023).
-- Run as the extension owner.
CREATE FUNCTION auth.grant_outbox_access(role name) RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF $1 IS NULL OR pg_catalog.lower($1) = 'public' THEN
        RAISE SQLSTATE '22023' USING MESSAGE = 'role must name a role (not NULL, not PUBLIC)';
    END IF;
    EXECUTE pg_catalog.format('GRANT USAGE ON SCHEMA auth TO %I', $1);
    EXECUTE pg_catalog.format('GRANT SELECT, UPDATE (consumed) ON auth.outbox TO %I', $1);
END
$$;
COMMENT ON FUNCTION auth.grant_outbox_access(name) IS
    'Lets a role read auth.outbox and mark rows consumed (for a mailer process).';
