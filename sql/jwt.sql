-- JWT: the strict verifier's PT401 wrapper and the claim helpers for row-level security.

-- The slow path of auth.jwt_verify (below): raises PT401 with the reason the token is refused.
-- Returns the claims when the token verifies after all (only when called on its own). SECURITY
-- INVOKER and qualified names only; _jwt_rejection checks the caller's right to auth.jwt_verify.
CREATE FUNCTION auth_private._jwt_reject(token text) RETURNS jsonb
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE SECURITY INVOKER
AS $$
DECLARE
    message pg_catalog.text := auth_private._jwt_rejection(token);
BEGIN
    IF message IS NOT NULL THEN
        RAISE SQLSTATE 'PT401' USING MESSAGE = message;
    END IF;
    RETURN auth_private._jwt_claims(token);
END
$$;

-- auth.jwt_verify: strict verification with the server key, raising PT401 (HTTP 401 through
-- PostgREST) with 'invalid token: <reason>'; the message never contains the token.
--
-- Plain SQL so that the planner inlines it into the caller's query: one scalar C call returns the
-- claims of a good token. A refused token takes the slow path, _jwt_reject, which raises PT401
-- (pgrx cannot raise PTxxx codes from Rust). Not STRICT, because a STRICT SQL function whose body
-- holds COALESCE is never inlined; NULL in still gives NULL out, as both helpers are STRICT.
-- SECURITY INVOKER (a SECURITY DEFINER function is never inlined): the helpers are executable by
-- PUBLIC, and each refuses (42501) a role that may not execute auth.jwt_verify(text), so granting
-- this function alone is still what lets a role verify (src/jwt.rs). Every name is qualified.
-- An argument that is costly to compute (the token is used twice) makes the planner call the
-- function instead of inlining it: same answers, slower.
CREATE FUNCTION auth.jwt_verify(token text) RETURNS jsonb
LANGUAGE sql STABLE CALLED ON NULL INPUT PARALLEL SAFE SECURITY INVOKER
AS $$ SELECT coalesce(auth_private._jwt_claims(token), auth_private._jwt_reject(token)) $$;
COMMENT ON FUNCTION auth.jwt_verify(text) IS
    'Verifies a token with the server key (algorithm, signature, exp/nbf with leeway, aud, iss); raises PT401 naming the reason.';

-- The claim helpers for row-level security (auth.claims(), auth.claim(name), auth.uid(),
-- auth.role()) are C functions: src/claims.rs.

-- pgjwt 0.2.0's verify. Plain SQL on purpose: the planner inlines it into three scalar calls (the
-- decoded token is cached between them), much cheaper per row than a set-returning function.
-- Not STRICT (that would prevent inlining): NULL arguments give one row of NULLs, as pgjwt does.
-- Executable by everyone: it checks a token against a secret the caller supplies and never
-- touches the server key (auth.sign, which mints tokens, stays private).
CREATE FUNCTION auth.verify(token text, secret text, algorithm text DEFAULT 'HS256')
RETURNS TABLE(header json, payload json, valid boolean)
LANGUAGE sql STABLE PARALLEL SAFE ROWS 1
AS $$
    SELECT auth_private._jwt_header(token, algorithm),
           auth_private._jwt_payload(token, algorithm),
           auth_private._jwt_valid(token, secret, algorithm)
$$;
