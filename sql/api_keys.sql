-- Opaque API keys (an API-key gateway, inside the database): a key is shown once, stored only as
-- its SHA-256 and a short display prefix, and exchanged by auth.exchange_api_key for a short-lived
-- JWT carrying the key's role, plan and scopes, which a gateway forwards to PostgREST as Bearer.
-- Keys made elsewhere are imported by auth.import_api_key and stored and exchanged alike.

CREATE TABLE auth.api_keys (
    id             uuid        PRIMARY KEY DEFAULT pg_catalog.gen_random_uuid(),
    name           text        CONSTRAINT api_keys_name_check CHECK (auth_private._valid_credential_name(name)),
    key_hash       bytea       NOT NULL UNIQUE CHECK (pg_catalog.octet_length(key_hash) = 32),
    display_prefix text        NOT NULL,
    role           name        NOT NULL,
    plan           text        CONSTRAINT api_keys_plan_check CHECK (auth_private._valid_plan(plan)),
    enabled        boolean     NOT NULL DEFAULT true,
    expires_at     timestamptz,
    created_at     timestamptz NOT NULL DEFAULT pg_catalog.now(),
    created_by     name        NOT NULL,
    last_used_at   timestamptz,
    scopes         text[]      CONSTRAINT api_keys_scopes_check CHECK (auth_private._valid_scopes(scopes))
);
COMMENT ON TABLE auth.api_keys IS
    'API keys issued by auth.create_api_key: only the SHA-256 of each key is stored.';
COMMENT ON COLUMN auth.api_keys.display_prefix IS
    'The first characters of the key (pgauth_ + 6; 4 for an imported key of another format), to tell keys apart.';
COMMENT ON COLUMN auth.api_keys.last_used_at IS
    'Last exchange or request seen, recorded at most once a minute and only by read-write, read-committed transactions.';
COMMENT ON COLUMN auth.api_keys.scopes IS
    'The scopes the exchanged JWT carries in its scope claim (space-separated); NULL: no scope claim.';
SELECT pg_catalog.pg_extension_config_dump('auth.api_keys', '');

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
    PERFORM auth_private._audit('api_key_created', NULL, NULL, a.id, pg_catalog.jsonb_build_object('name', a.name, 'role', a.role, 'plan', a.plan, 'by', a.created_by)) FROM auth.api_keys AS a WHERE a.key_hash = k.key_hash;
    RETURN k.key;
END
$$;
COMMENT ON FUNCTION auth.create_api_key(name, text, timestamptz, text, text[]) IS
    'Creates an API key for a role, plan and scopes and returns it; it is shown only this once.';

-- Keys made elsewhere (another gateway's list of keys, say), exchanged afterwards exactly like
-- keys of create_api_key: only the key's SHA-256 is stored, by the same rule as auth's own keys
-- (auth_private._api_key_hash looks both up). A key is 20 to 256 printable ASCII characters
-- without spaces (auth_core::token::looks_like_api_key; 22023 otherwise, never echoing it); the
-- other fields follow create_api_key's rules, and a key already stored is 23505. Returns the id.
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
    PERFORM auth_private._audit('api_key_created', NULL, NULL, v_id, pg_catalog.jsonb_build_object('name', import_api_key.name, 'role', import_api_key.role, 'plan', import_api_key.plan, 'by', v_caller, 'imported', true));
    RETURN v_id;
END
$$;
COMMENT ON FUNCTION auth.import_api_key(text, name, text, boolean, timestamptz, text, text[]) IS
    'Imports an API key made elsewhere (20-256 printable ASCII characters), storing only its SHA-256; returns its id.';

-- For the gateway (nginx auth_request, Caddy forward_auth) calling PostgREST as the anonymous
-- role: the key comes from the argument or the x-api-key request header. Every refusal is PT401
-- (HTTP 401); unknown, disabled and expired keys share one message.
CREATE FUNCTION auth.exchange_api_key(key text DEFAULT NULL) RETURNS jsonb
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
COMMENT ON FUNCTION auth.exchange_api_key(text) IS
    'Exchanges an API key (argument or x-api-key header) for a short-lived JWT: body {access_token, token_type, expires_in}, header Authorization: Bearer <jwt>.';

-- disable_api_key and enable_api_key: one flag, one rule. True when the key existed with the other
-- value; 25006 in a transaction that will not commit; 22023 for NULL.
CREATE FUNCTION auth_private._set_api_key_enabled(id uuid, enabled boolean) RETURNS boolean
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

CREATE FUNCTION auth.disable_api_key(id uuid) RETURNS boolean
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT auth_private._set_api_key_enabled(id, false) $$;
COMMENT ON FUNCTION auth.disable_api_key(uuid) IS
    'Disables an API key (reversible with enable_api_key); true if it was enabled.';

CREATE FUNCTION auth.enable_api_key(id uuid) RETURNS boolean
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT auth_private._set_api_key_enabled(id, true) $$;
COMMENT ON FUNCTION auth.enable_api_key(uuid) IS
    'Enables a disabled API key again; true if it was disabled.';

CREATE FUNCTION auth.revoke_api_key(id uuid) RETURNS boolean
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
COMMENT ON FUNCTION auth.revoke_api_key(uuid) IS
    'Revokes an API key for good (deletes it); true if it existed. JWTs it was exchanged for stop working at once.';
