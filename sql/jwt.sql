-- JWT: the strict verifier's PT401 wrapper and the claim helpers for row-level security.

-- pgrx cannot raise PTxxx codes, so the Rust verifier returns its rejection and this raises it.
-- PostgREST turns PT401 into HTTP 401. The message names the reason, never the token.
-- SECURITY DEFINER so that granting this function alone is enough (the helper stays private).
CREATE FUNCTION auth.jwt_verify(token text) RETURNS jsonb
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r record;
BEGIN
    SELECT v.claims, v.rejection INTO r FROM auth_private._jwt_verify(token) AS v;
    IF r.rejection IS NOT NULL THEN
        RAISE SQLSTATE 'PT401' USING MESSAGE = 'invalid token: ' || r.rejection;
    END IF;
    RETURN r.claims;
END
$$;
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
