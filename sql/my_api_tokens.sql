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
-- auth.my_api_token_max_ttl from now, or bad scopes; PT409 (HTTP 409) when the user already holds
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
    IF FOUND THEN
        PERFORM auth_private._audit('api_token_revoked', v_owner.username, NULL, $1, pg_catalog.jsonb_build_object('by', 'self'));
    END IF;
    RETURN FOUND;
END
$$;
COMMENT ON FUNCTION auth.revoke_my_api_token(uuid) IS
    'Revokes one of the logged-in user''s own API tokens; true if it was live, false otherwise (also for another user''s).';
