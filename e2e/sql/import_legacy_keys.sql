-- The import of docs/api-credentials.md ("Importing API keys"), run by psql as it is there: the
-- key list of a CSV-driven nginx auth_request gateway (api_key,role,plan,enabled,expires_at)
-- into a temporary table, then every live row imported in one statement. The suite runs it with
-- the file name replaced by the path of its copy of e2e/sql/legacy_keys.csv.
\set ON_ERROR_STOP 1
CREATE TEMP TABLE legacy_keys (api_key text, role name, plan text, enabled boolean, expires_at timestamptz);
\copy legacy_keys FROM 'auth-jwt-keys.csv' WITH (FORMAT csv)
SELECT count(auth.import_api_key(api_key, role, plan, enabled, expires_at, 'imported'))
FROM legacy_keys WHERE expires_at IS NULL OR expires_at > now();
DROP TABLE legacy_keys;
