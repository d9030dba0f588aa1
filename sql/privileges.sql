-- Deny by default: nothing in schema auth is executable by PUBLIC except what is listed here.
-- Every other function is for the extension owner, for SECURITY DEFINER flows, or for the roles
-- the documentation (docs/security.md) says to grant it to.
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA auth FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA auth FROM PUBLIC;
GRANT USAGE ON SCHEMA auth TO PUBLIC;

GRANT EXECUTE ON FUNCTION
    auth.url_encode(bytea),
    auth.url_decode(text),
    auth.verify(text, text, text),
    auth._jwt_header(text, text),
    auth._jwt_payload(text, text),
    auth._jwt_valid(text, text, text),
    auth.claims(),
    auth.claim(text),
    auth.uid(),
    auth.role()
TO PUBLIC;
