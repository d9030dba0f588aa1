-- API tokens: long-lived JWTs signed with the server key whose `tid` claim names a row
-- here. auth.check_request (PostgREST's db-pre-request) refuses a token whose row is revoked,
-- expired or deleted. Only the extension owner reads or writes the table; admins act through the
-- functions, once granted them (see docs/api-credentials.md).

CREATE TABLE auth.api_tokens (
    id           uuid        PRIMARY KEY DEFAULT pg_catalog.gen_random_uuid(),
    name         text        NOT NULL
                             CONSTRAINT api_tokens_name_check CHECK (auth_private._valid_credential_name(name)),
    role         name        NOT NULL,
    claims       jsonb       NOT NULL DEFAULT '{}' CHECK (pg_catalog.jsonb_typeof(claims) = 'object'),
    created_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    created_by   name        NOT NULL,
    expires_at   timestamptz,
    revoked_at   timestamptz,
    last_used_at timestamptz,
    scopes       text[]      CONSTRAINT api_tokens_scopes_check CHECK (auth_private._valid_scopes(scopes)),
    username     text        REFERENCES auth.users (username) ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE INDEX api_tokens_username_idx ON auth.api_tokens (username);
COMMENT ON TABLE auth.api_tokens IS
    'API tokens issued by auth.create_api_token (the JWT itself is never stored). Delete a row or set revoked_at to revoke.';
COMMENT ON COLUMN auth.api_tokens.claims IS 'Extra claims the token carries besides tid, role, iat and exp.';
COMMENT ON COLUMN auth.api_tokens.created_by IS 'The role that called create_api_token (after SET ROLE).';
COMMENT ON COLUMN auth.api_tokens.last_used_at IS
    'Last request seen by auth.check_request, recorded at most once a minute and only by read-write, read-committed requests.';
COMMENT ON COLUMN auth.api_tokens.scopes IS
    'The scopes the token carries in its scope claim (space-separated); NULL: no scope claim.';
COMMENT ON COLUMN auth.api_tokens.username IS
    'The user who made the token for themselves (auth.create_my_api_token); NULL for tokens made by create_api_token.';
SELECT pg_catalog.pg_extension_config_dump('auth.api_tokens', '');

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
    PERFORM auth_private._audit('api_token_created', NULL, NULL, v_id, pg_catalog.jsonb_build_object('name', create_api_token.name, 'role', create_api_token.role, 'by', v_caller));
    RETURN v_token;
END
$$;
COMMENT ON FUNCTION auth.create_api_token(text, name, timestamptz, jsonb, text[]) IS
    'Records an API token and returns its JWT (tid, role, iat, exp when expiring, scope when scoped, extra claims). Shown once.';

CREATE FUNCTION auth.revoke_api_token(id uuid) RETURNS boolean
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
COMMENT ON FUNCTION auth.revoke_api_token(uuid) IS
    'Revokes an API token at once; true if it was live, false if unknown or already revoked.';
