-- Deny by default: nothing in schemas auth and auth_private is executable or readable by PUBLIC
-- except what is listed here. Every other function is for the extension owner, for SECURITY
-- DEFINER flows, or for the roles the docs say to grant it to. The update script from 0.1.0 ends
-- with the same statements, so a fresh install and an updated database grant the same.
COMMENT ON SCHEMA auth_private IS
    'Internals of the auth extension; never expose it through PostgREST.';

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA auth FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA auth FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA auth_private FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA auth_private FROM PUBLIC;
GRANT USAGE ON SCHEMA auth TO PUBLIC;
-- USAGE only: auth.verify and auth.jwt_verify (inlined into the caller's query) and
-- auth.check_request (run as the request's role) name functions of auth_private; nothing there
-- is executable unless granted.
GRANT USAGE ON SCHEMA auth_private TO PUBLIC;

GRANT EXECUTE ON FUNCTION
    auth.url_encode(bytea),
    auth.url_decode(text),
    auth.verify(text, text, text),
    auth_private._jwt_header(text, text),
    auth_private._jwt_payload(text, text),
    auth_private._jwt_valid(text, text, text),
    auth_private._may_carry_markers(text),
    -- The helpers of auth.jwt_verify, which is inlined into its caller's query. Each refuses
    -- (42501) a role that may not execute auth.jwt_verify(text) itself, which stays private.
    auth_private._jwt_claims(text),
    auth_private._jwt_rejection(text),
    auth_private._jwt_reject(text),
    auth.claims(),
    auth.claim(text),
    auth.uid(),
    auth.role(),
    auth.has_scope(text),
    -- The public JWK Set, for every service (and PostgREST's anonymous role).
    auth.jwks()
TO PUBLIC;
