-- Users: the columns of the usual hand-written auth."user" table (username, password, role) plus
-- timestamps, so such rows copy over with INSERT ... SELECT username, password, role. Only the
-- extension owner reads or writes this table (privileges.sql revokes everything from PUBLIC).

CREATE TABLE auth.users (
    username   text        PRIMARY KEY,
    -- Always a password hash (bcrypt or argon2id): the trigger below hashes whatever is written here.
    password   text        NOT NULL,
    -- The database role PostgREST switches to for this user (the access token's "role" claim).
    role       name        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    -- Set by administrators only (no function lets a user write it): carried as the
    -- "app_metadata" claim of every session access token. A JSON object. The columns after
    -- updated_at came with 0.2.0 (an updated database appends them, so a fresh install has them
    -- last too).
    app_metadata jsonb     NOT NULL DEFAULT '{}',
    -- Optional; stored lower-cased and checked by the trigger below (auth_private._normalize_email);
    -- unique when present. Where password reset and verification tokens are sent (auth.outbox).
    email      text,
    -- When the user proved they receive mail at `email` (auth.verify_email, auth.reset_password);
    -- NULL again whenever email changes, unless the same UPDATE sets it.
    email_verified_at timestamptz,
    CONSTRAINT users_username_length CHECK (pg_catalog.char_length(username) BETWEEN 3 AND 256),
    CONSTRAINT users_email_key UNIQUE (email),
    CONSTRAINT users_app_metadata_object
        CHECK (pg_catalog.jsonb_typeof(app_metadata) OPERATOR(pg_catalog.=) 'object')
);
COMMENT ON TABLE auth.users IS
    'Login users: username (3-256 characters), password hash (bcrypt or argon2), database role.';
COMMENT ON COLUMN auth.users.app_metadata IS
    'A JSON object set by administrators, carried as the app_metadata claim of session access tokens.';
SELECT pg_catalog.pg_extension_config_dump('auth.users', '');

-- BEFORE INSERT/UPDATE, first: what the role writing the row may write. SECURITY INVOKER, so
-- current_user is that role (inside the extension's own SECURITY DEFINER flows, the extension
-- owner).
-- * The role a row assigns must exist (23503, naming it), and the writer must be able to act as it
--   (pg_has_role(current_user, role, 'MEMBER'), true for superusers): a role granted INSERT on
--   auth.users cannot make users of roles it does not hold (42501).
-- * A superuser writing a password hash login verifies (bcrypt or argon2; pg_restore reloading a
--   dump, say) has it stored as written (auth_private._keep_superuser_hash); from anyone else it
--   is a password like any other.
-- It calls pg_catalog only, except for superusers, who may call the private helper.
CREATE FUNCTION auth_private._users_check_role() RETURNS trigger
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

CREATE TRIGGER users_a_check_role
BEFORE INSERT OR UPDATE ON auth.users
FOR EACH ROW EXECUTE FUNCTION auth_private._users_check_role();

-- BEFORE INSERT/UPDATE, second: whatever is written to password is taken as a new password,
-- checked against the policy (auth.password_min_length, auth.password_check) and hashed with
-- auth.password_algorithm — a value shaped like a hash too, since a hash chosen by the writer
-- could carry any cost and pin a backend at each login. Existing hashes come in only through
-- auth.import_user, or from a superuser (see above); login's re-hash and change_password write a
-- hash they made (auth_private._hash_to_store). Empty and over-72-byte passwords, and passwords
-- the policy refuses, are refused (22023).
-- SECURITY DEFINER so that a role granted INSERT/UPDATE on auth.users need not be granted the
-- (private) hashing functions.
-- An email written is checked and lower-cased (22023 for an invalid address); a changed address is
-- unverified (email_verified_at NULL) unless the same UPDATE sets email_verified_at.
CREATE FUNCTION auth_private._users_before_write() RETURNS trigger
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

CREATE TRIGGER users_before_write
BEFORE INSERT OR UPDATE ON auth.users
FOR EACH ROW EXECUTE FUNCTION auth_private._users_before_write();

-- Imports a user whose password hash comes from elsewhere (pgcrypto's crypt(p, gen_salt('bf')),
-- another application's bcrypt or argon2): a $2a$/$2b$/$2y$ hash of cost 4 to 14, or an argon2id
-- or argon2i PHC string (v=19) within the caps, is stored as it is (and re-hashed with the
-- configured algorithm on the user's next successful login when it differs), with the user's
-- email address when given (email_verified: whether the other application had verified it).
-- Anything else is refused: 22023 for a value that is not such a hash (naming the reason, never the
-- hash), an invalid address or a NULL argument, 42501 unless the caller is a superuser (the
-- extension owner), 23505 for a taken username or address, 23503 for an unknown role. The
-- policy for new passwords does not apply: there is no password to check.
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
