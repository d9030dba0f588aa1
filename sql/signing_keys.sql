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
    PERFORM auth_private._audit('signing_key_created', NULL, NULL, NULL, pg_catalog.jsonb_build_object(
        'kid', k.kid, 'alg', create_signing_key.alg, 'state', 'standby', 'by', auth_private._invoking_role()));
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
    PERFORM auth_private._audit('signing_key_retired', NULL, NULL, NULL, pg_catalog.jsonb_build_object(
        'kid', k.kid, 'alg', k.alg, 'from_state', k.state, 'by', auth_private._invoking_role()));
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
    PERFORM auth_private._audit('verification_key_imported', NULL, NULL, NULL, pg_catalog.jsonb_build_object(
        'kid', k.kid, 'alg', k.alg, 'state', 'previous', 'by', auth_private._invoking_role()));
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
