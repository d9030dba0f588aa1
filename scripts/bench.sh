#!/usr/bin/env bash
# The benchmark command (rerunnable; a measurement, never a pass/fail test). In one run against one
# throwaway cluster (target/bench, as postgres, spare loopback port) it times:
#   (i)  per-call auth.sign / auth.verify, 20 000 calls in one statement, beside a pure-SQL pgjwt
#        0.2.0-style implementation over pgcrypto's hmac (written below, schema bench) and beside
#        md5() of the same input; best of 3 after a warm-up;
#   (i b) ES256 and EdDSA keys of the store: auth.jwt_sign and auth.jwt_verify beside the same
#        operations called directly in Rust in this run (core/examples/jws_floor.rs);
#   (ii) login at bcrypt cost 10 and login with argon2id at OWASP's parameters (m=19456 KiB, t=2,
#        p=1) beside pgcrypto crypt() at cost 10, the refresh-token round trip, login and refresh
#        with a trivial auth.access_token_hook beside them without,
#        and auth.check_request()'s overhead per PostgREST-shaped request (set_config of request.*
#        then the hook, READ ONLY, as the request's role) beside the same request without the hook;
#   (iii) the claim helpers in row-level security: count(*) over 200 000 rows with
#        `owner = auth.uid()`, `owner = (SELECT auth.uid())` and the hand-written
#        `current_setting('request.jwt.claims', true)::jsonb ->> 'sub'`, as a plain WHERE (as the
#        table's owner) and as the USING of a policy (as a role that does not own the table).
# Prints a table, the ratios and how they compare with the performance targets. Exits 0 whatever the
# figures (non-zero only when something fails to run).
#
#   scripts/bench.sh            # on PostgreSQL 15 (Debian's)
#   scripts/bench.sh --pg 17    # on another supported version: 15, 17 or 18 here (docs/versions.md)
# The last line names the server version, so runs on different versions can be compared.
#
# Environment: BENCH_CALLS (20000), BENCH_HOOK_CALLS (20000), BENCH_REFRESH_CALLS (1000),
# BENCH_LOGIN_CALLS (10), BENCH_RLS_ROWS (200000), BENCH_KEY_CALLS (2000), BENCH_REPS (3). It always installs the release build it just made: the
# shared install directories may hold a debug build from `cargo pgrx test`, ten times slower.
set -euo pipefail
cd "$(dirname "$0")/.."

# Empty: PostgreSQL 15, or the one of $PG_CONFIG when that is set (scripts/lib/cluster.sh).
CLUSTER_PG=
while (($#)); do
  case "$1" in
    --pg)
      [ $# -ge 2 ] || { echo "bench.sh: --pg needs a version (15, 17, 18)" >&2; exit 2; }
      CLUSTER_PG=$2
      shift 2
      ;;
    --pg=*)
      CLUSTER_PG=${1#--pg=}
      shift
      ;;
    -h | --help)
      sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "$0"
      exit 0
      ;;
    *)
      echo "bench.sh: unknown argument '$1' (usage: scripts/bench.sh [--pg VERSION])" >&2
      exit 2
      ;;
  esac
done
[[ "$CLUSTER_PG" =~ ^[0-9]*$ ]] || { echo "bench.sh: --pg takes a major version such as 17" >&2; exit 2; }

# shellcheck source=scripts/lib/cluster.sh
source scripts/lib/cluster.sh

CALLS=${BENCH_CALLS:-20000}
HOOK_CALLS=${BENCH_HOOK_CALLS:-20000}
REFRESH_CALLS=${BENCH_REFRESH_CALLS:-1000}
LOGIN_CALLS=${BENCH_LOGIN_CALLS:-10}
RLS_ROWS=${BENCH_RLS_ROWS:-200000}
REPS=${BENCH_REPS:-3}
KEY_CALLS=${BENCH_KEY_CALLS:-2000}
SECRET='benchmark-secret-of-at-least-32-bytes!'
BENCH_PASSWORD='benchmark password'

section() { printf '\n== %s\n' "$*"; }

section setup
scripts/setup.sh
auth_build
# The Rust floor of the key rows (section i b), built before the lock is taken.
cargo build --release -q -p auth-core --example jws_floor
auth_lock
auth_install
cluster_init bench
cluster_start
bq() { cluster_psql -v secret="$SECRET" -v calls="$CALLS" -v reps="$REPS" "$@"; }

bq <<'SQL'
CREATE EXTENSION auth;
CREATE EXTENSION pgcrypto;
CREATE SCHEMA bench;
GRANT USAGE ON SCHEMA bench TO PUBLIC;

-- pgjwt 0.2.0, as its users run it today: SQL over pgcrypto's hmac (public.hmac here).
CREATE FUNCTION bench.url_encode(data bytea) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT translate(encode(data, 'base64'), E'+/=\n', '-_');
$$;
CREATE FUNCTION bench.url_decode(data text) RETURNS bytea LANGUAGE sql IMMUTABLE AS $$
WITH t AS (SELECT translate(data, '-_', '+/') AS trans),
     rem AS (SELECT length(t.trans) % 4 AS remainder FROM t)
SELECT decode(t.trans || CASE WHEN rem.remainder > 0 THEN repeat('=', (4 - rem.remainder)) ELSE '' END,
              'base64')
FROM t, rem;
$$;
CREATE FUNCTION bench.algorithm_sign(signables text, secret text, algorithm text)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
WITH alg AS (
    SELECT CASE WHEN algorithm = 'HS256' THEN 'sha256'
                WHEN algorithm = 'HS384' THEN 'sha384'
                WHEN algorithm = 'HS512' THEN 'sha512'
                ELSE '' END AS id)
SELECT bench.url_encode(public.hmac(signables, secret, alg.id)) FROM alg;
$$;
CREATE FUNCTION bench.sign(payload json, secret text, algorithm text DEFAULT 'HS256')
RETURNS text LANGUAGE sql IMMUTABLE AS $$
WITH
  header AS (SELECT bench.url_encode(convert_to('{"alg":"' || algorithm || '","typ":"JWT"}', 'utf8')) AS data),
  payload AS (SELECT bench.url_encode(convert_to(payload::text, 'utf8')) AS data),
  signables AS (SELECT header.data || '.' || payload.data AS data FROM header, payload)
SELECT signables.data || '.' || bench.algorithm_sign(signables.data, secret, algorithm) FROM signables;
$$;
CREATE FUNCTION bench.try_cast_double(inp text) RETURNS double precision LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    BEGIN
        RETURN inp::double precision;
    EXCEPTION WHEN OTHERS THEN
        RETURN NULL;
    END;
END;
$$;
CREATE FUNCTION bench.verify(token text, secret text, algorithm text DEFAULT 'HS256')
RETURNS TABLE(header json, payload json, valid boolean) LANGUAGE sql IMMUTABLE AS $$
SELECT jwt.header AS header,
       jwt.payload AS payload,
       jwt.signature_ok AND tstzrange(
           to_timestamp(bench.try_cast_double(jwt.payload->>'nbf')),
           to_timestamp(bench.try_cast_double(jwt.payload->>'exp'))
       ) @> CURRENT_TIMESTAMP AS valid
FROM (
    SELECT convert_from(bench.url_decode(r[1]), 'utf8')::json AS header,
           convert_from(bench.url_decode(r[2]), 'utf8')::json AS payload,
           r[3] = bench.algorithm_sign(r[1] || '.' || r[2], secret, algorithm) AS signature_ok
    FROM regexp_split_to_array(token, '\.') r
) jwt
$$;

CREATE TABLE bench.results (
    ord     serial PRIMARY KEY,
    section text   NOT NULL,
    label   text   NOT NULL,
    calls   int    NOT NULL,
    us      float8 NOT NULL,
    ref     boolean NOT NULL DEFAULT false  -- the row the section's ratios are relative to
);

-- Best of `reps` runs (after one warm-up run) of a statement making `calls` calls, in µs per call.
CREATE FUNCTION bench.statement_us(query text, calls int, reps int) RETURNS float8
LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz;
    best float8 := 'Infinity';
    dummy text;
BEGIN
    FOR r IN 0..reps LOOP
        t0 := clock_timestamp();
        EXECUTE query INTO dummy;
        IF r > 0 THEN
            best := least(best, extract(epoch FROM clock_timestamp() - t0) * 1e6 / calls);
        END IF;
    END LOOP;
    RETURN best;
END
$$;

CREATE FUNCTION bench.record(section text, label text, calls int, query text, reps int,
                             ref boolean DEFAULT false) RETURNS float8
LANGUAGE sql AS $$
    INSERT INTO bench.results (section, label, calls, us, ref)
    VALUES (section, label, calls, bench.statement_us(query, calls, reps), ref)
    RETURNING us;
$$;

-- The JSON payloads of the benchmark: distinct per call (no constant folding), valid until 2100.
CREATE FUNCTION bench.payload(i int) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT '{"sub":"user-' || i || '","role":"bench_user","aud":"bench","exp":4102444800}'
$$;
SQL

section "(i) JWT per call: native vs pgjwt-style SQL over pgcrypto (HS256, $CALLS calls per statement, best of $REPS)"
bq <<'SQL'
\set ON_ERROR_STOP 1
-- Correctness first: the two implementations agree byte for byte, and every token verifies.
SELECT auth.sign(bench.payload(7)::json, :'secret') = bench.sign(bench.payload(7)::json, :'secret') AS same
\gset
\if :same
\else
  \warn 'auth.sign and the pgjwt-style bench.sign disagree'
  SELECT 1/0;
\endif
-- Inputs are materialized first, so each timed statement is a scan plus the calls (the
-- "inputs only" rows show what the scan and count cost by themselves).
CREATE TABLE bench.payloads AS SELECT bench.payload(i)::json AS p FROM generate_series(1, :calls) i;
CREATE TABLE bench.tokens AS SELECT auth.sign(p, :'secret') AS tok FROM bench.payloads;
CREATE TABLE bench.server_tokens AS
    SELECT auth.jwt_sign(bench.payload(i)::jsonb - 'aud') AS tok FROM generate_series(1, :calls) i;
SELECT (SELECT count(*) FILTER (WHERE v.valid) FROM bench.tokens t, auth.verify(t.tok, :'secret') v) = :calls
   AND (SELECT count(*) FILTER (WHERE v.valid) FROM bench.tokens t, bench.verify(t.tok, :'secret') v) = :calls
   AS all_valid
\gset
\if :all_valid
\else
  \warn 'not every benchmark token verified'
  SELECT 1/0;
\endif

SELECT bench.record('sign', 'auth.sign (native)', :calls, format(
    'SELECT count(auth.sign(t.p, %L)) FROM bench.payloads t', :'secret'), :reps, true),
  bench.record('sign', 'pgjwt-style SQL over pgcrypto hmac', :calls, format(
    'SELECT count(bench.sign(t.p, %L)) FROM bench.payloads t', :'secret'), :reps),
  bench.record('sign', 'md5() of the same payload', :calls,
    'SELECT count(md5(t.p::text)) FROM bench.payloads t', :reps),
  bench.record('sign', 'inputs only (scan + count)', :calls,
    'SELECT count(t.p) FROM bench.payloads t', :reps),
  bench.record('sign', 'auth.jwt_sign (server key, adds iat/exp)', :calls,
    'SELECT count(auth.jwt_sign(t.p::jsonb)) FROM bench.payloads t', :reps)
\g /dev/null
SELECT bench.record('verify', 'auth.verify (native)', :calls, format(
    'SELECT count(*) FILTER (WHERE v.valid) FROM bench.tokens t, auth.verify(t.tok, %L) v', :'secret'), :reps, true),
  bench.record('verify', 'pgjwt-style SQL over pgcrypto hmac', :calls, format(
    'SELECT count(*) FILTER (WHERE v.valid) FROM bench.tokens t, bench.verify(t.tok, %L) v', :'secret'), :reps),
  bench.record('verify', 'md5() of the same token', :calls,
    'SELECT count(md5(t.tok)) FROM bench.tokens t', :reps),
  bench.record('verify', 'inputs only (scan + count)', :calls,
    'SELECT count(t.tok) FROM bench.tokens t', :reps),
  bench.record('verify', 'auth.jwt_verify (server key, strict, jsonb)', :calls,
    'SELECT count(auth.jwt_verify(t.tok)) FROM bench.server_tokens t', :reps)
\g /dev/null
SQL

section "(i b) ES256 and EdDSA keys of the store: SQL beside the same operation in Rust ($KEY_CALLS calls, best of $REPS)"
# The floor: core/examples/jws_floor.rs signs and verifies the same claims directly in Rust, in
# this run, on this machine.
floor=$(target/release/examples/jws_floor "$KEY_CALLS" "$REPS")
while IFS= read -r line; do echo "  rust: $line"; done <<<"$floor"
floor_us() { echo "$floor" | awk -v a="$1" -v o="$2" '$1 == a && $2 == o { print $3 }'; }
for alg in ES256 EdDSA; do
  bq -v alg="$alg" -v keycalls="$KEY_CALLS" \
    -v sign_us="$(floor_us "$alg" sign)" -v verify_us="$(floor_us "$alg" verify)" <<'SQL'
\set ON_ERROR_STOP 1
SELECT auth.activate_signing_key(auth.create_signing_key(:'alg'))
\g /dev/null
CREATE TABLE bench.key_payloads AS
    SELECT bench.payload(i)::jsonb - 'aud' AS p FROM generate_series(1, :keycalls) i;
INSERT INTO bench.results (section, label, calls, us, ref) VALUES
    (:'alg' || ' sign', 'Rust: encode_claims_with (the floor)', :keycalls, :sign_us, true);
SELECT bench.record(:'alg' || ' sign', 'auth.jwt_sign (active ' || :'alg' || ' key)', :keycalls,
    'SELECT count(auth.jwt_sign(t.p)) FROM bench.key_payloads t', :reps)
\g /dev/null
CREATE TABLE bench.key_tokens AS SELECT auth.jwt_sign(t.p) AS tok FROM bench.key_payloads t;
INSERT INTO bench.results (section, label, calls, us, ref) VALUES
    (:'alg' || ' verify', 'Rust: decode, verify_with, claims (the floor)', :keycalls, :verify_us, true);
SELECT bench.record(:'alg' || ' verify', 'auth.jwt_verify (by kid, strict, jsonb)', :keycalls,
    'SELECT count(auth.jwt_verify(t.tok)) FROM bench.key_tokens t', :reps)
\g /dev/null
DROP TABLE bench.key_tokens, bench.key_payloads;
-- Back to the settings key for the rest of the run.
DELETE FROM auth_private.signing_keys;
SQL
done

bq <<'SQL'
CREATE ROLE bench_anon NOLOGIN;
CREATE ROLE bench_user NOLOGIN;
-- What PostgREST sets for a request before the call, and a clean response.* for the next one.
-- One statement with a cached plan, as PostgREST's prepared one.
CREATE FUNCTION bench.begin_request(method text, path text, claims text, cookies text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('request.jwt.claims', claims, true),
            set_config('request.method', method, true),
            set_config('request.path', path, true),
            set_config('request.headers',
                '{"accept":"*/*","host":"127.0.0.1:3000","user-agent":"curl/7.88.1","content-type":"application/json"}', true),
            set_config('request.cookies', cookies, true),
            set_config('response.headers', '', true),
            set_config('response.status', '', true);
END
$$;
-- The last value a response set for cookie `name` (response.headers, a JSON array).
CREATE FUNCTION bench.set_cookie(name text) RETURNS text LANGUAGE sql AS $$
    SELECT substring(h ->> 'Set-Cookie' FROM '^' || name || '=([^;]*)')
    FROM jsonb_array_elements(nullif(current_setting('response.headers', true), '')::jsonb)
         WITH ORDINALITY AS e(h, n)
    WHERE h ->> 'Set-Cookie' LIKE name || '=%'
    ORDER BY n DESC LIMIT 1
$$;
CREATE FUNCTION bench.require_ok(what text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF coalesce(nullif(current_setting('response.status', true), ''), '200') <> '200' THEN
        RAISE EXCEPTION '% answered HTTP %', what, current_setting('response.status', true);
    END IF;
END
$$;
SQL

section "(ii) sessions: login at bcrypt cost 10 and with argon2id (OWASP), refresh round trip, with and without an access-token hook"
bq -v pw="$BENCH_PASSWORD" -v logins="$LOGIN_CALLS" -v refreshes="$REFRESH_CALLS" <<'SQL'
\set ON_ERROR_STOP 1
SET auth.bcrypt_cost = 10;
INSERT INTO auth.users (username, password, role) VALUES ('bench', :'pw', 'bench_user');
CREATE TABLE bench.pgcrypto_hash AS SELECT public.crypt(:'pw', public.gen_salt('bf', 10)) AS h;
SELECT left(password, 7) = '$2a$10$' OR left(password, 7) = '$2b$10$' AS cost10 FROM auth.users WHERE username = 'bench'
\gset
\if :cost10
\else
  \warn 'the bench user''s hash is not bcrypt cost 10'
  SELECT 1/0;
\endif
-- A second user, hashed with argon2id at the default (OWASP) parameters.
SET auth.password_algorithm = argon2id;
INSERT INTO auth.users (username, password, role) VALUES ('bench_argon2id', :'pw', 'bench_user');
RESET auth.password_algorithm;
SELECT left(password, 31) = '$argon2id$v=19$m=19456,t=2,p=1$' AS owasp FROM auth.users WHERE username = 'bench_argon2id'
\gset
\if :owasp
\else
  \warn 'the bench_argon2id user''s hash is not argon2id with OWASP''s parameters'
  SELECT 1/0;
\endif

-- A trivial access-token hook (one added claim), owned by a role of its own as the docs advise.
CREATE ROLE bench_hook NOLOGIN;
GRANT USAGE ON SCHEMA bench TO bench_hook;
CREATE FUNCTION bench.token_hook(event jsonb) RETURNS jsonb
LANGUAGE sql STABLE AS $$ SELECT event -> 'claims' || '{"tenant": "bench"}' $$;
ALTER FUNCTION bench.token_hook(jsonb) OWNER TO bench_hook;

-- Sessions are timed one request per transaction, as PostgREST runs them (a procedure that
-- COMMITs after each call): a loop inside one transaction would pile up row versions of the
-- session row that no one can prune, and measure that instead. Each request: the request
-- settings, the call, a check that it answered 200, reading its Set-Cookie (refresh), COMMIT.
-- Best of `reps` runs of n requests after a warm-up run, in µs per request.
CREATE PROCEDURE bench.time_sessions(what text, n int, reps int, pw text)
LANGUAGE plpgsql AS $$
DECLARE
    v_tok text;
    t0 timestamptz;
    best float8 := 'Infinity';
BEGIN
    IF what LIKE 'refresh%' THEN
        PERFORM bench.begin_request('POST', '/rpc/login', '{"role":"bench_anon"}', '{}');
        PERFORM auth.login('bench', pw);
        PERFORM bench.require_ok('login');
        v_tok := bench.set_cookie('refresh_token');
        COMMIT;
    END IF;
    FOR r IN 0..reps LOOP
        t0 := clock_timestamp();
        FOR i IN 1..n LOOP
            IF what LIKE 'login%' THEN
                PERFORM bench.begin_request('POST', '/rpc/login', '{"role":"bench_anon"}', '{}');
                PERFORM auth.login(CASE what WHEN 'login_argon2id' THEN 'bench_argon2id' ELSE 'bench' END, pw);
                PERFORM bench.require_ok('login');
            ELSE
                PERFORM bench.begin_request('POST', '/rpc/refresh_token', '{"role":"bench_anon"}',
                                            json_build_object('refresh_token', v_tok)::text);
                PERFORM auth.refresh_token();
                PERFORM bench.require_ok('refresh_token');
                v_tok := bench.set_cookie('refresh_token');
                IF v_tok IS NULL THEN RAISE EXCEPTION 'refresh_token set no refresh cookie'; END IF;
            END IF;
            COMMIT;
        END LOOP;
        IF r > 0 THEN
            best := least(best, extract(epoch FROM clock_timestamp() - t0) * 1e6 / n);
        END IF;
    END LOOP;
    INSERT INTO bench.results (section, label, calls, us, ref) VALUES
        (CASE WHEN what LIKE 'login%' THEN 'login' ELSE 'refresh' END,
         CASE what WHEN 'login' THEN 'auth.login at cost 10 (bcrypt + session + cookies), 1 txn each'
                   WHEN 'login_argon2id' THEN 'auth.login with argon2id m=19456 t=2 p=1 (OWASP; + session + cookies), 1 txn each'
                   WHEN 'login_hook' THEN 'auth.login (bcrypt cost 10) with a trivial auth.access_token_hook, 1 txn each'
                   WHEN 'refresh_hook' THEN 'auth.refresh_token round trip with a trivial auth.access_token_hook, 1 txn each'
                   ELSE 'auth.refresh_token round trip (cookie in, rotated cookies out), 1 txn each' END,
         n, best, what = 'refresh');
    COMMIT;
END
$$;
CREATE FUNCTION bench.crypt_loop(n int, pw text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    h text := (SELECT p.h FROM bench.pgcrypto_hash p);
    ok boolean := true;
BEGIN
    FOR i IN 1..n LOOP
        ok := ok AND public.crypt(pw, h) = h;
    END LOOP;
    IF NOT ok THEN RAISE EXCEPTION 'crypt() did not verify'; END IF;
    RETURN ok;
END
$$;

SELECT bench.record('login', 'pgcrypto crypt() at cost 10 (bcrypt alone)', :logins,
    format('SELECT bench.crypt_loop(%s, %L)', :logins, :'pw'), :reps, true)
\g /dev/null
CALL bench.time_sessions('login', :logins, :reps, :'pw');
SELECT bench.record('login', 'auth.verify_password at cost 10 (bcrypt alone)', :logins,
    format('SELECT count(auth.verify_password(%L, u.password)) FROM auth.users u, generate_series(1, %s) WHERE u.username = %L',
           :'pw', :logins, 'bench'), :reps)
\g /dev/null
-- argon2id logins run with the setting on, so that the user's hash is kept (not re-hashed to
-- bcrypt); the bcrypt ones above ran with it off.
SET auth.password_algorithm = argon2id;
CALL bench.time_sessions('login_argon2id', :logins, :reps, :'pw');
RESET auth.password_algorithm;
SELECT bench.record('login', 'auth.verify_password with argon2id m=19456 t=2 p=1 (argon2 alone)', :logins,
    format('SELECT count(auth.verify_password(%L, u.password)) FROM auth.users u, generate_series(1, %s) WHERE u.username = %L',
           :'pw', :logins, 'bench_argon2id'), :reps)
\g /dev/null
SELECT left(password, 31) = '$argon2id$v=19$m=19456,t=2,p=1$' AS still_owasp FROM auth.users WHERE username = 'bench_argon2id'
\gset
\if :still_owasp
\else
  \warn 'the argon2id logins re-hashed the bench_argon2id user'
  SELECT 1/0;
\endif
CALL bench.time_sessions('refresh', :refreshes, :reps, :'pw');
-- The same with the hook set: each token's claims go through it (as its owner, in a
-- subtransaction, the reserved claims checked). Checked to be in the token first.
SET auth.access_token_hook = 'bench.token_hook';
CALL bench.time_sessions('login_hook', :logins, :reps, :'pw');
CALL bench.time_sessions('refresh_hook', :refreshes, :reps, :'pw');
BEGIN;
SELECT bench.begin_request('POST', '/rpc/login', '{"role":"bench_anon"}', '{}')
\g /dev/null
SELECT auth.login('bench', :'pw')
\g /dev/null
SELECT coalesce(auth.jwt_verify(bench.set_cookie('access_token')) ->> 'tenant' = 'bench', false) AS hooked
\gset
COMMIT;
\if :hooked
\else
  \warn 'the access-token hook did not reach the token'
  SELECT 1/0;
\endif
RESET auth.access_token_hook;
SQL

section "(ii) auth.check_request() per PostgREST-shaped GET (READ ONLY, as bench_user; $HOOK_CALLS requests, best of $REPS)"
bq -v pw="$BENCH_PASSWORD" -v n="$HOOK_CALLS" <<'SQL'
\set ON_ERROR_STOP 1
-- n requests: set_config of the request settings, then (with_hook) the db-pre-request call. Runs
-- both variants alternately, reps times after a warm-up, and returns the best µs per request of each.
CREATE FUNCTION bench.requests(claims text, n int, reps int, OUT plain_us float8, OUT hook_us float8)
LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz;
BEGIN
    plain_us := 'Infinity';
    hook_us := 'Infinity';
    FOR r IN 0..reps LOOP
        t0 := clock_timestamp();
        FOR i IN 1..n LOOP
            PERFORM bench.begin_request('GET', '/todos', claims, '{}');
        END LOOP;
        IF r > 0 THEN plain_us := least(plain_us, extract(epoch FROM clock_timestamp() - t0) * 1e6 / n); END IF;
        t0 := clock_timestamp();
        FOR i IN 1..n LOOP
            PERFORM bench.begin_request('GET', '/todos', claims, '{}');
            PERFORM auth.check_request();
        END LOOP;
        IF r > 0 THEN hook_us := least(hook_us, extract(epoch FROM clock_timestamp() - t0) * 1e6 / n); END IF;
    END LOOP;
END
$$;
CREATE FUNCTION bench.record_hook(kind text, n int, plain_us float8, hook_us float8) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO bench.results (section, label, calls, us, ref) VALUES
        ('hook, ' || kind, 'GET: request settings only (set_config x7)', n, plain_us, true),
        ('hook, ' || kind, 'GET: same + auth.check_request()', n, hook_us, false);
$$;
-- The roles PostgREST switches to must be able to run the hook (the helper also grants its
-- private slow path).
SELECT auth.grant_request_check(ARRAY['bench_anon', 'bench_user']::name[])
\g /dev/null

-- The claims of the three kinds of request.
SELECT '{"role":"bench_user","sub":"bench","exp":4102444800}' AS plain_claims
\gset
-- A live session's access token (request.* and response.* settings live for one transaction).
BEGIN;
SELECT bench.begin_request('POST', '/rpc/login', '{"role":"bench_anon"}', '{}')
\g /dev/null
SELECT auth.login('bench', :'pw')
\g /dev/null
SELECT auth.jwt_verify(bench.set_cookie('access_token'))::text AS sid_claims
\gset
COMMIT;
SELECT auth.jwt_verify(auth.create_api_token('bench token', 'bench_user'))::text AS tid_claims
\gset

-- Each as PostgREST runs a GET: READ ONLY, as the token's role.
BEGIN READ ONLY;
SET LOCAL ROLE bench_user;
SELECT plain_us AS p_plain, hook_us AS h_plain FROM bench.requests(:'plain_claims', :n, :reps)
\gset
SELECT plain_us AS p_sid, hook_us AS h_sid FROM bench.requests(:'sid_claims', :n, :reps)
\gset
SELECT plain_us AS p_tid, hook_us AS h_tid FROM bench.requests(:'tid_claims', :n, :reps)
\gset
COMMIT;
SELECT bench.record_hook('no tid/sid', :n, :p_plain, :h_plain)
\g /dev/null
SELECT bench.record_hook('sid lookup', :n, :p_sid, :h_sid)
\g /dev/null
SELECT bench.record_hook('tid lookup', :n, :p_tid, :h_tid)
\g /dev/null

-- Cookie authentication (auth.cookie_auth = on): PostgREST alone runs the request as the
-- anonymous role with the access cookie in request.cookies; the hook verifies the cookie's token
-- (a hit of its per-backend cache, or, cycling through more distinct tokens than the cache
-- holds, a miss every time), looks the session up and switches to the user's role. Both variants
-- start each request as bench_anon, as PostgREST does.
CREATE FUNCTION bench.cookie_requests(tokens text[], n int, reps int, OUT plain_us float8, OUT hook_us float8)
LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz;
    k int := pg_catalog.cardinality(tokens);
BEGIN
    plain_us := 'Infinity';
    hook_us := 'Infinity';
    FOR r IN 0..reps LOOP
        t0 := clock_timestamp();
        FOR i IN 1..n LOOP
            PERFORM bench.begin_request('GET', '/todos', '{"role":"bench_anon"}',
                                        jsonb_build_object('access_token', tokens[1 + i % k])::text),
                    set_config('role', 'bench_anon', true);
        END LOOP;
        IF r > 0 THEN plain_us := least(plain_us, extract(epoch FROM clock_timestamp() - t0) * 1e6 / n); END IF;
        t0 := clock_timestamp();
        FOR i IN 1..n LOOP
            PERFORM bench.begin_request('GET', '/todos', '{"role":"bench_anon"}',
                                        jsonb_build_object('access_token', tokens[1 + i % k])::text),
                    set_config('role', 'bench_anon', true);
            PERFORM auth.check_request();
            IF current_user <> 'bench_user' THEN
                RAISE EXCEPTION 'the cookie did not authenticate the request (%)', current_user;
            END IF;
        END LOOP;
        IF r > 0 THEN hook_us := least(hook_us, extract(epoch FROM clock_timestamp() - t0) * 1e6 / n); END IF;
    END LOOP;
END
$$;
-- 512 distinct access tokens of the session (the cache holds 256, oldest out first).
SELECT array_agg(auth.jwt_sign(jsonb_build_object('role', 'bench_user', 'sub', 'bench',
           'sid', :'sid_claims'::jsonb ->> 'sid', 'n', i))) AS cookie_tokens
FROM generate_series(1, 512) i
\gset
SET auth.cookie_auth = on;
BEGIN READ ONLY;
SELECT plain_us AS p_hit, hook_us AS h_hit
FROM bench.cookie_requests(ARRAY[(:'cookie_tokens'::text[])[1]], :n, :reps)
\gset
SELECT plain_us AS p_miss, hook_us AS h_miss FROM bench.cookie_requests(:'cookie_tokens', :n, :reps)
\gset
COMMIT;
RESET auth.cookie_auth;
SELECT bench.record_hook('cookie, cache hit', :n, :p_hit, :h_hit)
\g /dev/null
SELECT bench.record_hook('cookie, cache miss', :n, :p_miss, :h_miss)
\g /dev/null
SQL

section "(iii) claim helpers in row-level security (count(*) of $RLS_ROWS rows, 1% of them the caller's; µs per row, best of $REPS)"
bq -v rows="$RLS_ROWS" <<'SQL'
\set ON_ERROR_STOP 1
-- One table, 100 owners; the claims set for the session, as PostgREST sets them per request.
CREATE TABLE bench.docs AS SELECT i AS id, 'user-' || (i % 100) AS owner FROM generate_series(1, :rows) i;
VACUUM ANALYZE bench.docs;
CREATE ROLE bench_rls NOLOGIN;
GRANT SELECT ON bench.docs TO bench_rls;
SELECT set_config('request.jwt.claims', '{"sub":"user-7","role":"bench_rls","exp":4102444800}', false)
\g /dev/null
SELECT 'owner = (SELECT auth.uid())' AS p_sub,
       'owner = auth.uid()' AS p_plain,
       'owner = current_setting(''request.jwt.claims'', true)::jsonb ->> ''sub''' AS p_hand
\gset

-- (a) A plain WHERE, as the table's owner.
SELECT bench.record('rls, WHERE', :'p_sub', :rows, 'SELECT count(*) FROM bench.docs WHERE ' || :'p_sub', :reps, true),
       bench.record('rls, WHERE', :'p_plain', :rows, 'SELECT count(*) FROM bench.docs WHERE ' || :'p_plain', :reps),
       bench.record('rls, WHERE', :'p_hand', :rows, 'SELECT count(*) FROM bench.docs WHERE ' || :'p_hand', :reps)
\g /dev/null

-- (b) The USING of a policy, as bench_rls (which does not own the table): count(*) without a
-- WHERE, each predicate in turn the policy's. Each must let bench_rls see exactly its 1%.
ALTER TABLE bench.docs ENABLE ROW LEVEL SECURITY;
CREATE POLICY own ON bench.docs USING (false);
CREATE FUNCTION bench.policy_us(predicate text, n_rows int, reps int) RETURNS float8
LANGUAGE plpgsql AS $$
DECLARE
    us float8;
    seen bigint;
BEGIN
    EXECUTE format('ALTER POLICY own ON bench.docs USING (%s)', predicate);
    SET LOCAL ROLE bench_rls;
    SELECT count(*) INTO seen FROM bench.docs;
    IF seen <> n_rows / 100 THEN
        RAISE EXCEPTION 'policy % let bench_rls see % rows', predicate, seen;
    END IF;
    us := bench.statement_us('SELECT count(*) FROM bench.docs', n_rows, reps);
    RESET ROLE;
    RETURN us;
END
$$;
INSERT INTO bench.results (section, label, calls, us, ref)
VALUES ('rls, policy', 'USING (' || :'p_sub' || ')', :rows, bench.policy_us(:'p_sub', :rows, :reps), true);
INSERT INTO bench.results (section, label, calls, us, ref)
VALUES ('rls, policy', 'USING (' || :'p_plain' || ')', :rows, bench.policy_us(:'p_plain', :rows, :reps), false);
INSERT INTO bench.results (section, label, calls, us, ref)
VALUES ('rls, policy', 'USING (' || :'p_hand' || ')', :rows, bench.policy_us(:'p_hand', :rows, :reps), false);
SQL

section "results (µs per call; ratio = time / the section's first row)"
bq <<'SQL'
\pset footer off
SELECT r.section,
       r.label,
       r.calls,
       to_char(r.us, CASE WHEN r.us < 1 THEN 'FM0.000' ELSE 'FM999990.00' END) AS "µs/call",
       to_char(r.us / f.us, 'FM99990.00') || '×' AS ratio
FROM bench.results r
JOIN LATERAL (SELECT f.us FROM bench.results f
              WHERE f.section = r.section AND f.ref AND f.ord <= r.ord
              ORDER BY f.ord DESC LIMIT 1) f ON true
ORDER BY r.ord;

-- The performance targets.
WITH v AS (
    SELECT section, label, us, ref FROM bench.results
), t(what, value, target, met) AS (
    SELECT 'sign: native faster than pgjwt-style SQL',
           to_char(p.us / n.us, 'FM99990.0') || '×', '≥ 20×', p.us / n.us >= 20
    FROM v n, v p WHERE n.label = 'auth.sign (native)' AND p.section = 'sign' AND p.label LIKE 'pgjwt%'
    UNION ALL
    SELECT 'verify: native faster than pgjwt-style SQL',
           to_char(p.us / n.us, 'FM99990.0') || '×', '≥ 10×', p.us / n.us >= 10
    FROM v n, v p WHERE n.label = 'auth.verify (native)' AND p.section = 'verify' AND p.label LIKE 'pgjwt%'
    UNION ALL
    SELECT 'verify: auth.jwt_verify / auth.verify',
           to_char(j.us / n.us, 'FM990.00') || '×', '≤ 2×', j.us / n.us <= 2
    FROM v n, v j WHERE n.label = 'auth.verify (native)' AND j.section = 'verify' AND j.label LIKE 'auth.jwt_verify%'
    UNION ALL
    SELECT r.section || ': SQL / Rust', to_char(q.us / r.us, 'FM990.00') || '×', '≤ 1.3×', q.us / r.us <= 1.3
    FROM v r JOIN v q ON q.section = r.section AND NOT q.ref
    WHERE r.ref AND r.label LIKE 'Rust:%'
    UNION ALL
    SELECT 'login / crypt() at cost 10',
           to_char(l.us / c.us, 'FM990.00') || '×', '≤ 1.20×', l.us / c.us <= 1.2
    FROM v c, v l WHERE c.label LIKE 'pgcrypto crypt()%' AND l.label LIKE 'auth.login at cost 10%'
    UNION ALL
    SELECT 'refresh round trip', to_char(us, 'FM99990.0') || ' µs', '≤ 200 µs', us <= 200
    FROM v WHERE section = 'refresh' AND ref
    UNION ALL
    SELECT h.section || ' overhead per request',
           to_char(h.us - p.us, 'FM99990.0') || ' µs',
           CASE WHEN h.section LIKE '%no tid%' THEN '≤ 10 µs' ELSE '≤ 50 µs' END,
           h.us - p.us <= CASE WHEN h.section LIKE '%no tid%' THEN 10 ELSE 50 END
    FROM v h JOIN v p ON p.section = h.section AND p.ref
    WHERE h.section LIKE 'hook%' AND NOT h.ref
    UNION ALL
    SELECT p.section || ': auth.uid() / (SELECT auth.uid())',
           to_char(p.us / s.us, 'FM990.00') || '×', '≤ 3×', p.us / s.us <= 3
    FROM v s JOIN v p ON p.section = s.section AND s.ref
    WHERE s.section LIKE 'rls%' AND p.label LIKE '%= auth.uid()%'
    UNION ALL
    SELECT h.section || ': hand-written jsonb / auth.uid()',
           to_char(h.us / p.us, 'FM990.0') || '×', '≥ 5×', h.us / p.us >= 5
    FROM v p JOIN v h ON h.section = p.section
    WHERE p.section LIKE 'rls%' AND p.label LIKE '%= auth.uid()%' AND h.label LIKE '%current_setting%'
)
SELECT what AS "target", value AS measured, target AS "goal",
       CASE WHEN met THEN 'met' ELSE 'NOT met' END AS verdict
FROM t;
SQL
echo
echo "PostgreSQL $(cluster_value 'SHOW server_version'), $(nproc) cores; release build of auth; cluster: fsync off, loopback only."
