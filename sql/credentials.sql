-- Helpers shared by API tokens, API keys and auth.check_request. Private (privileges.sql revokes
-- them from PUBLIC); they run inside the SECURITY DEFINER flows.

-- Shared by create_api_token and create_api_key: the role a credential acts as must exist, and
-- only a superuser may mint credentials for a superuser role.
CREATE FUNCTION auth._check_credential_role(role name, caller name) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    target_super boolean;
BEGIN
    IF role IS NULL THEN
        RAISE SQLSTATE '22023' USING MESSAGE = 'role must not be NULL';
    END IF;
    SELECT r.rolsuper INTO target_super FROM pg_catalog.pg_roles AS r WHERE r.rolname = role;
    IF NOT FOUND THEN
        RAISE SQLSTATE '23503' USING MESSAGE = pg_catalog.format('role "%s" does not exist', role);
    END IF;
    IF target_super AND NOT coalesce(
        (SELECT r.rolsuper FROM pg_catalog.pg_roles AS r WHERE r.rolname = caller), false)
    THEN
        RAISE SQLSTATE '42501' USING MESSAGE = pg_catalog.format(
            'only a superuser can create credentials for superuser role "%s"', role);
    END IF;
END
$$;

-- Whether this transaction may record last_used_at: never in a READ ONLY transaction (PostgREST
-- runs GET and HEAD so, and a write there would fail the request), and only at READ COMMITTED,
-- where updating a row that a concurrent request just touched cannot raise a serialization error.
CREATE FUNCTION auth._may_record_use() RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT pg_catalog.current_setting('transaction_read_only') = 'off'
       AND pg_catalog.current_setting('transaction_isolation') = 'read committed'
$$;
