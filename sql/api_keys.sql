-- Opaque API keys (a gateway's key service, inside the database): a key is shown once, stored only as
-- its SHA-256 and a short display prefix, and exchanged by auth.exchange_api_key for a short-lived
-- JWT carrying the key's role and plan, which a gateway forwards to PostgREST as Bearer.

CREATE TABLE auth.api_keys (
    id             uuid        PRIMARY KEY DEFAULT pg_catalog.gen_random_uuid(),
    name           text        CHECK (pg_catalog.length(name) BETWEEN 1 AND 256),
    key_hash       bytea       NOT NULL UNIQUE CHECK (pg_catalog.octet_length(key_hash) = 32),
    display_prefix text        NOT NULL,
    role           name        NOT NULL,
    plan           text        CHECK (plan ~ '^[A-Za-z0-9_.:-]{1,64}$'),
    enabled        boolean     NOT NULL DEFAULT true,
    expires_at     timestamptz,
    created_at     timestamptz NOT NULL DEFAULT pg_catalog.now(),
    created_by     name        NOT NULL,
    last_used_at   timestamptz
);
COMMENT ON TABLE auth.api_keys IS
    'API keys issued by auth.create_api_key: only the SHA-256 of each key is stored.';
COMMENT ON COLUMN auth.api_keys.display_prefix IS 'The first characters of the key (pgauth_ + 6), to tell keys apart.';
COMMENT ON COLUMN auth.api_keys.last_used_at IS
    'Last exchange or request seen, recorded at most once a minute and only by read-write, read-committed transactions.';
SELECT pg_catalog.pg_extension_config_dump('auth.api_keys', '');

CREATE FUNCTION auth.create_api_key(
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
    v_caller pg_catalog.name := auth._invoking_role();
BEGIN
    PERFORM auth._check_credential_role(create_api_key.role, v_caller);
    IF plan IS NOT NULL AND plan !~ '^[A-Za-z0-9_.:-]{1,64}$' THEN
        RAISE SQLSTATE '22023' USING
            MESSAGE = 'plan must be 1 to 64 characters among A-Z a-z 0-9 _ . : -';
    END IF;
    IF expires_at IS NOT NULL AND expires_at <= pg_catalog.now() THEN
        RAISE SQLSTATE '22023' USING MESSAGE = 'expires_at must be in the future';
    END IF;
    IF create_api_key.name IS NOT NULL AND pg_catalog.length(create_api_key.name) NOT BETWEEN 1 AND 256 THEN
        RAISE SQLSTATE '22023' USING MESSAGE = 'name must be 1 to 256 characters';
    END IF;
    SELECT * INTO k FROM auth._new_api_key();
    INSERT INTO auth.api_keys (name, key_hash, display_prefix, role, plan, expires_at, created_by)
    VALUES (create_api_key.name, k.key_hash, k.display_prefix, create_api_key.role,
            create_api_key.plan, create_api_key.expires_at, v_caller);
    RETURN k.key;
END
$$;
COMMENT ON FUNCTION auth.create_api_key(name, text, timestamptz, text) IS
    'Creates an API key for a role and plan and returns it; it is shown only this once.';

-- For the gateway (nginx auth_request, Caddy forward_auth) calling PostgREST as the anonymous
-- role: the key comes from the argument or the x-api-key request header. Every refusal is PT401
-- (HTTP 401); unknown, disabled and expired keys share one message.
CREATE FUNCTION auth.exchange_api_key(key text DEFAULT NULL) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    presented text := coalesce(nullif(key, ''), auth._request_header('x-api-key'));
    k         record;
    t         record;
    headers   jsonb;
BEGIN
    IF presented IS NULL OR presented = '' THEN
        RAISE SQLSTATE 'PT401' USING MESSAGE = 'API key required';
    END IF;
    -- Inside an HTTP request (PostgREST always sets request.headers) a configured proxy secret
    -- is required, as for every request authenticated by an API credential.
    IF auth._setting('proxy_secret_set')::boolean
       AND coalesce(pg_catalog.current_setting('request.headers', true), '') <> ''
       AND NOT auth._proxy_secret_matches(auth._request_header('x-proxy-secret')) THEN
        RAISE SQLSTATE 'PT401' USING MESSAGE = 'API credentials are accepted only through the API gateway';
    END IF;
    SELECT a.id, a.role, a.plan, a.enabled, a.expires_at, a.last_used_at INTO k
    FROM auth.api_keys AS a WHERE a.key_hash = auth._api_key_hash(presented);
    IF NOT FOUND OR NOT k.enabled OR k.expires_at <= pg_catalog.now() THEN
        RAISE SQLSTATE 'PT401' USING MESSAGE = 'Invalid API key';
    END IF;
    IF (k.last_used_at IS NULL OR k.last_used_at <= pg_catalog.now() - interval '1 minute')
       AND auth._may_record_use() THEN
        UPDATE auth.api_keys AS a SET last_used_at = pg_catalog.now()
        WHERE a.id = (SELECT b.id FROM auth.api_keys AS b
                      WHERE b.id = k.id
                        AND (b.last_used_at IS NULL OR b.last_used_at <= pg_catalog.now() - interval '1 minute')
                      FOR UPDATE SKIP LOCKED);
    END IF;
    SELECT * INTO t FROM auth._sign_api_key_token(
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
    PERFORM auth._add_response_headers(headers);
    RETURN pg_catalog.jsonb_build_object(
        'access_token', t.token, 'token_type', 'Bearer', 'expires_in', t.expires_in);
END
$$;
COMMENT ON FUNCTION auth.exchange_api_key(text) IS
    'Exchanges an API key (argument or x-api-key header) for a short-lived JWT: body {access_token, token_type, expires_in}, header Authorization: Bearer <jwt>.';

CREATE FUNCTION auth.disable_api_key(id uuid) RETURNS boolean
LANGUAGE sql VOLATILE STRICT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    WITH changed AS (
        UPDATE auth.api_keys AS a SET enabled = false
        WHERE a.id = disable_api_key.id AND a.enabled
        RETURNING 1
    )
    SELECT EXISTS (SELECT 1 FROM changed)
$$;
COMMENT ON FUNCTION auth.disable_api_key(uuid) IS
    'Disables an API key (reversible with enable_api_key); true if it was enabled.';

CREATE FUNCTION auth.enable_api_key(id uuid) RETURNS boolean
LANGUAGE sql VOLATILE STRICT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    WITH changed AS (
        UPDATE auth.api_keys AS a SET enabled = true
        WHERE a.id = enable_api_key.id AND NOT a.enabled
        RETURNING 1
    )
    SELECT EXISTS (SELECT 1 FROM changed)
$$;
COMMENT ON FUNCTION auth.enable_api_key(uuid) IS
    'Enables a disabled API key again; true if it was disabled.';

CREATE FUNCTION auth.revoke_api_key(id uuid) RETURNS boolean
LANGUAGE sql VOLATILE STRICT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    WITH deleted AS (
        DELETE FROM auth.api_keys AS a WHERE a.id = revoke_api_key.id
        RETURNING 1
    )
    SELECT EXISTS (SELECT 1 FROM deleted)
$$;
COMMENT ON FUNCTION auth.revoke_api_key(uuid) IS
    'Revokes an API key for good (deletes it); true if it existed. JWTs it was exchanged for stop working at once.';
