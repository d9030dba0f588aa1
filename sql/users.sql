-- Users: the columns of the common hand-written auth."user" table plus timestamps, so its rows
-- copy over with INSERT ... SELECT username, password, role. Only the extension owner reads or
-- writes this table (privileges.sql revokes everything from PUBLIC).

CREATE TABLE auth.users (
    username   text        PRIMARY KEY,
    -- Always a bcrypt hash: the trigger below hashes anything else written here.
    password   text        NOT NULL,
    -- The database role PostgREST switches to for this user (the access token's "role" claim).
    role       name        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT users_username_length CHECK (pg_catalog.char_length(username) BETWEEN 3 AND 256)
);
COMMENT ON TABLE auth.users IS
    'Login users: username (3-256 characters), bcrypt password hash, database role.';
SELECT pg_catalog.pg_extension_config_dump('auth.users', '');

-- BEFORE INSERT/UPDATE: the role must exist (23503, naming it); a password that is not already a
-- bcrypt hash is hashed ($2a$ at auth.bcrypt_cost). A $2a$/$2b$/$2y$ hash is kept as it is, so
-- pgcrypto's crypt(p, gen_salt('bf')) hashes import unchanged (and are re-hashed at the configured
-- cost on the user's next successful login when their cost is lower). A plaintext that happens to
-- be shaped exactly like a bcrypt hash would be stored as that hash: auth.change_password always
-- hashes. Empty and over-72-byte passwords are refused (22023).
-- SECURITY DEFINER so that a role granted INSERT/UPDATE on auth.users need not be granted the
-- (private) hashing functions.
CREATE FUNCTION auth._users_before_write() RETURNS trigger
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
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
    END IF;
    IF TG_OP = 'INSERT' OR NEW.password IS DISTINCT FROM OLD.password THEN
        NEW.password := auth._password_to_store(NEW.password);
    END IF;
    IF TG_OP = 'UPDATE' THEN
        NEW.updated_at := pg_catalog.now();
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER users_before_write
BEFORE INSERT OR UPDATE ON auth.users
FOR EACH ROW EXECUTE FUNCTION auth._users_before_write();

-- A uuid from text, NULL when the text is not one (claims are data, not trusted shapes).
CREATE FUNCTION auth._to_uuid(value text) RETURNS uuid
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT CASE
        WHEN value OPERATOR(pg_catalog.~) '^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$'
        THEN value::uuid
    END
$$;

-- Changes the password of the logged-in user (the "sub" claim of request.jwt.claims), after
-- checking the current one, and revokes the user's other sessions (all but the "sid" of the
-- request; all of them when the token has no sid). Raises:
--   PT401 'Not logged in'            no sub claim, no such user, or the token's session has ended
--   PT401 'Wrong current password'
--   22023                            a NULL argument; an empty or over-72-byte password
-- Raising rolls everything back, so a refused call changes nothing.
CREATE FUNCTION auth.change_password("current" text, new text) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_claims jsonb := auth.claims();
    v_username text := v_claims ->> 'sub';
    v_sid uuid := auth._to_uuid(v_claims ->> 'sid');
    v_hash text;
BEGIN
    IF v_username IS NULL THEN
        RAISE SQLSTATE 'PT401' USING MESSAGE = 'Not logged in';
    END IF;
    IF $1 IS NULL OR $2 IS NULL THEN
        RAISE SQLSTATE '22023' USING MESSAGE = 'current and new passwords must not be NULL';
    END IF;
    PERFORM auth._check_password($2);
    IF v_claims ? 'sid' AND NOT EXISTS (
        SELECT 1 FROM auth.sessions s
        WHERE s.id = v_sid AND s.username = v_username
          AND s.revoked_at IS NULL AND s.expires_at > pg_catalog.now()
    ) THEN
        RAISE SQLSTATE 'PT401' USING MESSAGE = 'Not logged in';
    END IF;
    SELECT u.password INTO v_hash FROM auth.users u WHERE u.username = v_username FOR UPDATE;
    IF NOT FOUND THEN
        RAISE SQLSTATE 'PT401' USING MESSAGE = 'Not logged in';
    END IF;
    IF NOT auth._login_password_matches($1, v_hash) THEN
        RAISE SQLSTATE 'PT401' USING MESSAGE = 'Wrong current password';
    END IF;
    UPDATE auth.users u SET password = auth.hash_password($2) WHERE u.username = v_username;
    UPDATE auth.sessions s SET revoked_at = pg_catalog.now()
    WHERE s.username = v_username AND s.revoked_at IS NULL AND s.id IS DISTINCT FROM v_sid;
END
$$;
COMMENT ON FUNCTION auth.change_password(text, text) IS
    'Changes the logged-in user''s password (checking the current one) and revokes their other sessions; PT401 when not logged in or wrong.';
