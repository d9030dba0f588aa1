#!/usr/bin/env bash
# The demo command: builds and installs `auth` into the local PostgreSQL 15, starts a throwaway
# cluster (as postgres, spare loopback port, data under target/demo) with a real PostgREST 12.0.2
# in front of it, and plays
#   (a) the JWT core: a token signed in SQL is accepted by PostgREST (200), a tampered one is
#       refused (401), and jwt_verify checks tokens in SQL;
#   (b) a browser session over HTTP: login -> authenticated request with the cookie's token ->
#       refresh -> logout -> refresh refused -> the logged-out access token refused;
# printing each step's status line and Set-Cookie headers. Exits non-zero as soon as a status is
# not the expected one; stops PostgREST and PostgreSQL in every case.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/cluster.sh
source scripts/lib/cluster.sh

DEMO_USER=demo
DEMO_PASSWORD='correct horse battery staple'

section() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
say() { printf '%s\n' "$*"; }
fail() {
  printf '\nDEMO FAILED: %s\n' "$*" >&2
  exit 1
}
# Shortens tokens for the request lines we print (responses are printed whole).
abbrev() { sed -E 's/([A-Za-z0-9_-]{12})[A-Za-z0-9_.-]{20,}/\1…/g' <<<"$*"; }

# request LABEL EXPECTED_CODES METHOD PATH [curl args...]: prints the request, the status line, the
# Set-Cookie headers and the body; fails unless the status is one of EXPECTED_CODES.
request() {
  local label=$1 expected=$2 method=$3 path=$4 code shown="" arg
  shift 4
  for arg in "$@"; do
    case "$arg" in -H | --data) ;; *) shown+=" [$(abbrev "$arg")]" ;; esac
  done
  printf '\n-- %s\n   > %s %s%s\n' "$label" "$method" "$path" "$shown"
  code=$(curl -sS -m 30 -o "$BODY" -D "$HDRS" -w '%{http_code}' -X "$method" "$PGRST_URL$path" "$@") ||
    fail "$label: curl failed"
  printf '   < %s\n' "$(head -1 "$HDRS" | tr -d '\r')"
  grep -i '^set-cookie:' "$HDRS" | tr -d '\r' | sed 's/^/   < /' || true
  if [ -s "$BODY" ]; then printf '   %s\n' "$(head -c 400 "$BODY")"; fi
  case " $expected " in
  *" $code "*) printf '   ok: %s (expected %s)\n' "$code" "${expected// / or }" ;;
  *) fail "$label: HTTP $code, expected ${expected// / or }" ;;
  esac
}

# The value of a cookie set by the last response ("" when absent).
set_cookie() {
  grep -i "^set-cookie: *$1=" "$HDRS" | tail -1 | tr -d '\r' | sed -E "s/^[^:]*: *$1=([^;]*).*/\1/I"
}

section "setup"
scripts/setup.sh
auth_build
auth_lock
auth_install

# auth.cookie_secure = off: the demo speaks plain http on loopback, where browsers drop Secure
# cookies. Keep the default (on) anywhere else.
cluster_init demo "auth.cookie_secure = off"
cluster_start
HDRS=$CLUSTER_DIR/http-headers # in the 0700 cluster directory: they carry tokens
BODY=$CLUSTER_DIR/http-body

section "CREATE EXTENSION auth, roles and an API table"
cluster_psql <<'SQL'
CREATE EXTENSION auth;
-- PostgREST's roles: it logs in as authenticator and switches to anon or to the JWT's role.
CREATE ROLE anon NOLOGIN;
CREATE ROLE demo_user NOLOGIN;
CREATE ROLE authenticator LOGIN NOINHERIT;
GRANT anon, demo_user TO authenticator;

-- The API: todos, each user seeing only their own through row-level security on auth.uid()
-- (written (SELECT auth.uid()): evaluated once per statement, not once per row).
CREATE SCHEMA api;
GRANT USAGE ON SCHEMA api TO anon, demo_user;
CREATE TABLE api.todos (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner text NOT NULL DEFAULT auth.uid(),
    task text NOT NULL,
    done boolean NOT NULL DEFAULT false
);
ALTER TABLE api.todos ENABLE ROW LEVEL SECURITY;
CREATE POLICY todos_own ON api.todos
    USING (owner = (SELECT auth.uid())) WITH CHECK (owner = (SELECT auth.uid()));
GRANT SELECT, INSERT, UPDATE, DELETE ON api.todos TO demo_user;
INSERT INTO api.todos (owner, task, done) VALUES
    ('demo', 'try auth.jwt_sign', true),
    ('demo', 'log in through PostgREST', false),
    ('alice', 'a todo demo must never see', false);
SQL
say "extension: $(cluster_value "SELECT extname || ' ' || extversion FROM pg_extension WHERE extname = 'auth'")"
say "roles: anon, demo_user, authenticator; table api.todos (3 rows, 2 owned by 'demo')"

# The session functions and the db-pre-request hook are private by default: the documented grants.
cluster_psql <<'SQL' >/dev/null
SELECT auth.grant_session_access('anon', ARRAY['demo_user']::name[]);
SELECT auth.grant_request_check(ARRAY['anon', 'demo_user']::name[]);
SQL
cluster_psql -v u="$DEMO_USER" -v p="$DEMO_PASSWORD" <<'SQL'
-- The demo's user, in auth.users: the password is stored as its bcrypt hash by a trigger.
INSERT INTO auth.users (username, password, role) VALUES (:'u', :'p', 'demo_user');
SQL
say "user '$DEMO_USER' (role demo_user) in auth.users"

postgrest_start anon auth.check_request

section "(a) JWT: signed in SQL, checked by PostgREST and in SQL"
say "-- SELECT auth.jwt_sign('{\"role\":\"demo_user\",\"sub\":\"demo\"}')"
TOKEN=$(cluster_value "SELECT auth.jwt_sign('{\"role\":\"demo_user\",\"sub\":\"demo\"}')")
[ -n "$TOKEN" ] || fail "auth.jwt_sign returned nothing"
say "   $TOKEN"

request "GET /todos with Authorization: Bearer <signed token>: RLS shows demo's rows" 200 \
  GET "/todos?select=id,task,done&order=id" -H "Authorization: Bearer $TOKEN"
grep -q '"task"' "$BODY" && ! grep -q 'never see' "$BODY" || fail "unexpected rows: $(cat "$BODY")"

# Same header and signature, payload rewritten to impersonate alice.
TAMPERED=$(cluster_value "SELECT split_part(t, '.', 1) || '.' || auth.url_encode(convert_to(
    replace(convert_from(auth.url_decode(split_part(t, '.', 2)), 'UTF8'), '\"demo\"', '\"alice\"'), 'UTF8'))
    || '.' || split_part(t, '.', 3) FROM (SELECT :'t'::text AS t) s" -v t="$TOKEN")
request "GET /todos with a tampered token (sub changed to alice, old signature)" 401 \
  GET "/todos" -H "Authorization: Bearer $TAMPERED"
request "GET /todos without a token (anon has no grant on todos)" 401 GET "/todos"

say
say "-- SELECT auth.jwt_verify(<signed token>)"
CLAIMS=$(cluster_value "SELECT auth.jwt_verify(:'t')" -v t="$TOKEN") || fail "jwt_verify refused a good token"
say "   $CLAIMS"
say "-- SELECT auth.jwt_verify(<tampered token>)"
if OUT=$(cluster_value "SELECT auth.jwt_verify(:'t')" -v t="$TAMPERED" -v VERBOSITY=verbose 2>&1); then
  fail "jwt_verify accepted a tampered token: $OUT"
fi
say "   $(grep -m1 ERROR <<<"$OUT")"
grep -q 'ERROR: *PT401:' <<<"$OUT" || fail "jwt_verify of a tampered token: expected SQLSTATE PT401"
say "   ok: SQLSTATE PT401 (HTTP 401 when called through PostgREST)"

section "(b) a browser session over HTTP: login, request, refresh, logout"
J='Content-Type: application/json'
P='Content-Profile: auth'
request "login with a wrong password" 401 POST /rpc/login -H "$P" -H "$J" \
  --data "{\"username\": \"$DEMO_USER\", \"password\": \"wrong\"}"
request "login (Content-Profile: auth)" "200 204" POST /rpc/login -H "$P" -H "$J" \
  --data "{\"username\": \"$DEMO_USER\", \"password\": \"$DEMO_PASSWORD\"}"
ACCESS=$(set_cookie access_token)
REFRESH=$(set_cookie refresh_token)
[ -n "$ACCESS" ] && [ -n "$REFRESH" ] || fail "login did not set both cookies"
grep -i '^set-cookie: *access_token=' "$HDRS" | grep -qi 'httponly' || fail "access_token cookie is not HttpOnly"

# Caddy/nginx copy the access_token cookie into Authorization; PostgREST reads the header.
request "authenticated request: the access_token cookie's value as Bearer" 200 \
  GET "/todos?select=id,task,done&order=id" -H "Authorization: Bearer $ACCESS" -H "Cookie: access_token=$ACCESS"
grep -q '"task"' "$BODY" || fail "no rows for the logged-in user"

# The browser sends the refresh cookie only to its Path, /rpc/refresh_token. (A second later,
# so that the new access token's iat/exp, and so the token, differ from the first one's.)
sleep 1
request "refresh with the refresh_token cookie" "200 204" POST /rpc/refresh_token -H "$P" \
  -H "$J" --data '{}' -H "Cookie: refresh_token=$REFRESH"
NEW_ACCESS=$(set_cookie access_token)
NEW_REFRESH=$(set_cookie refresh_token)
[ -n "$NEW_ACCESS" ] && [ -n "$NEW_REFRESH" ] || fail "refresh did not set both cookies"
[ "$NEW_REFRESH" != "$REFRESH" ] || fail "refresh did not rotate the refresh token"

request "logout (access cookie as Bearer)" "200 204" POST /rpc/logout -H "$P" -H "$J" --data '{}' \
  -H "Authorization: Bearer $NEW_ACCESS" -H "Cookie: access_token=$NEW_ACCESS"
for c in access_token refresh_token; do
  grep -i "^set-cookie: *$c=;" "$HDRS" | grep -qi 'max-age=0' || fail "logout did not clear $c"
done

request "refresh after logout (session revoked)" 401 POST /rpc/refresh_token -H "$P" \
  -H "$J" --data '{}' -H "Cookie: refresh_token=$NEW_REFRESH"
request "the logged-out access token (db-pre-request = auth.check_request)" 401 \
  GET "/todos" -H "Authorization: Bearer $NEW_ACCESS"

section "done"
say "all demo steps gave the expected status; stopping PostgREST and PostgreSQL"
