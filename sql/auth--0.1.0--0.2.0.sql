-- auth 0.1.0 → 0.2.0 (ALTER EXTENSION auth UPDATE TO '0.2.0').
--
-- Hand-written: every schema change of 0.2.0 is here, and a database updated with it ends with
-- the same objects, definitions and privileges as a fresh 0.2.0 install (scripts/upgrade-test.sh
-- compares the catalogs). A function this script creates is EXECUTE-able by PUBLIC until it is
-- revoked: the script ends by revoking it, as sql/privileges.sql does in a fresh install.
-- Every row of every table is kept.

\echo Use "ALTER EXTENSION auth UPDATE TO '0.2.0'" to load this file. \quit

-- The internals move to schema auth_private, which PostgREST must never expose. ALTER ... SET
-- SCHEMA keeps each function's identity, so the grants made to it (auth.grant_request_check's
-- on _check_request_credentials, say) and the triggers using it stay.
CREATE SCHEMA auth_private;

ALTER FUNCTION auth._add_response_headers(jsonb) SET SCHEMA auth_private;
ALTER FUNCTION auth._api_key_hash(text) SET SCHEMA auth_private;
ALTER FUNCTION auth._check_credential_role(name, name) SET SCHEMA auth_private;
ALTER FUNCTION auth._check_password(text) SET SCHEMA auth_private;
ALTER FUNCTION auth._check_request_credentials(text) SET SCHEMA auth_private;
ALTER FUNCTION auth._claim_markers(text) SET SCHEMA auth_private;
ALTER FUNCTION auth._clear_session_cookies() SET SCHEMA auth_private;
ALTER FUNCTION auth._error_response(integer, text) SET SCHEMA auth_private;
ALTER FUNCTION auth._invoking_role() SET SCHEMA auth_private;
ALTER FUNCTION auth._jwt_header(text, text) SET SCHEMA auth_private;
ALTER FUNCTION auth._jwt_payload(text, text) SET SCHEMA auth_private;
ALTER FUNCTION auth._jwt_valid(text, text, text) SET SCHEMA auth_private;
ALTER FUNCTION auth._login_password_matches(text, text) SET SCHEMA auth_private;
ALTER FUNCTION auth._may_record_use() SET SCHEMA auth_private;
ALTER FUNCTION auth._new_api_key() SET SCHEMA auth_private;
ALTER FUNCTION auth._new_refresh_token() SET SCHEMA auth_private;
ALTER FUNCTION auth._password_needs_rehash(text) SET SCHEMA auth_private;
ALTER FUNCTION auth._password_to_store(text) SET SCHEMA auth_private;
ALTER FUNCTION auth._proxy_secret_matches(text) SET SCHEMA auth_private;
ALTER FUNCTION auth._refresh_refused() SET SCHEMA auth_private;
ALTER FUNCTION auth._request_cookie(text) SET SCHEMA auth_private;
ALTER FUNCTION auth._request_header(text) SET SCHEMA auth_private;
ALTER FUNCTION auth._session_response(uuid, text, name, text) SET SCHEMA auth_private;
ALTER FUNCTION auth._setting(text) SET SCHEMA auth_private;
ALTER FUNCTION auth._sign_api_key_token(uuid, text, text, bigint) SET SCHEMA auth_private;
ALTER FUNCTION auth._sign_api_token(uuid, text, bigint, jsonb) SET SCHEMA auth_private;
ALTER FUNCTION auth._start_session(text, name) SET SCHEMA auth_private;
ALTER FUNCTION auth._users_before_write() SET SCHEMA auth_private;

-- logout verifies the caller's own token through auth_private._caller_claims now; uuids in claims
-- are parsed by the credential markers' parser (a C function replaces the SQL one).
DROP FUNCTION auth._signed_claims_ignoring_time(text);
DROP FUNCTION auth._to_uuid(text);
-- auth.jwt_verify is inlinable SQL over scalar helpers now (below): the set-returning helper goes.
DROP FUNCTION auth._jwt_verify(text);

-- New functions of the library.
CREATE FUNCTION auth_private."_caller_claims"(
	"check_time" bool
) RETURNS jsonb
STRICT STABLE PARALLEL SAFE
LANGUAGE c
AS 'MODULE_PATHNAME', '_caller_claims_wrapper';

CREATE FUNCTION auth_private."_require_committing_transaction"() RETURNS void
STRICT VOLATILE PARALLEL UNSAFE
LANGUAGE c
AS 'MODULE_PATHNAME', '_require_committing_transaction_wrapper';

CREATE FUNCTION auth_private."_expect_imported_hash"(
	"hash" TEXT
) RETURNS void
VOLATILE PARALLEL UNSAFE
LANGUAGE c
AS 'MODULE_PATHNAME', '_expect_imported_hash_wrapper';

CREATE FUNCTION auth_private."_keep_superuser_hash"(
	"value" TEXT
) RETURNS void
STRICT VOLATILE PARALLEL UNSAFE
LANGUAGE c
AS 'MODULE_PATHNAME', '_keep_superuser_hash_wrapper';

-- The password policy and the configured algorithm: the trigger's helper takes the username
-- (0.1.0's one-argument helper goes; the library keeps its symbol for 0.1.0's SQL), login's
-- re-hash and change_password write a hash they made, change_password checks the new password.
DROP FUNCTION auth_private._password_to_store(text);

CREATE FUNCTION auth_private."_password_to_store"(
	"username" TEXT,
	"password" TEXT
) RETURNS TEXT
VOLATILE PARALLEL UNSAFE
LANGUAGE c
AS 'MODULE_PATHNAME', '_password_to_store_for_wrapper';

CREATE FUNCTION auth_private."_hash_to_store"(
	"password" TEXT
) RETURNS TEXT
STRICT VOLATILE PARALLEL UNSAFE
LANGUAGE c
AS 'MODULE_PATHNAME', '_hash_to_store_wrapper';

CREATE FUNCTION auth_private."_check_new_password"(
	"username" TEXT,
	"password" TEXT
) RETURNS void
VOLATILE PARALLEL UNSAFE
LANGUAGE c
AS 'MODULE_PATHNAME', '_check_new_password_wrapper';

CREATE FUNCTION auth_private."_refresh_token_hash"(
	"token" TEXT
) RETURNS bytea
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c
AS 'MODULE_PATHNAME', '_refresh_token_hash_wrapper';

CREATE FUNCTION auth_private."_may_carry_markers"(
	"claims" TEXT
) RETURNS bool
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c
AS 'MODULE_PATHNAME', '_may_carry_markers_wrapper';

CREATE FUNCTION auth_private."_to_uuid"(
	"value" TEXT
) RETURNS uuid
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c
AS 'MODULE_PATHNAME', '_to_uuid_wrapper';

CREATE FUNCTION auth_private."_valid_credential_name"(
	"name" TEXT
) RETURNS bool
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c
AS 'MODULE_PATHNAME', '_valid_credential_name_wrapper';

CREATE FUNCTION auth_private."_valid_plan"(
	"plan" TEXT
) RETURNS bool
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c
AS 'MODULE_PATHNAME', '_valid_plan_wrapper';

-- The name and plan rules of API tokens and keys have one home each, which the tables' CHECK
-- constraints and the functions share. Existing rows satisfy them (the rules are unchanged).
ALTER TABLE auth.api_tokens DROP CONSTRAINT api_tokens_name_check,
    ADD CONSTRAINT api_tokens_name_check CHECK (auth_private._valid_credential_name(name));
ALTER TABLE auth.api_keys DROP CONSTRAINT api_keys_name_check,
    ADD CONSTRAINT api_keys_name_check CHECK (auth_private._valid_credential_name(name));
ALTER TABLE auth.api_keys DROP CONSTRAINT api_keys_plan_check,
    ADD CONSTRAINT api_keys_plan_check CHECK (auth_private._valid_plan(plan));

CREATE FUNCTION auth_private."_jwt_claims"(
	"token" TEXT
) RETURNS jsonb
STRICT STABLE PARALLEL SAFE
LANGUAGE c
AS 'MODULE_PATHNAME', '_jwt_claims_wrapper';

CREATE FUNCTION auth_private."_jwt_rejection"(
	"token" TEXT
) RETURNS TEXT
STRICT STABLE PARALLEL SAFE
LANGUAGE c
AS 'MODULE_PATHNAME', '_jwt_rejection_wrapper';

-- The claim helpers are C functions now (request.jwt.claims parsed once per value): replaced in
-- place, so policies and views that use them keep working.
CREATE OR REPLACE FUNCTION auth."claims"() RETURNS jsonb
STRICT STABLE PARALLEL SAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'claims_wrapper';

CREATE OR REPLACE FUNCTION auth."claim"(
	"name" TEXT
) RETURNS text
STRICT STABLE PARALLEL SAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'claim_wrapper';

CREATE OR REPLACE FUNCTION auth."uid"() RETURNS text
STRICT STABLE PARALLEL SAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'uid_wrapper';

CREATE OR REPLACE FUNCTION auth."role"() RETURNS text
STRICT STABLE PARALLEL SAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'role_wrapper';

-- Row locks that serialize password checks of names no user has (auth_private._lock_user).
CREATE TABLE auth_private.login_locks (
    stripe integer PRIMARY KEY CHECK (stripe BETWEEN 0 AND 255)
);
INSERT INTO auth_private.login_locks (stripe) SELECT pg_catalog.generate_series(0, 255);

-- Every function of 0.2.0's SQL, as a fresh install defines it (new ones, and the bodies that
-- changed: the read-only refusal, the user-row locks, the caller's own token, the throttle of
-- change_password, the schema names).

CREATE OR REPLACE FUNCTION auth_private._check_credential_role(role name, caller name) RETURNS void
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

CREATE OR REPLACE FUNCTION auth_private._check_credential_fields(name text, plan text, expires_at timestamptz)
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

CREATE OR REPLACE FUNCTION auth_private._may_record_use() RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT pg_catalog.current_setting('transaction_read_only') = 'off'
       AND pg_catalog.current_setting('transaction_isolation') = 'read committed'
$$;

CREATE OR REPLACE FUNCTION auth_private._record_use(kind text, id uuid, seen timestamptz) RETURNS void
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
    ELSE
        RAISE SQLSTATE '22023' USING MESSAGE = 'kind must be ''token'' or ''key''';
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION auth_private._proxy_secret_ok() RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT NOT auth_private._setting('proxy_secret_set')::boolean
        OR auth_private._proxy_secret_matches(auth_private._request_header('x-proxy-secret'))
$$;

CREATE OR REPLACE FUNCTION auth.create_api_token(
    name text,
    role name,
    expires_at timestamptz DEFAULT NULL,
    claims jsonb DEFAULT '{}'
) RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_id     uuid := pg_catalog.gen_random_uuid();
    v_claims jsonb;
    v_exp    bigint;
    v_token  text;
    v_caller pg_catalog.name;
BEGIN
    PERFORM auth_private._require_committing_transaction();
    v_claims := coalesce(claims, '{}'::jsonb);
    v_caller := auth_private._invoking_role();
    IF create_api_token.name IS NULL THEN
        RAISE SQLSTATE '22023' USING MESSAGE = 'name must be 1 to 256 characters';
    END IF;
    PERFORM auth_private._check_credential_role(create_api_token.role, v_caller);
    PERFORM auth_private._check_credential_fields(create_api_token.name, NULL, create_api_token.expires_at);
    IF pg_catalog.isfinite(expires_at) THEN
        v_exp := pg_catalog.floor(pg_catalog.date_part('epoch', expires_at))::bigint;
    END IF;
    -- Signs first: bad claims or a missing key fail before anything is written.
    v_token := auth_private._sign_api_token(v_id, create_api_token.role, v_exp, v_claims);
    INSERT INTO auth.api_tokens (id, name, role, claims, created_by, expires_at)
    VALUES (v_id, create_api_token.name, create_api_token.role, v_claims, v_caller, create_api_token.expires_at);
    RETURN v_token;
END
$$;

CREATE OR REPLACE FUNCTION auth.revoke_api_token(id uuid) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM auth_private._require_committing_transaction();
    IF $1 IS NULL THEN
        RAISE SQLSTATE '22023' USING MESSAGE = 'id must not be NULL';
    END IF;
    UPDATE auth.api_tokens AS t SET revoked_at = pg_catalog.now()
    WHERE t.id = $1 AND t.revoked_at IS NULL;
    RETURN FOUND;
END
$$;

CREATE OR REPLACE FUNCTION auth.create_api_key(
    role name,
    plan text DEFAULT NULL,
    expires_at timestamptz DEFAULT NULL,
    name text DEFAULT NULL
) RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    k        record;
BEGIN
    PERFORM auth_private._require_committing_transaction();
    PERFORM auth_private._check_credential_role(create_api_key.role, auth_private._invoking_role());
    PERFORM auth_private._check_credential_fields(create_api_key.name, create_api_key.plan,
                                                   create_api_key.expires_at);
    SELECT * INTO k FROM auth_private._new_api_key();
    INSERT INTO auth.api_keys (name, key_hash, display_prefix, role, plan, expires_at, created_by)
    VALUES (create_api_key.name, k.key_hash, k.display_prefix, create_api_key.role,
            create_api_key.plan, create_api_key.expires_at, auth_private._invoking_role());
    RETURN k.key;
END
$$;

CREATE OR REPLACE FUNCTION auth.exchange_api_key(key text DEFAULT NULL) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    presented text;
    k         record;
    t         record;
    headers   jsonb;
BEGIN
    PERFORM auth_private._require_committing_transaction();
    presented := coalesce(nullif(key, ''), auth_private._request_header('x-api-key'));
    IF presented IS NULL OR presented = '' THEN
        RAISE SQLSTATE 'PT401' USING MESSAGE = 'API key required';
    END IF;
    -- Inside an HTTP request (PostgREST always sets request.headers) a configured proxy secret
    -- is required, as for every request authenticated by an API credential.
    IF coalesce(pg_catalog.current_setting('request.headers', true), '') <> ''
       AND NOT auth_private._proxy_secret_ok() THEN
        RAISE SQLSTATE 'PT401' USING MESSAGE = 'API credentials are accepted only through the API gateway';
    END IF;
    SELECT a.id, a.role, a.plan, a.enabled, a.expires_at, a.last_used_at INTO k
    FROM auth.api_keys AS a WHERE a.key_hash = auth_private._api_key_hash(presented);
    IF NOT FOUND OR NOT k.enabled OR k.expires_at <= pg_catalog.now() THEN
        RAISE SQLSTATE 'PT401' USING MESSAGE = 'Invalid API key';
    END IF;
    PERFORM auth_private._record_use('key', k.id, k.last_used_at);
    SELECT * INTO t FROM auth_private._sign_api_key_token(
        k.id, k.role, k.plan,
        CASE WHEN pg_catalog.isfinite(k.expires_at)
             THEN pg_catalog.floor(pg_catalog.date_part('epoch', k.expires_at))::bigint END);
    -- For gateways, which see only the status and headers of the subrequest: nginx
    -- `auth_request_set $auth $upstream_http_authorization`, Caddy `copy_headers Authorization`.
    headers := pg_catalog.jsonb_build_array(
        pg_catalog.jsonb_build_object('Authorization', 'Bearer ' || t.token),
        pg_catalog.jsonb_build_object('Cache-Control', 'no-store'),
        pg_catalog.jsonb_build_object('X-Api-Key-Id', k.id::text));
    IF k.plan IS NOT NULL THEN
        headers := headers || pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object('X-Api-Plan', k.plan));
    END IF;
    PERFORM auth_private._add_response_headers(headers);
    RETURN pg_catalog.jsonb_build_object(
        'access_token', t.token, 'token_type', 'Bearer', 'expires_in', t.expires_in);
END
$$;

CREATE OR REPLACE FUNCTION auth_private._set_api_key_enabled(id uuid, enabled boolean) RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM auth_private._require_committing_transaction();
    IF $1 IS NULL THEN
        RAISE SQLSTATE '22023' USING MESSAGE = 'id must not be NULL';
    END IF;
    UPDATE auth.api_keys AS a SET enabled = $2 WHERE a.id = $1 AND a.enabled IS DISTINCT FROM $2;
    RETURN FOUND;
END
$$;

CREATE OR REPLACE FUNCTION auth.disable_api_key(id uuid) RETURNS boolean
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT auth_private._set_api_key_enabled(id, false) $$;

CREATE OR REPLACE FUNCTION auth.enable_api_key(id uuid) RETURNS boolean
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT auth_private._set_api_key_enabled(id, true) $$;

CREATE OR REPLACE FUNCTION auth.revoke_api_key(id uuid) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM auth_private._require_committing_transaction();
    IF $1 IS NULL THEN
        RAISE SQLSTATE '22023' USING MESSAGE = 'id must not be NULL';
    END IF;
    DELETE FROM auth.api_keys AS a WHERE a.id = $1;
    RETURN FOUND;
END
$$;

CREATE OR REPLACE FUNCTION auth_private._jwt_reject(token text) RETURNS jsonb
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE SECURITY INVOKER
AS $$
DECLARE
    message pg_catalog.text := auth_private._jwt_rejection(token);
BEGIN
    IF message IS NOT NULL THEN
        RAISE SQLSTATE 'PT401' USING MESSAGE = message;
    END IF;
    RETURN auth_private._jwt_claims(token);
END
$$;

CREATE OR REPLACE FUNCTION auth.jwt_verify(token text) RETURNS jsonb
LANGUAGE sql STABLE CALLED ON NULL INPUT PARALLEL SAFE SECURITY INVOKER
AS $$ SELECT coalesce(auth_private._jwt_claims(token), auth_private._jwt_reject(token)) $$;

CREATE OR REPLACE FUNCTION auth.verify(token text, secret text, algorithm text DEFAULT 'HS256')
RETURNS TABLE(header json, payload json, valid boolean)
LANGUAGE sql STABLE PARALLEL SAFE ROWS 1
AS $$
    SELECT auth_private._jwt_header(token, algorithm),
           auth_private._jwt_payload(token, algorithm),
           auth_private._jwt_valid(token, secret, algorithm)
$$;

CREATE OR REPLACE FUNCTION auth_private._users_check_role() RETURNS trigger
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_OP = 'INSERT' OR NEW.role IS DISTINCT FROM OLD.role THEN
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles r WHERE r.rolname = NEW.role) THEN
            RAISE SQLSTATE '23503'
                USING MESSAGE = pg_catalog.format('role "%s" does not exist', NEW.role),
                      DETAIL = 'auth.users.role must name a role of pg_roles.',
                      HINT = 'Create the role first.';
        END IF;
        IF NOT pg_catalog.pg_has_role(current_user, NEW.role, 'MEMBER') THEN
            RAISE SQLSTATE '42501'
                USING MESSAGE = pg_catalog.format(
                    'role "%s" cannot assign role "%s" to a user: it is not a member of it',
                    current_user, NEW.role);
        END IF;
    END IF;
    IF (TG_OP = 'INSERT' OR NEW.password IS DISTINCT FROM OLD.password)
       AND NEW.password IS NOT NULL
       AND (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = current_user) THEN
        PERFORM auth_private._keep_superuser_hash(NEW.password);
    END IF;
    RETURN NEW;
END
$$;

CREATE OR REPLACE FUNCTION auth_private._users_before_write() RETURNS trigger
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_OP = 'INSERT' OR NEW.password IS DISTINCT FROM OLD.password THEN
        NEW.password := auth_private._password_to_store(NEW.username, NEW.password);
    END IF;
    IF TG_OP = 'UPDATE' THEN
        NEW.updated_at := pg_catalog.now();
    END IF;
    RETURN NEW;
END
$$;

CREATE OR REPLACE FUNCTION auth.import_user(username text, password_hash text, role name) RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM auth_private._require_committing_transaction();
    IF $1 IS NULL OR $3 IS NULL THEN
        RAISE SQLSTATE '22023' USING MESSAGE = 'username and role must not be NULL';
    END IF;
    PERFORM auth_private._expect_imported_hash($2);
    INSERT INTO auth.users (username, password, role) VALUES ($1, $2, $3);
END
$$;

CREATE OR REPLACE FUNCTION auth_private._live(s auth.sessions) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT s.revoked_at IS NULL AND s.expires_at OPERATOR(pg_catalog.>) pg_catalog.now() $$;

CREATE OR REPLACE FUNCTION auth_private._throttle_key(username text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT pg_catalog.left(username, 257) $$;

CREATE OR REPLACE FUNCTION auth_private._error_response(status integer, message text) RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM pg_catalog.set_config('response.status', status::text, true);
    RETURN pg_catalog.jsonb_build_object(
        'code', 'PT' || status::text, 'message', message, 'details', NULL, 'hint', NULL);
END
$$;

CREATE OR REPLACE FUNCTION auth_private._lock_user(name text, OUT username text, OUT password text, OUT role name)
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

CREATE OR REPLACE FUNCTION auth_private._throttled(key text) RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_window interval := pg_catalog.make_interval(secs => auth_private._setting('lockout_window')::integer);
    v_nth timestamptz;
BEGIN
    SELECT f.failed_at INTO v_nth
    FROM auth.login_failures f
    WHERE f.username = $1 AND f.failed_at > pg_catalog.now() - v_window
    ORDER BY f.failed_at DESC
    OFFSET auth_private._setting('max_failed_logins')::integer - 1 LIMIT 1;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    PERFORM auth_private._add_response_headers(pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
        'Retry-After',
        greatest(1, pg_catalog.ceil(pg_catalog.date_part('epoch',
            v_nth + v_window - pg_catalog.now())))::bigint::text)));
    RETURN auth_private._error_response(429, 'Too many failed logins, try again later');
END
$$;

CREATE OR REPLACE FUNCTION auth_private._password_refused(key text, message text) RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    INSERT INTO auth.login_failures (username, failed_at) VALUES ($1, pg_catalog.now());
    DELETE FROM auth.login_failures f
    WHERE f.failed_at <= pg_catalog.now()
        - pg_catalog.make_interval(secs => auth_private._setting('lockout_window')::integer);
    RETURN auth_private._error_response(401, $2);
END
$$;

CREATE OR REPLACE FUNCTION auth_private._start_session(username text, role name) RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_ttl interval := pg_catalog.make_interval(secs => auth_private._setting('refresh_token_ttl')::integer);
    v_session uuid;
    v_refresh text := auth_private._new_refresh_token();
BEGIN
    INSERT INTO auth.sessions (username, expires_at)
    VALUES ($1, pg_catalog.now() + v_ttl)
    RETURNING id INTO v_session;
    INSERT INTO auth.refresh_tokens (session_id, token_hash, expires_at)
    VALUES (v_session, auth_private._refresh_token_hash(v_refresh), pg_catalog.now() + v_ttl);
    RETURN auth_private._session_response(v_session, $1, $2, v_refresh);
END
$$;

CREATE OR REPLACE FUNCTION auth_private._caller_session(OUT username text, OUT session_id uuid)
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

CREATE OR REPLACE FUNCTION auth_private._request_sessions() RETURNS uuid[]
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

CREATE OR REPLACE FUNCTION auth.login(username text, password text) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_key text;
    v_user record;
    v_answer jsonb;
BEGIN
    PERFORM auth_private._require_committing_transaction();
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
        RETURN auth_private._password_refused(v_key, 'Invalid user or password');
    END IF;
    IF auth_private._password_needs_rehash(v_user.password) THEN
        UPDATE auth.users u SET password = auth_private._hash_to_store($2)
        WHERE u.username = v_user.username;
    END IF;
    DELETE FROM auth.login_failures f WHERE f.username = v_key;
    RETURN auth_private._start_session(v_user.username, v_user.role);
END
$$;

CREATE OR REPLACE FUNCTION auth_private._refresh_refused() RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM auth_private._clear_session_cookies();
    RETURN auth_private._error_response(401, 'Invalid or expired refresh token');
END
$$;

CREATE OR REPLACE FUNCTION auth.refresh_token(token text DEFAULT NULL) RETURNS jsonb
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
    v_expires_at timestamptz;
    v_new text;
BEGIN
    PERFORM auth_private._require_committing_transaction();
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
            refreshed_at = pg_catalog.now()
        FROM auth.users u
        WHERE s.id = v_session AND auth_private._live(s) AND u.username = s.username
        RETURNING s.username, u.role, s.expires_at INTO v_username, v_role, v_expires_at;
        IF NOT FOUND THEN
            RETURN auth_private._refresh_refused();
        END IF;
        v_new := auth_private._new_refresh_token();
        INSERT INTO auth.refresh_tokens (session_id, token_hash, expires_at)
        VALUES (v_session, auth_private._refresh_token_hash(v_new), v_expires_at);
        RETURN auth_private._session_response(v_session, v_username, v_role, v_new);
    END IF;

    -- Unknown, expired, or spent: only a spent, unexpired token of a live session goes on, to the
    -- grace window or to reuse detection.
    SELECT rt.session_id, rt.spent_at INTO v_session, v_spent_at
    FROM auth.refresh_tokens rt
    WHERE rt.token_hash = v_hash AND rt.spent_at IS NOT NULL AND rt.expires_at > pg_catalog.now();
    IF NOT FOUND THEN
        RETURN auth_private._refresh_refused();
    END IF;
    SELECT s.username, u.role INTO v_username, v_role
    FROM auth.sessions s JOIN auth.users u ON u.username = s.username
    WHERE s.id = v_session AND auth_private._live(s)
    FOR NO KEY UPDATE OF s;
    IF NOT FOUND THEN
        RETURN auth_private._refresh_refused();
    END IF;
    IF pg_catalog.now() < v_spent_at
            + pg_catalog.make_interval(secs => auth_private._setting('refresh_reuse_interval')::integer) THEN
        RETURN auth_private._session_response(v_session, v_username, v_role, NULL);
    END IF;
    UPDATE auth.sessions s SET revoked_at = pg_catalog.now() WHERE s.id = v_session;
    RETURN auth_private._refresh_refused();
END
$$;

CREATE OR REPLACE FUNCTION auth.logout(scope text DEFAULT 'local') RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_sids uuid[];
BEGIN
    PERFORM auth_private._require_committing_transaction();
    IF $1 IS NULL OR $1 NOT IN ('local', 'global') THEN
        RAISE SQLSTATE '22023' USING MESSAGE = 'scope must be ''local'' or ''global''';
    END IF;
    v_sids := auth_private._request_sessions();
    IF $1 = 'local' THEN
        UPDATE auth.sessions s SET revoked_at = pg_catalog.now()
        WHERE s.id = ANY (v_sids) AND s.revoked_at IS NULL;
    ELSE
        -- Lock the users first, as password checks do: a login in flight commits its session
        -- before this revokes it, or starts after.
        PERFORM FROM auth.users u
        WHERE u.username IN (SELECT o.username FROM auth.sessions o WHERE o.id = ANY (v_sids))
        ORDER BY u.username
        FOR NO KEY UPDATE;
        UPDATE auth.sessions s SET revoked_at = pg_catalog.now()
        WHERE s.revoked_at IS NULL
          AND s.username IN (SELECT o.username FROM auth.sessions o WHERE o.id = ANY (v_sids));
    END IF;
    PERFORM auth_private._clear_session_cookies();
END
$$;

-- change_password answers its refusals through response.status now (so that a failed check is
-- recorded for the throttle), hence a jsonb result: the function is recreated, and the roles
-- that could execute it (auth.grant_session_access's grants) can again.
SELECT pg_catalog.set_config('auth_update.change_password_grantees', coalesce((
    SELECT pg_catalog.string_agg(pg_catalog.quote_ident(r.rolname), ',')
    FROM pg_catalog.pg_proc p, pg_catalog.aclexplode(p.proacl) a
    JOIN pg_catalog.pg_roles r ON r.oid = a.grantee
    WHERE p.oid = 'auth.change_password(text, text)'::pg_catalog.regprocedure
      AND a.privilege_type = 'EXECUTE' AND a.grantee <> p.proowner), ''), true);
DROP FUNCTION auth.change_password(text, text);

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
        RETURN auth_private._password_refused(v_key, 'Wrong current password');
    END IF;
    UPDATE auth.users u SET password = auth_private._hash_to_store($2)
    WHERE u.username = v_user.username;
    UPDATE auth.sessions s SET revoked_at = pg_catalog.now()
    WHERE s.username = v_user.username AND s.revoked_at IS NULL
      AND s.id IS DISTINCT FROM v_caller.session_id;
    GET DIAGNOSTICS v_revoked = ROW_COUNT;
    DELETE FROM auth.login_failures f WHERE f.username = v_key;
    RETURN pg_catalog.jsonb_build_object('username', v_user.username, 'revoked_sessions', v_revoked);
END
$$;

CREATE OR REPLACE FUNCTION auth.revoke_user_sessions(username text) RETURNS integer
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
    UPDATE auth.sessions s SET revoked_at = pg_catalog.now()
    WHERE s.username = $1 AND s.revoked_at IS NULL;
    GET DIAGNOSTICS v_count = ROW_COUNT;
    RETURN v_count;
END
$$;

CREATE OR REPLACE FUNCTION auth.purge_sessions(older_than interval DEFAULT '7 days') RETURNS integer
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
        - pg_catalog.make_interval(secs => auth_private._setting('lockout_window')::integer);
    RETURN v_count;
END
$$;

CREATE OR REPLACE FUNCTION auth.grant_session_access(anon_role name, authenticated_roles name[] DEFAULT '{}')
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

CREATE OR REPLACE FUNCTION auth.check_request() RETURNS void
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

CREATE OR REPLACE FUNCTION auth_private._check_request_credentials(claims text) RETURNS void
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
        PERFORM FROM auth.sessions AS s WHERE s.id = m.sid AND auth_private._live(s);
        IF NOT FOUND THEN
            RAISE SQLSTATE 'PT401' USING MESSAGE = 'session ended: log in again';
        END IF;
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION auth.grant_request_check(roles name[]) RETURNS void
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

-- Only roles that may act as a role can assign it to a user (runs before the hashing trigger).
CREATE TRIGGER users_a_check_role
BEFORE INSERT OR UPDATE ON auth.users
FOR EACH ROW EXECUTE FUNCTION auth_private._users_check_role();


-- Comments, as a fresh install has them.

COMMENT ON TABLE auth.api_tokens IS
    'API tokens issued by auth.create_api_token (the JWT itself is never stored). Delete a row or set revoked_at to revoke.';

COMMENT ON COLUMN auth.api_tokens.claims IS 'Extra claims the token carries besides tid, role, iat and exp.';

COMMENT ON COLUMN auth.api_tokens.created_by IS 'The role that called create_api_token (after SET ROLE).';

COMMENT ON COLUMN auth.api_tokens.last_used_at IS
    'Last request seen by auth.check_request, recorded at most once a minute and only by read-write, read-committed requests.';

COMMENT ON FUNCTION auth.create_api_token(text, name, timestamptz, jsonb) IS
    'Records an API token and returns its JWT (tid, role, iat, exp when expiring, extra claims). Shown once.';


COMMENT ON FUNCTION auth.revoke_api_token(uuid) IS
    'Revokes an API token at once; true if it was live, false if unknown or already revoked.';


COMMENT ON TABLE auth.api_keys IS
    'API keys issued by auth.create_api_key: only the SHA-256 of each key is stored.';

COMMENT ON COLUMN auth.api_keys.display_prefix IS 'The first characters of the key (pgauth_ + 6), to tell keys apart.';

COMMENT ON COLUMN auth.api_keys.last_used_at IS
    'Last exchange or request seen, recorded at most once a minute and only by read-write, read-committed transactions.';

COMMENT ON FUNCTION auth.create_api_key(name, text, timestamptz, text) IS
    'Creates an API key for a role and plan and returns it; it is shown only this once.';


COMMENT ON FUNCTION auth.exchange_api_key(text) IS
    'Exchanges an API key (argument or x-api-key header) for a short-lived JWT: body {access_token, token_type, expires_in}, header Authorization: Bearer <jwt>.';


COMMENT ON FUNCTION auth.disable_api_key(uuid) IS
    'Disables an API key (reversible with enable_api_key); true if it was enabled.';


COMMENT ON FUNCTION auth.enable_api_key(uuid) IS
    'Enables a disabled API key again; true if it was disabled.';


COMMENT ON FUNCTION auth.revoke_api_key(uuid) IS
    'Revokes an API key for good (deletes it); true if it existed. JWTs it was exchanged for stop working at once.';


COMMENT ON FUNCTION auth.jwt_verify(text) IS
    'Verifies a token with the server key (algorithm, signature, exp/nbf with leeway, aud, iss); raises PT401 naming the reason.';


COMMENT ON TABLE auth.users IS
    'Login users: username (3-256 characters), password hash (bcrypt or argon2), database role.';

COMMENT ON FUNCTION auth.import_user(text, text, name) IS
    'Imports a user with an existing bcrypt (cost 4-14) or argon2id/argon2i hash; superuser only.';


COMMENT ON TABLE auth.sessions IS
    'Login sessions; live iff revoked_at IS NULL AND expires_at > now(). The access token''s sid is the id.';


COMMENT ON TABLE auth.refresh_tokens IS
    'Refresh tokens as SHA-256 hashes; spent_at is set when the token is rotated.';


COMMENT ON TABLE auth.login_failures IS
    'Failed password checks within auth.lockout_window, for throttling (HTTP 429).';


COMMENT ON TABLE auth_private.login_locks IS
    'Lock rows serializing password checks of usernames that have no user.';


COMMENT ON FUNCTION auth.login(text, text) IS
    'Logs in: sets the access_token and refresh_token cookies; 401 "Invalid user or password" and 429 through response.status.';


COMMENT ON FUNCTION auth.refresh_token(text) IS
    'Rotates the refresh token (cookie or argument) and sets both cookies; reuse after auth.refresh_reuse_interval revokes the session; 401 through response.status.';


COMMENT ON FUNCTION auth.logout(text) IS
    'Clears the session cookies and revokes the current session (''local'') or all sessions of its user (''global'').';


COMMENT ON FUNCTION auth.change_password(text, text) IS
    'Changes the logged-in user''s password (checking the current one under the login throttle) and revokes their other sessions.';


COMMENT ON FUNCTION auth.grant_session_access(name, name[]) IS
    'Grants PostgREST''s anonymous role login/refresh_token/logout and authenticated roles refresh_token/logout/change_password.';


COMMENT ON FUNCTION auth.check_request() IS
    'PostgREST db-pre-request hook: refuses (PT401) revoked/expired API tokens and keys, ended sessions, and API credentials without the proxy secret.';


COMMENT ON FUNCTION auth.grant_request_check(name[]) IS
    'Grants EXECUTE on auth.check_request (and its private slow path) to the given roles.';



-- The key store (sql/signing_keys.sql): new functions of the library, then the table, its
-- trigger and the functions of the SQL API, as a fresh install creates them.
CREATE FUNCTION auth_private."_valid_kid"(
	"kid" TEXT
) RETURNS bool
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c
AS 'MODULE_PATHNAME', '_valid_kid_wrapper';

CREATE FUNCTION auth_private."_valid_signing_alg"(
	"alg" TEXT
) RETURNS bool
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c
AS 'MODULE_PATHNAME', '_valid_signing_alg_wrapper';

CREATE FUNCTION auth_private."_key_store_changed"(
	"relid" oid
) RETURNS void
STRICT VOLATILE PARALLEL UNSAFE
LANGUAGE c
AS 'MODULE_PATHNAME', '_key_store_changed_wrapper';

CREATE FUNCTION auth_private."_generate_signing_key"(
	"alg" TEXT
) RETURNS TABLE (
	"kid" TEXT,
	"public_jwk" jsonb,
	"sealed_key" bytea
)
STRICT VOLATILE PARALLEL UNSAFE
LANGUAGE c
AS 'MODULE_PATHNAME', '_generate_signing_key_wrapper';

CREATE FUNCTION auth_private."_parse_verification_key"(
	"key" TEXT,
	"requested_kid" TEXT
) RETURNS TABLE (
	"kid" TEXT,
	"alg" TEXT,
	"public_jwk" jsonb
)
IMMUTABLE PARALLEL SAFE
LANGUAGE c
AS 'MODULE_PATHNAME', '_parse_verification_key_wrapper';

CREATE FUNCTION auth_private."_check_signing_key"(
	"kid" TEXT,
	"alg" TEXT,
	"sealed_key" bytea
) RETURNS void
STRICT STABLE PARALLEL SAFE
LANGUAGE c
AS 'MODULE_PATHNAME', '_check_signing_key_wrapper';

CREATE FUNCTION auth."postgrest_jwt_secret"() RETURNS TEXT
STRICT STABLE PARALLEL SAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'postgrest_jwt_secret_wrapper';

-- The key store: every key auth signs or verifies with besides the auth.jwt_secret setting.
-- A key's state decides what it does (auth_core::keystore): standby keys are published and
-- verify, the one active key also signs, previous keys verify, retired keys do nothing. Imported
-- keys (public keys of other issuers) verify only. Private parts are sealed under
-- auth.key_encryption_key, a setting of postgresql.conf: the table, its dumps and every role that
-- may read all data hold ciphertext only. Only the extension owner reads the table; admins use the
-- functions and the auth.signing_keys view once granted them (docs/keys.md).

CREATE TABLE auth_private.signing_keys (
    kid            text        PRIMARY KEY
                               CONSTRAINT signing_keys_kid_check CHECK (auth_private._valid_kid(kid)),
    alg            text        NOT NULL
                               CONSTRAINT signing_keys_alg_check CHECK (auth_private._valid_signing_alg(alg)),
    state          text        NOT NULL
                               CONSTRAINT signing_keys_state_check
                               CHECK (state IN ('standby', 'active', 'previous', 'retired')),
    origin         text        NOT NULL
                               CONSTRAINT signing_keys_origin_check CHECK (origin IN ('generated', 'imported')),
    public_jwk     jsonb       CONSTRAINT signing_keys_public_jwk_check
                               CHECK (pg_catalog.jsonb_typeof(public_jwk) = 'object'),
    sealed_key     bytea,
    created_at     timestamptz NOT NULL DEFAULT pg_catalog.now(),
    activated_at   timestamptz,
    deactivated_at timestamptz,
    retired_at     timestamptz,
    -- Generated keys keep their sealed private part until retired; imported keys never had one
    -- and never sign; HMAC keys have no public JWK.
    CONSTRAINT signing_keys_material_check CHECK (
        CASE origin
            WHEN 'imported' THEN sealed_key IS NULL AND public_jwk IS NOT NULL
                                 AND state IN ('previous', 'retired')
            ELSE (sealed_key IS NOT NULL OR state = 'retired')
                 AND ((public_jwk IS NULL) = (alg IN ('HS256', 'HS384', 'HS512')))
        END)
);
-- Exactly one key signs: two active keys cannot be written.
CREATE UNIQUE INDEX signing_keys_one_active ON auth_private.signing_keys ((true)) WHERE state = 'active';
COMMENT ON TABLE auth_private.signing_keys IS
    'The key store of auth (kids, algorithms, states; private parts sealed under auth.key_encryption_key). Change it through the auth.*_signing_key functions.';
SELECT pg_catalog.pg_extension_config_dump('auth_private.signing_keys', '');

-- Any change of the table, through the functions below or by hand: every backend drops its cache
-- of the keys (src/keys.rs) and PostgREST reloads its configuration, which runs
-- auth.postgrest_pre_config when it is PostgREST's db-pre-config.
CREATE FUNCTION auth_private._signing_keys_changed() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    channel pg_catalog.text := auth_private._setting('postgrest_channel');
BEGIN
    PERFORM auth_private._key_store_changed(TG_RELID);
    IF channel <> '' THEN
        PERFORM pg_catalog.pg_notify(channel, 'reload config');
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER signing_keys_changed
AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON auth_private.signing_keys
FOR EACH STATEMENT EXECUTE FUNCTION auth_private._signing_keys_changed();

-- Key changes are serialized, each taking this lock before it writes (a writer that upgraded
-- from the insert's lock would deadlock with another); readers (the caches) go through.
CREATE FUNCTION auth_private._lock_signing_keys() RETURNS void
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ LOCK TABLE auth_private.signing_keys IN SHARE ROW EXCLUSIVE MODE $$;

-- The row of kid, locked, or 22023 naming the kid.
CREATE FUNCTION auth_private._signing_key(kid text) RETURNS auth_private.signing_keys
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    k auth_private.signing_keys;
BEGIN
    IF kid IS NULL THEN
        RAISE SQLSTATE '22023' USING MESSAGE = 'kid must not be NULL';
    END IF;
    PERFORM auth_private._lock_signing_keys();
    SELECT * INTO k FROM auth_private.signing_keys AS s WHERE s.kid = _signing_key.kid;
    IF NOT FOUND THEN
        RAISE SQLSTATE '22023' USING MESSAGE =
            pg_catalog.format('no signing key has kid %s', pg_catalog.quote_literal(pg_catalog.left(kid, 128)));
    END IF;
    RETURN k;
END
$$;

CREATE FUNCTION auth.create_signing_key(alg text DEFAULT 'ES256') RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    k record;
BEGIN
    IF alg IS NULL THEN
        RAISE SQLSTATE '22023' USING MESSAGE = 'alg must not be NULL';
    END IF;
    PERFORM auth_private._lock_signing_keys();
    SELECT * INTO k FROM auth_private._generate_signing_key(alg);
    INSERT INTO auth_private.signing_keys (kid, alg, state, origin, public_jwk, sealed_key)
    VALUES (k.kid, create_signing_key.alg, 'standby', 'generated', k.public_jwk, k.sealed_key);
    RETURN k.kid;
END
$$;
COMMENT ON FUNCTION auth.create_signing_key(text) IS
    'Creates a signing key (ES256, EdDSA, HS256, HS384 or HS512) in standby: published, not yet signing. Returns its kid.';

CREATE FUNCTION auth.activate_signing_key(kid text) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    k auth_private.signing_keys := auth_private._signing_key(kid);
BEGIN
    IF k.origin = 'imported' THEN
        RAISE SQLSTATE '22023' USING MESSAGE =
            pg_catalog.format('signing key %s was imported to verify tokens of another issuer and cannot sign', pg_catalog.quote_literal(k.kid));
    ELSIF k.state = 'retired' THEN
        RAISE SQLSTATE '22023' USING MESSAGE =
            pg_catalog.format('signing key %s is retired; create a new key', pg_catalog.quote_literal(k.kid));
    ELSIF k.state = 'active' THEN
        RETURN;
    END IF;
    PERFORM auth_private._check_signing_key(k.kid, k.alg, k.sealed_key);
    UPDATE auth_private.signing_keys AS s
    SET state = 'previous', deactivated_at = pg_catalog.now()
    WHERE s.state = 'active';
    UPDATE auth_private.signing_keys AS s
    SET state = 'active', activated_at = pg_catalog.now(), deactivated_at = NULL
    WHERE s.kid = k.kid;
END
$$;
COMMENT ON FUNCTION auth.activate_signing_key(text) IS
    'Makes a key the one that signs; the key that signed until now becomes previous (it still verifies).';

CREATE FUNCTION auth.retire_signing_key(kid text) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    k auth_private.signing_keys := auth_private._signing_key(kid);
BEGIN
    IF k.state = 'active' THEN
        RAISE SQLSTATE '22023' USING MESSAGE =
            pg_catalog.format('signing key %s is active: activate another key before retiring it', pg_catalog.quote_literal(k.kid));
    ELSIF k.state = 'retired' THEN
        RETURN;
    END IF;
    -- The private part goes with it: a retired key never comes back.
    UPDATE auth_private.signing_keys AS s
    SET state = 'retired', retired_at = pg_catalog.now(), sealed_key = NULL
    WHERE s.kid = k.kid;
END
$$;
COMMENT ON FUNCTION auth.retire_signing_key(text) IS
    'Retires a key that is not active: no longer published, its tokens are refused, its private part is erased.';

CREATE FUNCTION auth.import_verification_key(key text, kid text DEFAULT NULL) RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    k record;
BEGIN
    IF key IS NULL THEN
        RAISE SQLSTATE '22023' USING MESSAGE = 'key must not be NULL';
    END IF;
    PERFORM auth_private._lock_signing_keys();
    SELECT * INTO k FROM auth_private._parse_verification_key(key, kid);
    IF EXISTS (SELECT FROM auth_private.signing_keys AS s WHERE s.kid = k.kid) THEN
        RAISE SQLSTATE '23505' USING MESSAGE =
            pg_catalog.format('a signing key with kid %s already exists', pg_catalog.quote_literal(k.kid));
    END IF;
    INSERT INTO auth_private.signing_keys (kid, alg, state, origin, public_jwk)
    VALUES (k.kid, k.alg, 'previous', 'imported', k.public_jwk);
    RETURN k.kid;
END
$$;
COMMENT ON FUNCTION auth.import_verification_key(text, text) IS
    'Imports a public key (PEM or JWK: RSA, EC P-256, Ed25519) to verify tokens issued elsewhere. Returns its kid (the argument, the JWK''s kid, or its thumbprint).';

-- The public JWK Set: standby, active, previous and imported keys; never an HMAC key, never a
-- private part. Executable by everyone: other services fetch it (GET /rpc/jwks).
CREATE FUNCTION auth.jwks() RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pg_catalog.jsonb_build_object('keys', coalesce(
        pg_catalog.jsonb_agg(k.public_jwk ORDER BY k.state <> 'active', k.created_at, k.kid),
        '[]'::jsonb))
    FROM auth_private.signing_keys AS k
    WHERE k.state <> 'retired' AND k.public_jwk IS NOT NULL
$$;
COMMENT ON FUNCTION auth.jwks() IS
    'The public JWK Set of the keys that verify (no HMAC key, no private part), for other services.';

-- PostgREST's db-pre-config: hands PostgREST the keys to verify with at every configuration
-- (re)load. With asymmetric keys only, that is public keys; with HMAC keys (auth.jwt_secret
-- included), the secrets: grant it to PostgREST's authenticator role alone.
CREATE FUNCTION auth.postgrest_pre_config() RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM pg_catalog.set_config('pgrst.jwt_secret', auth.postgrest_jwt_secret(), true);
    PERFORM pg_catalog.set_config('pgrst.jwt_secret_is_base64', 'false', true);
END
$$;
COMMENT ON FUNCTION auth.postgrest_pre_config() IS
    'PostgREST db-pre-config: sets pgrst.jwt_secret to auth.postgrest_jwt_secret(). Grant it to the authenticator role only.';
COMMENT ON FUNCTION auth.postgrest_jwt_secret() IS
    'The JWK Set PostgREST''s jwt-secret must hold for the current keys (HMAC keys included, as oct JWKs with their alg). Superuser only.';

CREATE VIEW auth.signing_keys AS
SELECT kid, alg, state, origin, created_at, activated_at, deactivated_at, retired_at
FROM auth_private.signing_keys;
COMMENT ON VIEW auth.signing_keys IS
    'The keys of the store and their states, without key material. For admins (grant SELECT).';

-- Cookie authentication (auth.cookie_auth), the cross-site rule and the cookie settings:
-- auth.request_roles (the roles auth.grant_request_check enabled, filled below from the grants it
-- made before this update), the hook's helpers, the hook and grant_request_check, and the one
-- line of login, refresh_token and logout that applies the cross-site rule.
CREATE FUNCTION auth_private."_cookie_claims"(
	"claims" TEXT /* Option < & str > */
) RETURNS TEXT /* Option < String > */
STABLE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', '_cookie_claims_wrapper';
CREATE FUNCTION auth_private."_cross_origin_refusal"(
	"cookie_authenticated" bool /* bool */
) RETURNS TEXT /* Option < String > */
STRICT STABLE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', '_cross_origin_refusal_wrapper';

CREATE TABLE auth.request_roles (
    role       name        PRIMARY KEY,
    granted_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE auth.request_roles IS
    'Roles auth.grant_request_check enabled; cookie authentication switches only to these.';
SELECT pg_catalog.pg_extension_config_dump('auth.request_roles', '');

REVOKE ALL ON TABLE auth.request_roles FROM PUBLIC;
-- The roles earlier calls of auth.grant_request_check granted the hook to.
INSERT INTO auth.request_roles (role)
SELECT DISTINCT r.rolname
FROM pg_catalog.pg_proc p
CROSS JOIN LATERAL pg_catalog.aclexplode(p.proacl) a
JOIN pg_catalog.pg_roles r ON r.oid = a.grantee
WHERE p.oid = 'auth.check_request()'::pg_catalog.regprocedure AND a.privilege_type = 'EXECUTE'
ON CONFLICT DO NOTHING;

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

CREATE OR REPLACE FUNCTION auth.check_request() RETURNS void
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

CREATE OR REPLACE FUNCTION auth.grant_request_check(roles name[]) RETURNS void
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

CREATE OR REPLACE FUNCTION auth.login(username text, password text) RETURNS jsonb
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
        RETURN auth_private._password_refused(v_key, 'Invalid user or password');
    END IF;
    IF auth_private._password_needs_rehash(v_user.password) THEN
        UPDATE auth.users u SET password = $2 WHERE u.username = v_user.username;
    END IF;
    DELETE FROM auth.login_failures f WHERE f.username = v_key;
    RETURN auth_private._start_session(v_user.username, v_user.role);
END
$$;

CREATE OR REPLACE FUNCTION auth.refresh_token(token text DEFAULT NULL) RETURNS jsonb
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
            refreshed_at = pg_catalog.now()
        FROM auth.users u
        WHERE s.id = v_session AND auth_private._live(s) AND u.username = s.username
        RETURNING s.username, u.role, s.expires_at INTO v_username, v_role, v_expires_at;
        IF NOT FOUND THEN
            RETURN auth_private._refresh_refused();
        END IF;
        v_new := auth_private._new_refresh_token();
        INSERT INTO auth.refresh_tokens (session_id, token_hash, expires_at)
        VALUES (v_session, auth_private._refresh_token_hash(v_new), v_expires_at);
        RETURN auth_private._session_response(v_session, v_username, v_role, v_new);
    END IF;

    -- Unknown, expired, or spent: only a spent, unexpired token of a live session goes on, to the
    -- grace window or to reuse detection.
    SELECT rt.session_id, rt.spent_at INTO v_session, v_spent_at
    FROM auth.refresh_tokens rt
    WHERE rt.token_hash = v_hash AND rt.spent_at IS NOT NULL AND rt.expires_at > pg_catalog.now();
    IF NOT FOUND THEN
        RETURN auth_private._refresh_refused();
    END IF;
    SELECT s.username, u.role INTO v_username, v_role
    FROM auth.sessions s JOIN auth.users u ON u.username = s.username
    WHERE s.id = v_session AND auth_private._live(s)
    FOR NO KEY UPDATE OF s;
    IF NOT FOUND THEN
        RETURN auth_private._refresh_refused();
    END IF;
    IF pg_catalog.now() < v_spent_at
            + pg_catalog.make_interval(secs => auth_private._setting('refresh_reuse_interval')::integer) THEN
        RETURN auth_private._session_response(v_session, v_username, v_role, NULL);
    END IF;
    UPDATE auth.sessions s SET revoked_at = pg_catalog.now() WHERE s.id = v_session;
    RETURN auth_private._refresh_refused();
END
$$;

CREATE OR REPLACE FUNCTION auth.logout(scope text DEFAULT 'local') RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_sids uuid[];
BEGIN
    PERFORM auth_private._require_committing_transaction();
    PERFORM auth_private._require_same_origin();
    IF $1 IS NULL OR $1 NOT IN ('local', 'global') THEN
        RAISE SQLSTATE '22023' USING MESSAGE = 'scope must be ''local'' or ''global''';
    END IF;
    v_sids := auth_private._request_sessions();
    IF $1 = 'local' THEN
        UPDATE auth.sessions s SET revoked_at = pg_catalog.now()
        WHERE s.id = ANY (v_sids) AND s.revoked_at IS NULL;
    ELSE
        -- Lock the users first, as password checks do: a login in flight commits its session
        -- before this revokes it, or starts after.
        PERFORM FROM auth.users u
        WHERE u.username IN (SELECT o.username FROM auth.sessions o WHERE o.id = ANY (v_sids))
        ORDER BY u.username
        FOR NO KEY UPDATE;
        UPDATE auth.sessions s SET revoked_at = pg_catalog.now()
        WHERE s.revoked_at IS NULL
          AND s.username IN (SELECT o.username FROM auth.sessions o WHERE o.id = ANY (v_sids));
    END IF;
    PERFORM auth_private._clear_session_cookies();
END
$$;

-- The hook calls its new helpers for every request: the roles granted it before this update are
-- granted them too, as auth.grant_request_check now does. A GRANT inside an extension script is
-- recorded as an initial privilege, so the record is set back to what a fresh install has (the
-- owner's alone, after the REVOKE).
REVOKE ALL ON FUNCTION
    auth_private._cookie_claims(text), auth_private._cookie_role(text), auth_private._role_settings(name)
FROM PUBLIC;
DO $$
DECLARE
    f regprocedure;
    r name;
    v_initprivs pg_catalog.aclitem[];
BEGIN
    FOREACH f IN ARRAY ARRAY['auth_private._cookie_claims(text)', 'auth_private._cookie_role(text)',
                             'auth_private._role_settings(name)']::regprocedure[] LOOP
        SELECT i.initprivs INTO v_initprivs FROM pg_catalog.pg_init_privs i
        WHERE i.objoid = f AND i.classoid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND i.objsubid = 0;
        FOR r IN SELECT q.role FROM auth.request_roles q ORDER BY q.role LOOP
            EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO %I', f, r);
        END LOOP;
        UPDATE pg_catalog.pg_init_privs i SET initprivs = v_initprivs
        WHERE i.objoid = f AND i.classoid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND i.objsubid = 0;
    END LOOP;
END
$$;


-- Sessions as users and operators see them, throttling by client address, the audit log.
-- auth.sessions gains last_seen_at (existing sessions count as seen at the update), the client's
-- user agent and address, the authentication method and why a session ended;
-- auth.login_failures the client's address. Timeouts join the liveness rule; new functions:
-- my_sessions, end_my_session; logout takes 'others'; every flow records its events in
-- auth.audit_log.
CREATE FUNCTION auth_private."_session_timeout"(
	"created_at" timestamp with time zone,
	"last_seen_at" timestamp with time zone
) RETURNS TEXT
STRICT STABLE PARALLEL SAFE
LANGUAGE c
AS 'MODULE_PATHNAME', '_session_timeout_wrapper';

CREATE FUNCTION auth_private."_request_client_ip"() RETURNS inet
STRICT STABLE PARALLEL SAFE
LANGUAGE c
AS 'MODULE_PATHNAME', '_request_client_ip_wrapper';

ALTER TABLE auth.sessions
    ADD COLUMN last_seen_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    ADD COLUMN user_agent   text,
    ADD COLUMN client_ip    inet,
    ADD COLUMN method       text        NOT NULL DEFAULT 'password',
    ADD COLUMN ended_reason text;
COMMENT ON TABLE auth.sessions IS
    'Login sessions; live iff auth_private._live (not revoked, not expired, not timed out). The access token''s sid is the id.';
COMMENT ON COLUMN auth.sessions.method IS 'How the session was started: password (login) or signup.';
COMMENT ON COLUMN auth.sessions.ended_reason IS
    'Why revoked_at was set: logout, ended_by_user, password_changed, revoked, refresh_reuse, idle_timeout, max_lifetime.';

ALTER TABLE auth.login_failures ADD COLUMN client_ip inet;
CREATE INDEX login_failures_client_ip_idx ON auth.login_failures (client_ip, failed_at)
    WHERE client_ip IS NOT NULL;

CREATE TABLE auth.audit_log (
    id            bigint      GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    at            timestamptz NOT NULL DEFAULT pg_catalog.now(),
    event         text        NOT NULL,
    username      text,
    session_id    uuid,
    credential_id uuid,
    client_ip     inet,
    user_agent    text,
    detail        jsonb       NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_at_idx ON auth.audit_log (at);
CREATE INDEX audit_log_username_idx ON auth.audit_log (username, at);
COMMENT ON TABLE auth.audit_log IS
    'Security events of auth (logins, refreshes, logouts, sessions ended, password changes, API credentials, signing keys); no secrets. Purged by auth.purge_sessions after auth.audit_retention.';
COMMENT ON COLUMN auth.audit_log.credential_id IS 'The API token (tid) or API key the event concerns.';
COMMENT ON COLUMN auth.audit_log.client_ip IS 'The client address reported in auth.client_ip_header, when set and valid.';
SELECT pg_catalog.pg_extension_config_dump('auth.audit_log', '');
SELECT pg_catalog.pg_extension_config_dump('auth.audit_log_id_seq', '');

-- Records one event. The client's address (auth_private._request_client_ip) and user agent (the
-- request's user-agent header, cut to 512 characters) are read here, so every flow records with
-- one line. In a READ ONLY transaction nothing is written and nothing is raised: an audit row
-- never turns an answer into an error. The flows call it after their checks, in the transaction
-- that commits their answer (a 401 or 429 answered through response.status included).
CREATE FUNCTION auth_private._audit(
    event text,
    username text DEFAULT NULL,
    session_id uuid DEFAULT NULL,
    credential_id uuid DEFAULT NULL,
    detail jsonb DEFAULT NULL
) RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF pg_catalog.current_setting('transaction_read_only') = 'on' THEN
        RETURN;
    END IF;
    INSERT INTO auth.audit_log (event, username, session_id, credential_id, client_ip, user_agent, detail)
    VALUES ($1, $2, $3, $4, auth_private._request_client_ip(),
            pg_catalog.left(auth_private._request_header('user-agent'), 512), coalesce($5, '{}'));
END
$$;

CREATE OR REPLACE FUNCTION auth_private._live(s auth.sessions) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT s.revoked_at IS NULL AND s.expires_at OPERATOR(pg_catalog.>) pg_catalog.now()
       AND auth_private._session_timeout(s.created_at, s.last_seen_at) IS NULL
$$;

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

CREATE OR REPLACE FUNCTION auth_private._throttled(key text) RETURNS jsonb
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

CREATE OR REPLACE FUNCTION auth_private._password_refused(key text, message text) RETURNS jsonb
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

CREATE OR REPLACE FUNCTION auth_private._start_session(username text, role name) RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_ttl interval := pg_catalog.make_interval(secs => auth_private._setting('refresh_token_ttl')::integer);
    v_session uuid;
    v_refresh text := auth_private._new_refresh_token();
BEGIN
    INSERT INTO auth.sessions (username, expires_at, user_agent, client_ip, method)
    VALUES ($1, pg_catalog.now() + v_ttl, pg_catalog.left(auth_private._request_header('user-agent'), 512),
            auth_private._request_client_ip(), 'password')
    RETURNING id INTO v_session;
    INSERT INTO auth.refresh_tokens (session_id, token_hash, expires_at)
    VALUES (v_session, auth_private._refresh_token_hash(v_refresh), pg_catalog.now() + v_ttl);
    PERFORM auth_private._audit('login_succeeded', $1, v_session, NULL,
                                pg_catalog.jsonb_build_object('method', 'password'));
    RETURN auth_private._session_response(v_session, $1, $2, v_refresh);
END
$$;

CREATE OR REPLACE FUNCTION auth.login(username text, password text) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_key text;
    v_user record;
    v_answer jsonb;
BEGIN
    PERFORM auth_private._require_committing_transaction();
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
    IF auth_private._password_needs_rehash(v_user.password) THEN
        UPDATE auth.users u SET password = auth_private._hash_to_store($2)
        WHERE u.username = v_user.username;
    END IF;
    DELETE FROM auth.login_failures f
    WHERE f.username = v_key AND f.client_ip IS NOT DISTINCT FROM auth_private._request_client_ip();
    RETURN auth_private._start_session(v_user.username, v_user.role);
END
$$;

CREATE OR REPLACE FUNCTION auth.refresh_token(token text DEFAULT NULL) RETURNS jsonb
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
    v_expires_at timestamptz;
    v_new text;
BEGIN
    PERFORM auth_private._require_committing_transaction();
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
        RETURNING s.username, u.role, s.expires_at INTO v_username, v_role, v_expires_at;
        IF NOT FOUND THEN
            PERFORM auth_private._end_timed_out_session(v_session);
            RETURN auth_private._refresh_refused();
        END IF;
        v_new := auth_private._new_refresh_token();
        INSERT INTO auth.refresh_tokens (session_id, token_hash, expires_at)
        VALUES (v_session, auth_private._refresh_token_hash(v_new), v_expires_at);
        PERFORM auth_private._audit('refresh', v_username, v_session);
        RETURN auth_private._session_response(v_session, v_username, v_role, v_new);
    END IF;

    -- Unknown, expired, or spent: only a spent, unexpired token of a live session goes on, to the
    -- grace window or to reuse detection.
    SELECT rt.session_id, rt.spent_at INTO v_session, v_spent_at
    FROM auth.refresh_tokens rt
    WHERE rt.token_hash = v_hash AND rt.spent_at IS NOT NULL AND rt.expires_at > pg_catalog.now();
    IF NOT FOUND THEN
        RETURN auth_private._refresh_refused();
    END IF;
    SELECT s.username, u.role INTO v_username, v_role
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
        RETURN auth_private._session_response(v_session, v_username, v_role, NULL);
    END IF;
    UPDATE auth.sessions s SET revoked_at = pg_catalog.now(), ended_reason = 'refresh_reuse'
    WHERE s.id = v_session;
    PERFORM auth_private._audit('refresh_reuse_detected', v_username, v_session);
    RETURN auth_private._refresh_refused();
END
$$;

CREATE OR REPLACE FUNCTION auth.logout(scope text DEFAULT 'local') RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_sids uuid[];
    r record;
BEGIN
    PERFORM auth_private._require_committing_transaction();
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

CREATE OR REPLACE FUNCTION auth.change_password("current" text, new text) RETURNS jsonb
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

CREATE OR REPLACE FUNCTION auth.revoke_user_sessions(username text) RETURNS integer
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

CREATE OR REPLACE FUNCTION auth.purge_sessions(older_than interval DEFAULT '7 days') RETURNS integer
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
    IF v_retention > 0 THEN
        DELETE FROM auth.audit_log a
        WHERE a.at < pg_catalog.now() - pg_catalog.make_interval(secs => v_retention);
    END IF;
    RETURN v_count;
END
$$;

CREATE OR REPLACE FUNCTION auth.grant_session_access(anon_role name, authenticated_roles name[] DEFAULT '{}')
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
            'GRANT EXECUTE ON FUNCTION auth.refresh_token(text), auth.logout(text), auth.change_password(text, text), '
            'auth.my_sessions(), auth.end_my_session(uuid) TO %I',
            v_role);
    END LOOP;
END
$$;
COMMENT ON FUNCTION auth.grant_session_access(name, name[]) IS
    'Grants PostgREST''s anonymous role login/refresh_token/logout and authenticated roles refresh_token/logout/change_password/my_sessions/end_my_session.';

CREATE OR REPLACE FUNCTION auth_private._check_request_credentials(claims text) RETURNS void
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

CREATE OR REPLACE FUNCTION auth_private._record_use(kind text, id uuid, seen timestamptz) RETURNS void
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

CREATE OR REPLACE FUNCTION auth.create_api_token(
    name text,
    role name,
    expires_at timestamptz DEFAULT NULL,
    claims jsonb DEFAULT '{}'
) RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_id     uuid := pg_catalog.gen_random_uuid();
    v_claims jsonb;
    v_exp    bigint;
    v_token  text;
    v_caller pg_catalog.name;
BEGIN
    PERFORM auth_private._require_committing_transaction();
    v_claims := coalesce(claims, '{}'::jsonb);
    v_caller := auth_private._invoking_role();
    IF create_api_token.name IS NULL THEN
        RAISE SQLSTATE '22023' USING MESSAGE = 'name must be 1 to 256 characters';
    END IF;
    PERFORM auth_private._check_credential_role(create_api_token.role, v_caller);
    PERFORM auth_private._check_credential_fields(create_api_token.name, NULL, create_api_token.expires_at);
    IF pg_catalog.isfinite(expires_at) THEN
        v_exp := pg_catalog.floor(pg_catalog.date_part('epoch', expires_at))::bigint;
    END IF;
    -- Signs first: bad claims or a missing key fail before anything is written.
    v_token := auth_private._sign_api_token(v_id, create_api_token.role, v_exp, v_claims);
    INSERT INTO auth.api_tokens (id, name, role, claims, created_by, expires_at)
    VALUES (v_id, create_api_token.name, create_api_token.role, v_claims, v_caller, create_api_token.expires_at);
    PERFORM auth_private._audit('api_token_created', NULL, NULL, v_id, pg_catalog.jsonb_build_object('name', create_api_token.name, 'role', create_api_token.role, 'by', v_caller));
    RETURN v_token;
END
$$;

CREATE OR REPLACE FUNCTION auth.revoke_api_token(id uuid) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM auth_private._require_committing_transaction();
    IF $1 IS NULL THEN
        RAISE SQLSTATE '22023' USING MESSAGE = 'id must not be NULL';
    END IF;
    UPDATE auth.api_tokens AS t SET revoked_at = pg_catalog.now()
    WHERE t.id = $1 AND t.revoked_at IS NULL;
    PERFORM auth_private._audit('api_token_revoked', NULL, NULL, $1, pg_catalog.jsonb_build_object('by', auth_private._invoking_role())) WHERE FOUND;
    RETURN FOUND;
END
$$;

CREATE OR REPLACE FUNCTION auth.create_api_key(
    role name,
    plan text DEFAULT NULL,
    expires_at timestamptz DEFAULT NULL,
    name text DEFAULT NULL
) RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    k        record;
BEGIN
    PERFORM auth_private._require_committing_transaction();
    PERFORM auth_private._check_credential_role(create_api_key.role, auth_private._invoking_role());
    PERFORM auth_private._check_credential_fields(create_api_key.name, create_api_key.plan,
                                                   create_api_key.expires_at);
    SELECT * INTO k FROM auth_private._new_api_key();
    INSERT INTO auth.api_keys (name, key_hash, display_prefix, role, plan, expires_at, created_by)
    VALUES (create_api_key.name, k.key_hash, k.display_prefix, create_api_key.role,
            create_api_key.plan, create_api_key.expires_at, auth_private._invoking_role());
    PERFORM auth_private._audit('api_key_created', NULL, NULL, a.id, pg_catalog.jsonb_build_object('name', a.name, 'role', a.role, 'plan', a.plan, 'by', a.created_by)) FROM auth.api_keys AS a WHERE a.key_hash = k.key_hash;
    RETURN k.key;
END
$$;

CREATE OR REPLACE FUNCTION auth.exchange_api_key(key text DEFAULT NULL) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    presented text;
    k         record;
    t         record;
    headers   jsonb;
BEGIN
    PERFORM auth_private._require_committing_transaction();
    presented := coalesce(nullif(key, ''), auth_private._request_header('x-api-key'));
    IF presented IS NULL OR presented = '' THEN
        RAISE SQLSTATE 'PT401' USING MESSAGE = 'API key required';
    END IF;
    -- Inside an HTTP request (PostgREST always sets request.headers) a configured proxy secret
    -- is required, as for every request authenticated by an API credential.
    IF coalesce(pg_catalog.current_setting('request.headers', true), '') <> ''
       AND NOT auth_private._proxy_secret_ok() THEN
        RAISE SQLSTATE 'PT401' USING MESSAGE = 'API credentials are accepted only through the API gateway';
    END IF;
    SELECT a.id, a.role, a.plan, a.enabled, a.expires_at, a.last_used_at INTO k
    FROM auth.api_keys AS a WHERE a.key_hash = auth_private._api_key_hash(presented);
    IF NOT FOUND OR NOT k.enabled OR k.expires_at <= pg_catalog.now() THEN
        RAISE SQLSTATE 'PT401' USING MESSAGE = 'Invalid API key';
    END IF;
    PERFORM auth_private._record_use('key', k.id, k.last_used_at);
    PERFORM auth_private._audit('api_key_exchanged', NULL, NULL, k.id);
    SELECT * INTO t FROM auth_private._sign_api_key_token(
        k.id, k.role, k.plan,
        CASE WHEN pg_catalog.isfinite(k.expires_at)
             THEN pg_catalog.floor(pg_catalog.date_part('epoch', k.expires_at))::bigint END);
    -- For gateways, which see only the status and headers of the subrequest: nginx
    -- `auth_request_set $auth $upstream_http_authorization`, Caddy `copy_headers Authorization`.
    headers := pg_catalog.jsonb_build_array(
        pg_catalog.jsonb_build_object('Authorization', 'Bearer ' || t.token),
        pg_catalog.jsonb_build_object('Cache-Control', 'no-store'),
        pg_catalog.jsonb_build_object('X-Api-Key-Id', k.id::text));
    IF k.plan IS NOT NULL THEN
        headers := headers || pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object('X-Api-Plan', k.plan));
    END IF;
    PERFORM auth_private._add_response_headers(headers);
    RETURN pg_catalog.jsonb_build_object(
        'access_token', t.token, 'token_type', 'Bearer', 'expires_in', t.expires_in);
END
$$;

CREATE OR REPLACE FUNCTION auth_private._set_api_key_enabled(id uuid, enabled boolean) RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM auth_private._require_committing_transaction();
    IF $1 IS NULL THEN
        RAISE SQLSTATE '22023' USING MESSAGE = 'id must not be NULL';
    END IF;
    UPDATE auth.api_keys AS a SET enabled = $2 WHERE a.id = $1 AND a.enabled IS DISTINCT FROM $2;
    PERFORM auth_private._audit(CASE WHEN $2 THEN 'api_key_enabled' ELSE 'api_key_disabled' END, NULL, NULL, $1, pg_catalog.jsonb_build_object('by', auth_private._invoking_role())) WHERE FOUND;
    RETURN FOUND;
END
$$;

CREATE OR REPLACE FUNCTION auth.revoke_api_key(id uuid) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM auth_private._require_committing_transaction();
    IF $1 IS NULL THEN
        RAISE SQLSTATE '22023' USING MESSAGE = 'id must not be NULL';
    END IF;
    DELETE FROM auth.api_keys AS a WHERE a.id = $1;
    PERFORM auth_private._audit('api_key_revoked', NULL, NULL, $1, pg_catalog.jsonb_build_object('by', auth_private._invoking_role())) WHERE FOUND;
    RETURN FOUND;
END
$$;

CREATE OR REPLACE FUNCTION auth.create_signing_key(alg text DEFAULT 'ES256') RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    k record;
BEGIN
    IF alg IS NULL THEN
        RAISE SQLSTATE '22023' USING MESSAGE = 'alg must not be NULL';
    END IF;
    PERFORM auth_private._lock_signing_keys();
    SELECT * INTO k FROM auth_private._generate_signing_key(alg);
    INSERT INTO auth_private.signing_keys (kid, alg, state, origin, public_jwk, sealed_key)
    VALUES (k.kid, create_signing_key.alg, 'standby', 'generated', k.public_jwk, k.sealed_key);
    PERFORM auth_private._audit('signing_key_created', NULL, NULL, NULL, pg_catalog.jsonb_build_object(
        'kid', k.kid, 'alg', create_signing_key.alg, 'state', 'standby', 'by', auth_private._invoking_role()));
    RETURN k.kid;
END
$$;

CREATE OR REPLACE FUNCTION auth.activate_signing_key(kid text) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    k auth_private.signing_keys := auth_private._signing_key(kid);
    v_previous text;
BEGIN
    IF k.origin = 'imported' THEN
        RAISE SQLSTATE '22023' USING MESSAGE =
            pg_catalog.format('signing key %s was imported to verify tokens of another issuer and cannot sign', pg_catalog.quote_literal(k.kid));
    ELSIF k.state = 'retired' THEN
        RAISE SQLSTATE '22023' USING MESSAGE =
            pg_catalog.format('signing key %s is retired; create a new key', pg_catalog.quote_literal(k.kid));
    ELSIF k.state = 'active' THEN
        RETURN;
    END IF;
    PERFORM auth_private._check_signing_key(k.kid, k.alg, k.sealed_key);
    UPDATE auth_private.signing_keys AS s
    SET state = 'previous', deactivated_at = pg_catalog.now()
    WHERE s.state = 'active'
    RETURNING s.kid INTO v_previous;
    UPDATE auth_private.signing_keys AS s
    SET state = 'active', activated_at = pg_catalog.now(), deactivated_at = NULL
    WHERE s.kid = k.kid;
    PERFORM auth_private._audit('signing_key_activated', NULL, NULL, NULL, pg_catalog.jsonb_build_object(
        'kid', k.kid, 'alg', k.alg, 'from_state', k.state, 'previous_kid', v_previous,
        'by', auth_private._invoking_role()));
END
$$;

CREATE OR REPLACE FUNCTION auth.retire_signing_key(kid text) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    k auth_private.signing_keys := auth_private._signing_key(kid);
BEGIN
    IF k.state = 'active' THEN
        RAISE SQLSTATE '22023' USING MESSAGE =
            pg_catalog.format('signing key %s is active: activate another key before retiring it', pg_catalog.quote_literal(k.kid));
    ELSIF k.state = 'retired' THEN
        RETURN;
    END IF;
    -- The private part goes with it: a retired key never comes back.
    UPDATE auth_private.signing_keys AS s
    SET state = 'retired', retired_at = pg_catalog.now(), sealed_key = NULL
    WHERE s.kid = k.kid;
    PERFORM auth_private._audit('signing_key_retired', NULL, NULL, NULL, pg_catalog.jsonb_build_object(
        'kid', k.kid, 'alg', k.alg, 'from_state', k.state, 'by', auth_private._invoking_role()));
END
$$;

CREATE OR REPLACE FUNCTION auth.import_verification_key(key text, kid text DEFAULT NULL) RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    k record;
BEGIN
    IF key IS NULL THEN
        RAISE SQLSTATE '22023' USING MESSAGE = 'key must not be NULL';
    END IF;
    PERFORM auth_private._lock_signing_keys();
    SELECT * INTO k FROM auth_private._parse_verification_key(key, kid);
    IF EXISTS (SELECT FROM auth_private.signing_keys AS s WHERE s.kid = k.kid) THEN
        RAISE SQLSTATE '23505' USING MESSAGE =
            pg_catalog.format('a signing key with kid %s already exists', pg_catalog.quote_literal(k.kid));
    END IF;
    INSERT INTO auth_private.signing_keys (kid, alg, state, origin, public_jwk)
    VALUES (k.kid, k.alg, 'previous', 'imported', k.public_jwk);
    PERFORM auth_private._audit('verification_key_imported', NULL, NULL, NULL, pg_catalog.jsonb_build_object(
        'kid', k.kid, 'alg', k.alg, 'state', 'previous', 'by', auth_private._invoking_role()));
    RETURN k.kid;
END
$$;

-- The new session functions go to the roles auth.grant_session_access set up (those that could
-- execute change_password before the update, recorded above when it was recreated), as it grants
-- them now. Their initial privileges stay the owner's alone, as in a fresh install: GRANT inside
-- an extension script records the grantees as initial privileges, so the record is set back to
-- what it was before the grant.
REVOKE ALL ON FUNCTION auth.my_sessions(), auth.end_my_session(uuid) FROM PUBLIC;
DO $$
DECLARE
    v_grantees text := nullif(pg_catalog.current_setting('auth_update.change_password_grantees'), '');
    v_initprivs pg_catalog.aclitem[] := (
        SELECT i.initprivs FROM pg_catalog.pg_init_privs i
        WHERE i.objoid = 'auth.my_sessions()'::pg_catalog.regprocedure
          AND i.classoid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND i.objsubid = 0);
BEGIN
    IF v_grantees IS NOT NULL THEN
        EXECUTE 'GRANT EXECUTE ON FUNCTION auth.my_sessions(), auth.end_my_session(uuid) TO ' || v_grantees;
        UPDATE pg_catalog.pg_init_privs i
        SET initprivs = v_initprivs
        WHERE i.objoid IN ('auth.my_sessions()'::pg_catalog.regprocedure,
                           'auth.end_my_session(uuid)'::pg_catalog.regprocedure)
          AND i.classoid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND i.objsubid = 0;
    END IF;
END
$$;


-- API keys made elsewhere (auth.import_api_key: any key of 20 to 256 printable ASCII characters
-- is stored and exchanged like auth's own), scopes on API tokens and keys (the scope claim,
-- auth.has_scope), and API tokens users make for themselves (auth.create_my_api_token).
CREATE FUNCTION auth_private."_valid_scopes"(
	"scopes" TEXT[]
) RETURNS bool
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c
AS 'MODULE_PATHNAME', '_valid_scopes_wrapper';

CREATE FUNCTION auth_private."_check_scopes"(
	"scopes" TEXT[]
) RETURNS TEXT[]
IMMUTABLE PARALLEL SAFE
LANGUAGE c
AS 'MODULE_PATHNAME', '_check_scopes_wrapper';

CREATE FUNCTION auth_private."_imported_api_key"(
	"key" TEXT
) RETURNS TABLE (
	"display_prefix" TEXT,
	"key_hash" bytea
)
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c
AS 'MODULE_PATHNAME', '_imported_api_key_wrapper';

CREATE FUNCTION auth."has_scope"(
	"scope" TEXT
) RETURNS bool
STRICT STABLE PARALLEL SAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'has_scope_wrapper';

-- The signing helpers take the scopes: recreated (nothing but the flows below calls them).
DROP FUNCTION auth_private._sign_api_token(uuid, text, bigint, jsonb);
CREATE FUNCTION auth_private."_sign_api_token"(
	"tid" uuid,
	"role" TEXT,
	"exp" bigint,
	"claims" jsonb,
	"scopes" TEXT[]
) RETURNS TEXT
STABLE PARALLEL SAFE
LANGUAGE c
AS 'MODULE_PATHNAME', '_sign_api_token_scoped_wrapper';

DROP FUNCTION auth_private._sign_api_key_token(uuid, text, text, bigint);
CREATE FUNCTION auth_private."_sign_api_key_token"(
	"key_id" uuid,
	"role" TEXT,
	"plan" TEXT,
	"not_after" bigint,
	"scopes" TEXT[]
) RETURNS TABLE (
	"token" TEXT,
	"expires_in" bigint
)
STABLE PARALLEL SAFE
LANGUAGE c
AS 'MODULE_PATHNAME', '_sign_api_key_token_scoped_wrapper';

-- New columns, last as in a fresh install. Existing rows have no scopes and no owning user.
ALTER TABLE auth.api_tokens
    ADD COLUMN scopes   text[] CONSTRAINT api_tokens_scopes_check CHECK (auth_private._valid_scopes(scopes)),
    ADD COLUMN username text   REFERENCES auth.users (username) ON DELETE CASCADE ON UPDATE CASCADE;
CREATE INDEX api_tokens_username_idx ON auth.api_tokens (username);
ALTER TABLE auth.api_keys
    ADD COLUMN scopes text[] CONSTRAINT api_keys_scopes_check CHECK (auth_private._valid_scopes(scopes));
COMMENT ON COLUMN auth.api_tokens.scopes IS
    'The scopes the token carries in its scope claim (space-separated); NULL: no scope claim.';
COMMENT ON COLUMN auth.api_tokens.username IS
    'The user who made the token for themselves (auth.create_my_api_token); NULL for tokens made by create_api_token.';
COMMENT ON COLUMN auth.api_keys.display_prefix IS
    'The first characters of the key (pgauth_ + 6; 4 for an imported key of another format), to tell keys apart.';
COMMENT ON COLUMN auth.api_keys.scopes IS
    'The scopes the exchanged JWT carries in its scope claim (space-separated); NULL: no scope claim.';

-- create_api_token and create_api_key take scopes: recreated, and the roles that could execute
-- them (the credential admins of docs/api-credentials.md) can again, with the initial privileges
-- of a fresh install (the owner's alone), as for change_password above.
SELECT pg_catalog.set_config('auth_update.credential_grantees', coalesce((
    SELECT pg_catalog.string_agg(p.proname || ' ' || pg_catalog.quote_ident(r.rolname), ',')
    FROM pg_catalog.pg_proc p, pg_catalog.aclexplode(p.proacl) a
    JOIN pg_catalog.pg_roles r ON r.oid = a.grantee
    WHERE p.oid IN ('auth.create_api_token(text, name, timestamptz, jsonb)'::pg_catalog.regprocedure,
                    'auth.create_api_key(name, text, timestamptz, text)'::pg_catalog.regprocedure)
      AND a.privilege_type = 'EXECUTE' AND a.grantee <> p.proowner), ''), true);
DROP FUNCTION auth.create_api_token(text, name, timestamptz, jsonb);
DROP FUNCTION auth.create_api_key(name, text, timestamptz, text);

CREATE FUNCTION auth.create_api_token(
    name text,
    role name,
    expires_at timestamptz DEFAULT NULL,
    claims jsonb DEFAULT '{}',
    scopes text[] DEFAULT NULL
) RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_id     uuid := pg_catalog.gen_random_uuid();
    v_claims jsonb;
    v_exp    bigint;
    v_token  text;
    v_caller pg_catalog.name;
    v_scopes text[];
BEGIN
    PERFORM auth_private._require_committing_transaction();
    v_claims := coalesce(claims, '{}'::jsonb);
    v_caller := auth_private._invoking_role();
    IF create_api_token.name IS NULL THEN
        RAISE SQLSTATE '22023' USING MESSAGE = 'name must be 1 to 256 characters';
    END IF;
    PERFORM auth_private._check_credential_role(create_api_token.role, v_caller);
    PERFORM auth_private._check_credential_fields(create_api_token.name, NULL, create_api_token.expires_at);
    v_scopes := auth_private._check_scopes(create_api_token.scopes);
    IF pg_catalog.isfinite(expires_at) THEN
        v_exp := pg_catalog.floor(pg_catalog.date_part('epoch', expires_at))::bigint;
    END IF;
    -- Signs first: bad claims or a missing key fail before anything is written.
    v_token := auth_private._sign_api_token(v_id, create_api_token.role, v_exp, v_claims, v_scopes);
    INSERT INTO auth.api_tokens (id, name, role, claims, created_by, expires_at, scopes)
    VALUES (v_id, create_api_token.name, create_api_token.role, v_claims, v_caller, create_api_token.expires_at,
            v_scopes);
    RETURN v_token;
END
$$;
COMMENT ON FUNCTION auth.create_api_token(text, name, timestamptz, jsonb, text[]) IS
    'Records an API token and returns its JWT (tid, role, iat, exp when expiring, scope when scoped, extra claims). Shown once.';

CREATE FUNCTION auth.create_api_key(
    role name,
    plan text DEFAULT NULL,
    expires_at timestamptz DEFAULT NULL,
    name text DEFAULT NULL,
    scopes text[] DEFAULT NULL
) RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    k        record;
    v_scopes text[];
BEGIN
    PERFORM auth_private._require_committing_transaction();
    PERFORM auth_private._check_credential_role(create_api_key.role, auth_private._invoking_role());
    PERFORM auth_private._check_credential_fields(create_api_key.name, create_api_key.plan,
                                                   create_api_key.expires_at);
    v_scopes := auth_private._check_scopes(create_api_key.scopes);
    SELECT * INTO k FROM auth_private._new_api_key();
    INSERT INTO auth.api_keys (name, key_hash, display_prefix, role, plan, expires_at, created_by, scopes)
    VALUES (create_api_key.name, k.key_hash, k.display_prefix, create_api_key.role,
            create_api_key.plan, create_api_key.expires_at, auth_private._invoking_role(), v_scopes);
    RETURN k.key;
END
$$;
COMMENT ON FUNCTION auth.create_api_key(name, text, timestamptz, text, text[]) IS
    'Creates an API key for a role, plan and scopes and returns it; it is shown only this once.';

REVOKE ALL ON FUNCTION auth.create_api_token(text, name, timestamptz, jsonb, text[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION auth.create_api_key(name, text, timestamptz, text, text[]) FROM PUBLIC;
-- GRANT inside an extension script records the grant as an initial privilege: the record is set
-- back to what it was before the grants.
DO $$
DECLARE
    v_grant text;
    v_init  jsonb := (
        SELECT pg_catalog.jsonb_object_agg(i.objoid::text, i.initprivs::text)
        FROM pg_catalog.pg_init_privs i
        WHERE i.objoid IN ('auth.create_api_token(text, name, timestamptz, jsonb, text[])'::pg_catalog.regprocedure,
                           'auth.create_api_key(name, text, timestamptz, text, text[])'::pg_catalog.regprocedure)
          AND i.classoid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND i.objsubid = 0);
BEGIN
    IF pg_catalog.current_setting('auth_update.credential_grantees') = '' THEN
        RETURN;
    END IF;
    FOREACH v_grant IN ARRAY pg_catalog.string_to_array(
            pg_catalog.current_setting('auth_update.credential_grantees'), ',') LOOP
        EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO %s',
            CASE pg_catalog.split_part(v_grant, ' ', 1)
                WHEN 'create_api_token' THEN 'auth.create_api_token(text, name, timestamptz, jsonb, text[])'
                ELSE 'auth.create_api_key(name, text, timestamptz, text, text[])' END,
            pg_catalog.substr(v_grant, pg_catalog.strpos(v_grant, ' ') + 1));
    END LOOP;
    UPDATE pg_catalog.pg_init_privs i
    SET initprivs = (v_init ->> i.objoid::text)::pg_catalog.aclitem[]
    WHERE i.objoid IN ('auth.create_api_token(text, name, timestamptz, jsonb, text[])'::pg_catalog.regprocedure,
                       'auth.create_api_key(name, text, timestamptz, text, text[])'::pg_catalog.regprocedure)
      AND i.classoid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND i.objsubid = 0;
END
$$;

CREATE FUNCTION auth.import_api_key(
    key text,
    role name,
    plan text DEFAULT NULL,
    enabled boolean DEFAULT true,
    expires_at timestamptz DEFAULT NULL,
    name text DEFAULT NULL,
    scopes text[] DEFAULT NULL
) RETURNS uuid
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_id     uuid := pg_catalog.gen_random_uuid();
    v_caller pg_catalog.name := auth_private._invoking_role();
    v_scopes text[];
    k        record;
BEGIN
    PERFORM auth_private._require_committing_transaction();
    IF import_api_key.key IS NULL THEN
        RAISE SQLSTATE '22023' USING MESSAGE = 'key must not be NULL';
    END IF;
    IF import_api_key.enabled IS NULL THEN
        RAISE SQLSTATE '22023' USING MESSAGE = 'enabled must not be NULL';
    END IF;
    SELECT * INTO k FROM auth_private._imported_api_key(import_api_key.key);
    PERFORM auth_private._check_credential_role(import_api_key.role, v_caller);
    PERFORM auth_private._check_credential_fields(import_api_key.name, import_api_key.plan,
                                                   import_api_key.expires_at);
    v_scopes := auth_private._check_scopes(import_api_key.scopes);
    BEGIN
        INSERT INTO auth.api_keys (id, name, key_hash, display_prefix, role, plan, enabled, expires_at,
                                   created_by, scopes)
        VALUES (v_id, import_api_key.name, k.key_hash, k.display_prefix, import_api_key.role,
                import_api_key.plan, import_api_key.enabled, import_api_key.expires_at, v_caller, v_scopes);
    EXCEPTION WHEN unique_violation THEN
        -- Not the constraint's own message, whose detail shows the key's hash.
        RAISE SQLSTATE '23505' USING MESSAGE = 'this API key is already stored';
    END;
    RETURN v_id;
END
$$;
COMMENT ON FUNCTION auth.import_api_key(text, name, text, boolean, timestamptz, text, text[]) IS
    'Imports an API key made elsewhere (20-256 printable ASCII characters), storing only its SHA-256; returns its id.';

CREATE OR REPLACE FUNCTION auth.exchange_api_key(key text DEFAULT NULL) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    presented text;
    k         record;
    t         record;
    headers   jsonb;
BEGIN
    PERFORM auth_private._require_committing_transaction();
    presented := coalesce(nullif(key, ''), auth_private._request_header('x-api-key'));
    IF presented IS NULL OR presented = '' THEN
        RAISE SQLSTATE 'PT401' USING MESSAGE = 'API key required';
    END IF;
    -- Inside an HTTP request (PostgREST always sets request.headers) a configured proxy secret
    -- is required, as for every request authenticated by an API credential.
    IF coalesce(pg_catalog.current_setting('request.headers', true), '') <> ''
       AND NOT auth_private._proxy_secret_ok() THEN
        RAISE SQLSTATE 'PT401' USING MESSAGE = 'API credentials are accepted only through the API gateway';
    END IF;
    SELECT a.id, a.role, a.plan, a.enabled, a.expires_at, a.last_used_at, a.scopes INTO k
    FROM auth.api_keys AS a WHERE a.key_hash = auth_private._api_key_hash(presented);
    IF NOT FOUND OR NOT k.enabled OR k.expires_at <= pg_catalog.now() THEN
        RAISE SQLSTATE 'PT401' USING MESSAGE = 'Invalid API key';
    END IF;
    PERFORM auth_private._record_use('key', k.id, k.last_used_at);
    SELECT * INTO t FROM auth_private._sign_api_key_token(
        k.id, k.role, k.plan,
        CASE WHEN pg_catalog.isfinite(k.expires_at)
             THEN pg_catalog.floor(pg_catalog.date_part('epoch', k.expires_at))::bigint END,
        k.scopes);
    -- For gateways, which see only the status and headers of the subrequest: nginx
    -- `auth_request_set $auth $upstream_http_authorization`, Caddy `copy_headers Authorization`.
    headers := pg_catalog.jsonb_build_array(
        pg_catalog.jsonb_build_object('Authorization', 'Bearer ' || t.token),
        pg_catalog.jsonb_build_object('Cache-Control', 'no-store'),
        pg_catalog.jsonb_build_object('X-Api-Key-Id', k.id::text));
    IF k.plan IS NOT NULL THEN
        headers := headers || pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object('X-Api-Plan', k.plan));
    END IF;
    PERFORM auth_private._add_response_headers(headers);
    RETURN pg_catalog.jsonb_build_object(
        'access_token', t.token, 'token_type', 'Bearer', 'expires_in', t.expires_in);
END
$$;

-- API tokens a logged-in user makes for themselves (a script, a CLI, a CI job acting as them):
-- rows of auth.api_tokens with username set, carrying sub = that username and the user's own role
-- (auth.users.role), never more; each may be narrowed by scopes. The operator bounds them with
-- auth.my_api_token_max_ttl (a required expiry, capped) and auth.my_api_token_max_count (live
-- tokens per user). None of these functions is granted by default (docs/api-credentials.md).

-- The user the caller's own access token proves (auth_private._caller_session, as for
-- change_password: the Authorization bearer token or the access_token cookie, verified, its
-- session live when it names one; never request.jwt.claims), with the user's role. PT401 'Not
-- logged in' otherwise, and for a token that is itself an API credential (tid, key_id): a token
-- proves a user only when the user logged in for it, else a narrowly scoped token could mint a
-- broader one, or outlive its own revocation through the tokens it made.
CREATE FUNCTION auth_private._my_token_owner(OUT username text, OUT role name)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_claims jsonb := auth_private._caller_claims(true);
    v_caller record;
BEGIN
    IF v_claims IS NULL OR v_claims ? 'tid' OR v_claims ? 'key_id' THEN
        RAISE SQLSTATE 'PT401' USING MESSAGE = 'Not logged in';
    END IF;
    SELECT * INTO v_caller FROM auth_private._caller_session();
    SELECT u.username, u.role INTO username, role
    FROM auth.users AS u WHERE u.username = v_caller.username;
    IF username IS NULL THEN
        RAISE SQLSTATE 'PT401' USING MESSAGE = 'Not logged in';
    END IF;
END
$$;

-- POST /rpc/create_my_api_token {"name": ..., "expires_at": ..., "scopes": [...]}
--
-- Returns the token's JWT (shown once): sub (the username), tid, role (the user's), scope when
-- scoped, iat, exp. Raised: PT401 'Not logged in' (see _my_token_owner); 22023 for a NULL, empty
-- or over-256-character name, a NULL, infinite or past expires_at, one later than
-- auth.my_api_token_max_ttl from now, or bad scopes; 54000 when the user already holds
-- auth.my_api_token_max_count live tokens; 25006 (HTTP 405) in a read-only transaction or with
-- Prefer: tx=rollback. Creations by one user are serialized on the user's row, so the cap holds
-- under concurrency. Nothing is written unless the token is returned.
CREATE FUNCTION auth.create_my_api_token(name text, expires_at timestamptz, scopes text[] DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_owner  record;
    v_id     uuid := pg_catalog.gen_random_uuid();
    v_scopes text[];
    v_max    integer := auth_private._setting('my_api_token_max_count')::integer;
    v_ttl    integer := auth_private._setting('my_api_token_max_ttl')::integer;
    v_claims jsonb;
    v_token  text;
BEGIN
    PERFORM auth_private._require_committing_transaction();
    SELECT * INTO v_owner FROM auth_private._my_token_owner();
    IF create_my_api_token.name IS NULL THEN
        RAISE SQLSTATE '22023' USING MESSAGE = 'name must be 1 to 256 characters';
    END IF;
    IF create_my_api_token.expires_at IS NULL OR NOT pg_catalog.isfinite(create_my_api_token.expires_at) THEN
        RAISE SQLSTATE '22023' USING MESSAGE = 'expires_at is required and must be finite';
    END IF;
    PERFORM auth_private._check_credential_fields(create_my_api_token.name, NULL, create_my_api_token.expires_at);
    IF create_my_api_token.expires_at > pg_catalog.now() + pg_catalog.make_interval(secs => v_ttl) THEN
        RAISE SQLSTATE '22023' USING MESSAGE = pg_catalog.format(
            'expires_at must be at most %s seconds from now (auth.my_api_token_max_ttl)', v_ttl);
    END IF;
    v_scopes := auth_private._check_scopes(create_my_api_token.scopes);
    PERFORM FROM auth.users AS u WHERE u.username = v_owner.username FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RAISE SQLSTATE 'PT401' USING MESSAGE = 'Not logged in';
    END IF;
    IF (SELECT pg_catalog.count(*) FROM auth.api_tokens AS t
        WHERE t.username = v_owner.username AND t.revoked_at IS NULL
          AND (t.expires_at IS NULL OR t.expires_at > pg_catalog.now())) >= v_max THEN
        RAISE SQLSTATE '54000' USING MESSAGE = pg_catalog.format(
            'at most %s live API tokens per user (auth.my_api_token_max_count): revoke one first', v_max);
    END IF;
    v_claims := pg_catalog.jsonb_build_object('sub', v_owner.username);
    v_token := auth_private._sign_api_token(
        v_id, v_owner.role,
        pg_catalog.floor(pg_catalog.date_part('epoch', create_my_api_token.expires_at))::bigint,
        v_claims, v_scopes);
    INSERT INTO auth.api_tokens (id, name, role, claims, created_by, expires_at, scopes, username)
    VALUES (v_id, create_my_api_token.name, v_owner.role, v_claims, auth_private._invoking_role(),
            create_my_api_token.expires_at, v_scopes, v_owner.username);
    RETURN v_token;
END
$$;
COMMENT ON FUNCTION auth.create_my_api_token(text, timestamptz, text[]) IS
    'Creates an API token for the logged-in user (their role, sub = username, optional scopes) and returns its JWT. Shown once.';

-- GET /rpc/my_api_tokens: the tokens the logged-in user made for themselves, newest first, live
-- or not; never a secret (the JWT is not stored). PT401 'Not logged in' as above.
CREATE FUNCTION auth.my_api_tokens()
RETURNS TABLE (id uuid, name text, created_at timestamptz, expires_at timestamptz,
               last_used_at timestamptz, revoked_at timestamptz, scopes text[])
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_owner record;
BEGIN
    SELECT * INTO v_owner FROM auth_private._my_token_owner();
    RETURN QUERY
        SELECT t.id, t.name, t.created_at, t.expires_at, t.last_used_at, t.revoked_at, t.scopes
        FROM auth.api_tokens AS t
        WHERE t.username = v_owner.username
        ORDER BY t.created_at DESC, t.id;
END
$$;
COMMENT ON FUNCTION auth.my_api_tokens() IS
    'The API tokens the logged-in user made for themselves (no secrets).';

-- POST /rpc/revoke_my_api_token {"id": ...}: revokes one of the logged-in user's own tokens.
-- True if it was live; false if unknown, already revoked or another user's (one answer for all).
-- PT401 'Not logged in' as above; 22023 for NULL; 25006 (HTTP 405) in a read-only transaction.
CREATE FUNCTION auth.revoke_my_api_token(id uuid) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_owner record;
BEGIN
    PERFORM auth_private._require_committing_transaction();
    SELECT * INTO v_owner FROM auth_private._my_token_owner();
    IF $1 IS NULL THEN
        RAISE SQLSTATE '22023' USING MESSAGE = 'id must not be NULL';
    END IF;
    UPDATE auth.api_tokens AS t SET revoked_at = pg_catalog.now()
    WHERE t.id = $1 AND t.username = v_owner.username AND t.revoked_at IS NULL;
    RETURN FOUND;
END
$$;
COMMENT ON FUNCTION auth.revoke_my_api_token(uuid) IS
    'Revokes one of the logged-in user''s own API tokens; true if it was live, false otherwise (also for another user''s).';

-- The claim helper for row-level security, as executable as the others.
GRANT EXECUTE ON FUNCTION auth.has_scope(text) TO PUBLIC;


-- Deleting accounts: auth.delete_my_account for the user themselves, auth.delete_user for
-- administrators.
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

CREATE OR REPLACE FUNCTION auth.grant_session_access(anon_role name, authenticated_roles name[] DEFAULT '{}')
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
            'GRANT EXECUTE ON FUNCTION auth.refresh_token(text), auth.logout(text), auth.change_password(text, text), '
            'auth.my_sessions(), auth.end_my_session(uuid), auth.delete_my_account(text) TO %I',
            v_role);
    END LOOP;
END
$$;
COMMENT ON FUNCTION auth.grant_session_access(name, name[]) IS
    'Grants PostgREST''s anonymous role login/refresh_token/logout and authenticated roles refresh_token/logout/change_password/my_sessions/end_my_session/delete_my_account.';

-- delete_my_account goes to the roles auth.grant_session_access set up (those that could execute
-- change_password before the update), as it grants it now; its initial privileges stay the
-- owner's alone, as in a fresh install (see my_sessions above). delete_user is for administrators:
-- granted to no one.
REVOKE ALL ON FUNCTION auth.delete_my_account(text), auth.delete_user(text) FROM PUBLIC;
DO $$
DECLARE
    v_grantees text := nullif(pg_catalog.current_setting('auth_update.change_password_grantees'), '');
    v_initprivs pg_catalog.aclitem[] := (
        SELECT i.initprivs FROM pg_catalog.pg_init_privs i
        WHERE i.objoid = 'auth.delete_my_account(text)'::pg_catalog.regprocedure
          AND i.classoid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND i.objsubid = 0);
BEGIN
    IF v_grantees IS NOT NULL THEN
        EXECUTE 'GRANT EXECUTE ON FUNCTION auth.delete_my_account(text) TO ' || v_grantees;
        UPDATE pg_catalog.pg_init_privs i
        SET initprivs = v_initprivs
        WHERE i.objoid = 'auth.delete_my_account(text)'::pg_catalog.regprocedure
          AND i.classoid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND i.objsubid = 0;
    END IF;
END
$$;

-- Custom claims: auth.users.app_metadata (a JSON object set by administrators, carried by every
-- session access token) and auth.access_token_hook (a function that decides the claims of session
-- access tokens, called as its owner at login and refresh; sql/sessions.sql). The session answer
-- now signs the claims it is given: auth_private._session_response takes them instead of the
-- session id (the library keeps the old C symbol for 0.1.0's SQL), and _start_session takes the
-- session's method.
ALTER TABLE auth.users
    ADD COLUMN app_metadata jsonb NOT NULL DEFAULT '{}',
    ADD CONSTRAINT users_app_metadata_object
        CHECK (pg_catalog.jsonb_typeof(app_metadata) OPERATOR(pg_catalog.=) 'object');
COMMENT ON COLUMN auth.users.app_metadata IS
    'A JSON object set by administrators, carried as the app_metadata claim of session access tokens.';

DROP FUNCTION auth_private._session_response(uuid, text, name, text);
DROP FUNCTION auth_private._start_session(text, name);

CREATE FUNCTION auth_private._session_response(username text, role name, refresh_token text, claims jsonb)
RETURNS jsonb VOLATILE PARALLEL UNSAFE
LANGUAGE c AS 'MODULE_PATHNAME', '_session_response_for_wrapper';

CREATE FUNCTION auth_private._session_claims(session_id uuid, username text, role name, app_metadata jsonb)
RETURNS jsonb STABLE PARALLEL SAFE
LANGUAGE c AS 'MODULE_PATHNAME', '_session_claims_wrapper';

CREATE FUNCTION auth_private."_access_token_hook"() RETURNS bool
STRICT STABLE PARALLEL SAFE
LANGUAGE c
AS 'MODULE_PATHNAME', '_access_token_hook_wrapper';

CREATE FUNCTION auth_private."_call_access_token_hook"(
	"event" jsonb
) RETURNS jsonb
VOLATILE PARALLEL UNSAFE
LANGUAGE c
AS 'MODULE_PATHNAME', '_call_access_token_hook_wrapper';

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

-- Accounts: email addresses on users, sign-up, password reset and email verification through
-- one-time tokens and the outbox (sql/accounts.sql), login's verified-address rule. The new
-- flows go to the roles auth.grant_session_access set up (at the end of this part).
CREATE FUNCTION auth_private."_normalize_email"(
	"email" TEXT
) RETURNS TEXT
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c
AS 'MODULE_PATHNAME', '_normalize_email_wrapper';

CREATE FUNCTION auth_private."_email_key"(
	"input" TEXT
) RETURNS TEXT
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c
AS 'MODULE_PATHNAME', '_email_key_wrapper';

CREATE FUNCTION auth_private."_new_one_time_token"() RETURNS TEXT
STRICT VOLATILE PARALLEL SAFE
LANGUAGE c
AS 'MODULE_PATHNAME', '_new_one_time_token_wrapper';

CREATE FUNCTION auth_private."_one_time_token_hash"(
	"token" TEXT
) RETURNS bytea
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c
AS 'MODULE_PATHNAME', '_one_time_token_hash_wrapper';

ALTER TABLE auth.users
    ADD COLUMN email text,
    ADD COLUMN email_verified_at timestamptz,
    ADD CONSTRAINT users_email_key UNIQUE (email);

CREATE OR REPLACE FUNCTION auth_private._users_before_write() RETURNS trigger
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_OP = 'INSERT' OR NEW.password IS DISTINCT FROM OLD.password THEN
        NEW.password := auth_private._password_to_store(NEW.username, NEW.password);
    END IF;
    IF NEW.email IS NOT NULL AND (TG_OP = 'INSERT' OR NEW.email IS DISTINCT FROM OLD.email) THEN
        NEW.email := auth_private._normalize_email(NEW.email);
    END IF;
    IF TG_OP = 'UPDATE' THEN
        NEW.updated_at := pg_catalog.now();
        IF NEW.email IS DISTINCT FROM OLD.email
           AND NEW.email_verified_at IS NOT DISTINCT FROM OLD.email_verified_at THEN
            NEW.email_verified_at := NULL;
        END IF;
    END IF;
    RETURN NEW;
END
$$;

DROP FUNCTION auth.import_user(text, text, name);
CREATE FUNCTION auth.import_user(username text, password_hash text, role name, email text DEFAULT NULL,
                                 email_verified boolean DEFAULT false) RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM auth_private._require_committing_transaction();
    IF $1 IS NULL OR $3 IS NULL OR $5 IS NULL THEN
        RAISE SQLSTATE '22023' USING MESSAGE = 'username, role and email_verified must not be NULL';
    END IF;
    PERFORM auth_private._expect_imported_hash($2);
    INSERT INTO auth.users (username, password, role, email, email_verified_at)
    VALUES ($1, $2, $3, $4, CASE WHEN $4 IS NOT NULL AND $5 THEN pg_catalog.now() END);
END
$$;
COMMENT ON FUNCTION auth.import_user(text, text, name, text, boolean) IS
    'Imports a user with an existing bcrypt (cost 4-14) or argon2id/argon2i hash and optional email; superuser only.';

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

CREATE OR REPLACE FUNCTION auth.grant_session_access(anon_role name, authenticated_roles name[] DEFAULT '{}')
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

CREATE OR REPLACE FUNCTION auth.purge_sessions(older_than interval DEFAULT '7 days') RETURNS integer
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
    id         bigint      GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
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
-- when it is unknown, of another purpose, spent or expired. The user's row is locked first (FOR
-- NO KEY UPDATE, the order every account flow takes: user, then tokens), then one UPDATE ...
-- WHERE consumed_at IS NULL spends the token: a concurrent use of the same token waits for this
-- one, then finds it spent. The token's outbox rows are marked consumed (their token erased).
CREATE FUNCTION auth_private._consume_one_time_token(token text, purpose text,
                                                     OUT username text, OUT email text)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_hash bytea := auth_private._one_time_token_hash($1);
    v_username text;
    v_email text;
BEGIN
    SELECT t.username INTO v_username
    FROM auth.one_time_tokens t WHERE t.token_hash = v_hash AND t.purpose = $2;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    PERFORM FROM auth.users u WHERE u.username = v_username FOR NO KEY UPDATE;
    UPDATE auth.one_time_tokens t SET consumed_at = pg_catalog.now()
    WHERE t.token_hash = v_hash AND t.purpose = $2
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
    RETURN auth_private._start_session($1, v_role, 'signup');
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
-- of two concurrent calls with one token exactly one succeeds; the user's row stays locked from
-- there on, auth_private._consume_one_time_token), sets the password (the policy
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
    PERFORM auth_private._check_new_password(v_token.username, $2);
    UPDATE auth.users u
    SET password = auth_private._hash_to_store($2),
        email_verified_at = CASE WHEN u.email = v_token.email
                                 THEN coalesce(u.email_verified_at, pg_catalog.now())
                                 ELSE u.email_verified_at END
    WHERE u.username = v_token.username;
    UPDATE auth.sessions s SET revoked_at = pg_catalog.now(), ended_reason = 'password_reset'
    WHERE s.username = v_token.username AND s.revoked_at IS NULL;
    GET DIAGNOSTICS v_revoked = ROW_COUNT;
    DELETE FROM auth.login_failures f WHERE f.username = auth_private._throttle_key(v_token.username);
    PERFORM auth_private._clear_session_cookies();
    PERFORM auth_private._audit('password_reset', v_token.username, NULL, NULL,
                                pg_catalog.jsonb_build_object('revoked_sessions', v_revoked));
    RETURN pg_catalog.jsonb_build_object('username', v_token.username, 'revoked_sessions', v_revoked);
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
    v_session uuid;
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
        v_session := v_caller.session_id;
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
    PERFORM auth_private._audit('email_verification_requested', v_user.username, v_session, NULL,
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

-- The account functions go to the roles auth.grant_session_access set up, as it grants them now:
-- the anonymous roles (those that could execute login) get all five, the authenticated roles
-- (those that could execute change_password) request_email_verification and verify_email. Their
-- initial privileges stay the owner's alone, as in a fresh install (see delete_my_account above).
REVOKE ALL ON FUNCTION auth.signup(text, text, text), auth.request_password_reset(text),
    auth.reset_password(text, text), auth.request_email_verification(text), auth.verify_email(text),
    auth.grant_outbox_access(name) FROM PUBLIC;
DO $$
DECLARE
    v_anon text := (
        SELECT pg_catalog.string_agg(pg_catalog.quote_ident(r.rolname), ',')
        FROM pg_catalog.pg_proc p, pg_catalog.aclexplode(p.proacl) a
        JOIN pg_catalog.pg_roles r ON r.oid = a.grantee
        WHERE p.oid = 'auth.login(text, text)'::pg_catalog.regprocedure
          AND a.privilege_type = 'EXECUTE' AND a.grantee <> p.proowner);
    v_web text := nullif(pg_catalog.current_setting('auth_update.change_password_grantees'), '');
    f pg_catalog.regprocedure;
    v_initprivs pg_catalog.aclitem[];
BEGIN
    FOREACH f IN ARRAY ARRAY['auth.signup(text, text, text)', 'auth.request_password_reset(text)',
                             'auth.reset_password(text, text)', 'auth.request_email_verification(text)',
                             'auth.verify_email(text)']::pg_catalog.regprocedure[] LOOP
        SELECT i.initprivs INTO v_initprivs FROM pg_catalog.pg_init_privs i
        WHERE i.objoid = f AND i.classoid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND i.objsubid = 0;
        IF v_anon IS NOT NULL THEN
            EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO ', f) || v_anon;
        END IF;
        IF v_web IS NOT NULL AND f IN ('auth.request_email_verification(text)'::pg_catalog.regprocedure,
                                       'auth.verify_email(text)'::pg_catalog.regprocedure) THEN
            EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO ', f) || v_web;
        END IF;
        UPDATE pg_catalog.pg_init_privs i SET initprivs = v_initprivs
        WHERE i.objoid = f AND i.classoid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND i.objsubid = 0;
    END LOOP;
END
$$;

-- Functions that several parts of this update change, in their final form (as sql/*.sql
-- define them).
CREATE OR REPLACE FUNCTION auth.login(username text, password text) RETURNS jsonb
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

CREATE OR REPLACE FUNCTION auth.logout(scope text DEFAULT 'local') RETURNS void
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

CREATE OR REPLACE FUNCTION auth.refresh_token(token text DEFAULT NULL) RETURNS jsonb
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

CREATE OR REPLACE FUNCTION auth.create_api_key(
    role name,
    plan text DEFAULT NULL,
    expires_at timestamptz DEFAULT NULL,
    name text DEFAULT NULL,
    scopes text[] DEFAULT NULL
) RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    k        record;
    v_scopes text[];
BEGIN
    PERFORM auth_private._require_committing_transaction();
    PERFORM auth_private._check_credential_role(create_api_key.role, auth_private._invoking_role());
    PERFORM auth_private._check_credential_fields(create_api_key.name, create_api_key.plan,
                                                   create_api_key.expires_at);
    v_scopes := auth_private._check_scopes(create_api_key.scopes);
    SELECT * INTO k FROM auth_private._new_api_key();
    INSERT INTO auth.api_keys (name, key_hash, display_prefix, role, plan, expires_at, created_by, scopes)
    VALUES (create_api_key.name, k.key_hash, k.display_prefix, create_api_key.role,
            create_api_key.plan, create_api_key.expires_at, auth_private._invoking_role(), v_scopes);
    PERFORM auth_private._audit('api_key_created', NULL, NULL, a.id, pg_catalog.jsonb_build_object('name', a.name, 'role', a.role, 'plan', a.plan, 'by', a.created_by)) FROM auth.api_keys AS a WHERE a.key_hash = k.key_hash;
    RETURN k.key;
END
$$;

CREATE OR REPLACE FUNCTION auth.create_api_token(
    name text,
    role name,
    expires_at timestamptz DEFAULT NULL,
    claims jsonb DEFAULT '{}',
    scopes text[] DEFAULT NULL
) RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_id     uuid := pg_catalog.gen_random_uuid();
    v_claims jsonb;
    v_exp    bigint;
    v_token  text;
    v_caller pg_catalog.name;
    v_scopes text[];
BEGIN
    PERFORM auth_private._require_committing_transaction();
    v_claims := coalesce(claims, '{}'::jsonb);
    v_caller := auth_private._invoking_role();
    IF create_api_token.name IS NULL THEN
        RAISE SQLSTATE '22023' USING MESSAGE = 'name must be 1 to 256 characters';
    END IF;
    PERFORM auth_private._check_credential_role(create_api_token.role, v_caller);
    PERFORM auth_private._check_credential_fields(create_api_token.name, NULL, create_api_token.expires_at);
    v_scopes := auth_private._check_scopes(create_api_token.scopes);
    IF pg_catalog.isfinite(expires_at) THEN
        v_exp := pg_catalog.floor(pg_catalog.date_part('epoch', expires_at))::bigint;
    END IF;
    -- Signs first: bad claims or a missing key fail before anything is written.
    v_token := auth_private._sign_api_token(v_id, create_api_token.role, v_exp, v_claims, v_scopes);
    INSERT INTO auth.api_tokens (id, name, role, claims, created_by, expires_at, scopes)
    VALUES (v_id, create_api_token.name, create_api_token.role, v_claims, v_caller, create_api_token.expires_at,
            v_scopes);
    PERFORM auth_private._audit('api_token_created', NULL, NULL, v_id, pg_catalog.jsonb_build_object('name', create_api_token.name, 'role', create_api_token.role, 'by', v_caller));
    RETURN v_token;
END
$$;

CREATE OR REPLACE FUNCTION auth.create_my_api_token(name text, expires_at timestamptz, scopes text[] DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_owner  record;
    v_id     uuid := pg_catalog.gen_random_uuid();
    v_scopes text[];
    v_max    integer := auth_private._setting('my_api_token_max_count')::integer;
    v_ttl    integer := auth_private._setting('my_api_token_max_ttl')::integer;
    v_claims jsonb;
    v_token  text;
BEGIN
    PERFORM auth_private._require_committing_transaction();
    SELECT * INTO v_owner FROM auth_private._my_token_owner();
    IF create_my_api_token.name IS NULL THEN
        RAISE SQLSTATE '22023' USING MESSAGE = 'name must be 1 to 256 characters';
    END IF;
    IF create_my_api_token.expires_at IS NULL OR NOT pg_catalog.isfinite(create_my_api_token.expires_at) THEN
        RAISE SQLSTATE '22023' USING MESSAGE = 'expires_at is required and must be finite';
    END IF;
    PERFORM auth_private._check_credential_fields(create_my_api_token.name, NULL, create_my_api_token.expires_at);
    IF create_my_api_token.expires_at > pg_catalog.now() + pg_catalog.make_interval(secs => v_ttl) THEN
        RAISE SQLSTATE '22023' USING MESSAGE = pg_catalog.format(
            'expires_at must be at most %s seconds from now (auth.my_api_token_max_ttl)', v_ttl);
    END IF;
    v_scopes := auth_private._check_scopes(create_my_api_token.scopes);
    PERFORM FROM auth.users AS u WHERE u.username = v_owner.username FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RAISE SQLSTATE 'PT401' USING MESSAGE = 'Not logged in';
    END IF;
    IF (SELECT pg_catalog.count(*) FROM auth.api_tokens AS t
        WHERE t.username = v_owner.username AND t.revoked_at IS NULL
          AND (t.expires_at IS NULL OR t.expires_at > pg_catalog.now())) >= v_max THEN
        RAISE SQLSTATE 'PT409' USING MESSAGE = pg_catalog.format(
            'at most %s live API tokens per user (auth.my_api_token_max_count): revoke one first', v_max);
    END IF;
    v_claims := pg_catalog.jsonb_build_object('sub', v_owner.username);
    v_token := auth_private._sign_api_token(
        v_id, v_owner.role,
        pg_catalog.floor(pg_catalog.date_part('epoch', create_my_api_token.expires_at))::bigint,
        v_claims, v_scopes);
    INSERT INTO auth.api_tokens (id, name, role, claims, created_by, expires_at, scopes, username)
    VALUES (v_id, create_my_api_token.name, v_owner.role, v_claims, auth_private._invoking_role(),
            create_my_api_token.expires_at, v_scopes, v_owner.username);
    PERFORM auth_private._audit('api_token_created', v_owner.username, NULL, v_id, pg_catalog.jsonb_build_object('name', create_my_api_token.name, 'role', v_owner.role, 'by', 'self'));
    RETURN v_token;
END
$$;
COMMENT ON FUNCTION auth.create_my_api_token(text, timestamptz, text[]) IS
    'Creates an API token for the logged-in user (their role, sub = username, optional scopes) and returns its JWT. Shown once.';

CREATE OR REPLACE FUNCTION auth.exchange_api_key(key text DEFAULT NULL) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    presented text;
    k         record;
    t         record;
    headers   jsonb;
BEGIN
    PERFORM auth_private._require_committing_transaction();
    presented := coalesce(nullif(key, ''), auth_private._request_header('x-api-key'));
    IF presented IS NULL OR presented = '' THEN
        RAISE SQLSTATE 'PT401' USING MESSAGE = 'API key required';
    END IF;
    -- Inside an HTTP request (PostgREST always sets request.headers) a configured proxy secret
    -- is required, as for every request authenticated by an API credential.
    IF coalesce(pg_catalog.current_setting('request.headers', true), '') <> ''
       AND NOT auth_private._proxy_secret_ok() THEN
        RAISE SQLSTATE 'PT401' USING MESSAGE = 'API credentials are accepted only through the API gateway';
    END IF;
    SELECT a.id, a.role, a.plan, a.enabled, a.expires_at, a.last_used_at, a.scopes INTO k
    FROM auth.api_keys AS a WHERE a.key_hash = auth_private._api_key_hash(presented);
    IF NOT FOUND OR NOT k.enabled OR k.expires_at <= pg_catalog.now() THEN
        RAISE SQLSTATE 'PT401' USING MESSAGE = 'Invalid API key';
    END IF;
    PERFORM auth_private._record_use('key', k.id, k.last_used_at);
    PERFORM auth_private._audit('api_key_exchanged', NULL, NULL, k.id);
    SELECT * INTO t FROM auth_private._sign_api_key_token(
        k.id, k.role, k.plan,
        CASE WHEN pg_catalog.isfinite(k.expires_at)
             THEN pg_catalog.floor(pg_catalog.date_part('epoch', k.expires_at))::bigint END,
        k.scopes);
    -- For gateways, which see only the status and headers of the subrequest: nginx
    -- `auth_request_set $auth $upstream_http_authorization`, Caddy `copy_headers Authorization`.
    headers := pg_catalog.jsonb_build_array(
        pg_catalog.jsonb_build_object('Authorization', 'Bearer ' || t.token),
        pg_catalog.jsonb_build_object('Cache-Control', 'no-store'),
        pg_catalog.jsonb_build_object('X-Api-Key-Id', k.id::text));
    IF k.plan IS NOT NULL THEN
        headers := headers || pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object('X-Api-Plan', k.plan));
    END IF;
    PERFORM auth_private._add_response_headers(headers);
    RETURN pg_catalog.jsonb_build_object(
        'access_token', t.token, 'token_type', 'Bearer', 'expires_in', t.expires_in);
END
$$;

CREATE OR REPLACE FUNCTION auth.import_api_key(
    key text,
    role name,
    plan text DEFAULT NULL,
    enabled boolean DEFAULT true,
    expires_at timestamptz DEFAULT NULL,
    name text DEFAULT NULL,
    scopes text[] DEFAULT NULL
) RETURNS uuid
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_id     uuid := pg_catalog.gen_random_uuid();
    v_caller pg_catalog.name := auth_private._invoking_role();
    v_scopes text[];
    k        record;
BEGIN
    PERFORM auth_private._require_committing_transaction();
    IF import_api_key.key IS NULL THEN
        RAISE SQLSTATE '22023' USING MESSAGE = 'key must not be NULL';
    END IF;
    IF import_api_key.enabled IS NULL THEN
        RAISE SQLSTATE '22023' USING MESSAGE = 'enabled must not be NULL';
    END IF;
    SELECT * INTO k FROM auth_private._imported_api_key(import_api_key.key);
    PERFORM auth_private._check_credential_role(import_api_key.role, v_caller);
    PERFORM auth_private._check_credential_fields(import_api_key.name, import_api_key.plan,
                                                   import_api_key.expires_at);
    v_scopes := auth_private._check_scopes(import_api_key.scopes);
    BEGIN
        INSERT INTO auth.api_keys (id, name, key_hash, display_prefix, role, plan, enabled, expires_at,
                                   created_by, scopes)
        VALUES (v_id, import_api_key.name, k.key_hash, k.display_prefix, import_api_key.role,
                import_api_key.plan, import_api_key.enabled, import_api_key.expires_at, v_caller, v_scopes);
    EXCEPTION WHEN unique_violation THEN
        -- Not the constraint's own message, whose detail shows the key's hash.
        RAISE SQLSTATE '23505' USING MESSAGE = 'this API key is already stored';
    END;
    PERFORM auth_private._audit('api_key_created', NULL, NULL, v_id, pg_catalog.jsonb_build_object('name', import_api_key.name, 'role', import_api_key.role, 'plan', import_api_key.plan, 'by', v_caller, 'imported', true));
    RETURN v_id;
END
$$;

CREATE OR REPLACE FUNCTION auth.revoke_my_api_token(id uuid) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_owner record;
BEGIN
    PERFORM auth_private._require_committing_transaction();
    SELECT * INTO v_owner FROM auth_private._my_token_owner();
    IF $1 IS NULL THEN
        RAISE SQLSTATE '22023' USING MESSAGE = 'id must not be NULL';
    END IF;
    UPDATE auth.api_tokens AS t SET revoked_at = pg_catalog.now()
    WHERE t.id = $1 AND t.username = v_owner.username AND t.revoked_at IS NULL;
    IF FOUND THEN
        PERFORM auth_private._audit('api_token_revoked', v_owner.username, NULL, $1, pg_catalog.jsonb_build_object('by', 'self'));
    END IF;
    RETURN FOUND;
END
$$;


-- Privileges, as a fresh install has them (sql/privileges.sql), stated for the objects this update
-- creates only. A REVOKE or GRANT on an object that already exists would record its current
-- grants — those the installation made since 0.1.0, such as auth.grant_session_access's — as the
-- extension's initial privileges (pg_init_privs), and pg_dump would then leave them out of a dump.
-- Functions this script created still have the default ACL (EXECUTE for PUBLIC): revoke it.
COMMENT ON SCHEMA auth_private IS
    'Internals of the auth extension; never expose it through PostgREST.';
GRANT USAGE ON SCHEMA auth_private TO PUBLIC;
REVOKE ALL ON TABLE auth_private.login_locks FROM PUBLIC;
REVOKE ALL ON TABLE auth_private.signing_keys FROM PUBLIC;
REVOKE ALL ON TABLE auth.signing_keys FROM PUBLIC;
REVOKE ALL ON TABLE auth.audit_log FROM PUBLIC;
REVOKE ALL ON TABLE auth.one_time_tokens FROM PUBLIC;
REVOKE ALL ON TABLE auth.outbox FROM PUBLIC;
DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN
        SELECT p.oid FROM pg_catalog.pg_proc p
        JOIN pg_catalog.pg_depend d
          ON d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND d.objid = p.oid
         AND d.deptype = 'e'
         AND d.refobjid = (SELECT e.oid FROM pg_catalog.pg_extension e WHERE e.extname = 'auth')
        WHERE p.proacl IS NULL
    LOOP
        EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
    END LOOP;
END
$$;
GRANT EXECUTE ON FUNCTION
    auth_private._may_carry_markers(text),
    auth_private._jwt_claims(text),
    auth_private._jwt_rejection(text),
    auth_private._jwt_reject(text),
    auth.jwks()
TO PUBLIC;

-- change_password was recreated: its initial privileges are the owner's alone, as in a fresh
-- install, and the roles that could execute it before the update can again. GRANT inside an
-- extension script records the grant as an initial privilege, so the record is set back to what
-- it was before the grant.
SELECT pg_catalog.set_config('auth_update.change_password_initprivs', (
    SELECT i.initprivs::text FROM pg_catalog.pg_init_privs i
    WHERE i.objoid = 'auth.change_password(text, text)'::pg_catalog.regprocedure
      AND i.classoid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND i.objsubid = 0), true);
DO $$
BEGIN
    IF pg_catalog.current_setting('auth_update.change_password_grantees') <> '' THEN
        EXECUTE 'GRANT EXECUTE ON FUNCTION auth.change_password(text, text) TO '
            || pg_catalog.current_setting('auth_update.change_password_grantees');
        UPDATE pg_catalog.pg_init_privs i
        SET initprivs = pg_catalog.current_setting('auth_update.change_password_initprivs')::pg_catalog.aclitem[]
        WHERE i.objoid = 'auth.change_password(text, text)'::pg_catalog.regprocedure
          AND i.classoid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND i.objsubid = 0;
    END IF;
END
$$;
