-- The database the e2e stack serves: the extension, PostgREST's roles, and one small API per use:
-- browser sessions, multi-tenant row-level security, API tokens, API keys.
-- Run once as the superuser before PostgREST starts (so its schema cache sees everything).

CREATE EXTENSION auth;

-- PostgREST logs in as authenticator and switches to the anonymous role or the JWT's role.
CREATE ROLE authenticator LOGIN NOINHERIT;
CREATE ROLE anon NOLOGIN;          -- db-anon-role
CREATE ROLE member NOLOGIN;        -- logged-in users, and the members of the tenants
CREATE ROLE tokenauthed NOLOGIN;   -- API tokens
CREATE ROLE web_trial NOLOGIN;     -- API keys of plan free_trial
CREATE ROLE web_paid NOLOGIN;      --                  pro
CREATE ROLE auditor NOLOGIN;       -- a valid role granted nothing on the API tables (403s)
GRANT anon, member, tokenauthed, web_trial, web_paid, auditor TO authenticator;

-- The documented one-call grants: sessions for anon/member, the pre-request hook for every role
-- PostgREST may switch to, the key exchange for the gateway's anonymous subrequest.
SELECT auth.grant_session_access('anon', ARRAY['member']::name[]);
SELECT auth.grant_request_check(ARRAY['anon', 'member', 'tokenauthed', 'web_trial', 'web_paid', 'auditor']::name[]);
GRANT EXECUTE ON FUNCTION auth.exchange_api_key(text) TO anon;
-- Logged-in users make their own API tokens (docs/api-credentials.md, setup step 4).
GRANT EXECUTE ON FUNCTION
    auth.create_my_api_token(text, timestamptz, text[]), auth.my_api_tokens(),
    auth.revoke_my_api_token(uuid)
TO member;

CREATE SCHEMA api;
GRANT USAGE ON SCHEMA api TO anon, member, tokenauthed, web_trial, web_paid, auditor;

-- Who PostgREST says we are: the role the request runs as, its claims, whether the transaction
-- is read-only (GET runs READ ONLY), and the names (not values) of the request headers.
CREATE FUNCTION api.whoami() RETURNS jsonb
LANGUAGE sql STABLE
AS $$
    SELECT jsonb_build_object(
        'current_user', current_user,
        'role', auth.role(),
        'uid', auth.uid(),
        'plan', auth.claim('plan'),
        'claims', auth.claims(),
        'read_only', current_setting('transaction_read_only'),
        'header_names', (SELECT coalesce(jsonb_agg(k ORDER BY k), '[]')
                         FROM jsonb_object_keys(coalesce(nullif(current_setting('request.headers', true), ''), '{}')::jsonb) AS k))
$$;

-- Browser sessions: each logged-in user sees and adds only their own tasks.
CREATE TABLE api.task (
    id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner text NOT NULL DEFAULT auth.uid(),
    title text NOT NULL
);
ALTER TABLE api.task ENABLE ROW LEVEL SECURITY;
CREATE POLICY task_own ON api.task TO member
    USING (owner = (SELECT auth.uid())) WITH CHECK (owner = (SELECT auth.uid()));
GRANT SELECT, INSERT ON api.task TO member;
INSERT INTO api.task (owner, title) VALUES
    ('demo', 'write the e2e suite'),
    ('demo', 'run it'),
    ('mallory', 'a task demo must never see');

-- Tenants: documents isolated per tenant (the "tenant" claim) by RLS; a public table anyone
-- reads; an admin table no API role is granted.
CREATE TABLE api.documents (
    id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant text NOT NULL DEFAULT auth.claim('tenant'),
    author text NOT NULL DEFAULT auth.uid(),
    title  text NOT NULL
);
ALTER TABLE api.documents ENABLE ROW LEVEL SECURITY;
CREATE POLICY documents_tenant ON api.documents TO member
    USING (tenant = (SELECT auth.claim('tenant')))
    WITH CHECK (tenant = (SELECT auth.claim('tenant')) AND author = (SELECT auth.uid()));
GRANT SELECT, INSERT ON api.documents TO member;
INSERT INTO api.documents (tenant, author, title) VALUES
    ('acme', 'alice', 'acme roadmap'),
    ('acme', 'alice', 'acme payroll'),
    ('globex', 'bob', 'globex secrets');

CREATE TABLE api.notices (id int PRIMARY KEY, body text NOT NULL);
GRANT SELECT ON api.notices TO anon, member, auditor;
INSERT INTO api.notices VALUES (1, 'maintenance on sunday');

CREATE TABLE api.admin_audit (id int PRIMARY KEY, what text NOT NULL);
INSERT INTO api.admin_audit VALUES (1, 'nobody but the owner reads this');

-- API tokens: contacts per organisation; an API token's "sub" claim names its organisation.
CREATE TABLE api.contact (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    organisation text NOT NULL DEFAULT auth.uid(),
    full_name    text NOT NULL
);
ALTER TABLE api.contact ENABLE ROW LEVEL SECURITY;
CREATE POLICY contact_org ON api.contact TO tokenauthed
    USING (organisation = (SELECT auth.uid())) WITH CHECK (organisation = (SELECT auth.uid()));
GRANT SELECT, INSERT ON api.contact TO tokenauthed;
INSERT INTO api.contact (organisation, full_name) VALUES
    ('org-a', 'Ada Lovelace'),
    ('org-a', 'Alan Turing'),
    ('org-b', 'Grace Hopper');

-- API keys: telemetry, the latest readings public, the detailed ones for paying keys only.
CREATE TABLE api.telemetry_latest (sensor text PRIMARY KEY, value numeric NOT NULL);
GRANT SELECT ON api.telemetry_latest TO anon, web_trial, web_paid;
INSERT INTO api.telemetry_latest VALUES ('t1', 21.5), ('t2', 19.0);

CREATE TABLE api.telemetry_detailed (sensor text, at timestamptz, value numeric);
GRANT SELECT ON api.telemetry_detailed TO web_paid;
INSERT INTO api.telemetry_detailed VALUES ('t1', '2026-01-01 00:00+00', 21.4), ('t1', '2026-01-01 00:01+00', 21.5);
