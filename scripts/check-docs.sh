#!/usr/bin/env bash
# Checks the documentation (README.md, CONTRIBUTING.md, docs/*.md):
#   - every relative link resolves to a file or directory of the repository, and every #anchor to
#     a heading of its target (GitHub's slug rules); no link leaves the repository;
#   - no external address at all (name other projects in plain text): no link with a scheme, no
#     URL in the text, and in code only loopback or example hosts;
#   - README.md has at most 250 lines;
#   - no wording from how the project was planned (numbered planning items and the like);
#   - every configuration file of e2e/conf/ the docs name exists and is loaded by the end-to-end
#     suite (e2e/src/), every file there is linked from the docs, and a configuration file the
#     docs link lives there;
#   - the PostgREST settings the docs show (db-*, jwt-* lines of ```ini blocks) are ones of the
#     PostgREST configurations the suite runs (e2e/conf/postgrest*.conf), placeholders (<...>)
#     aside;
#   - a mailer the docs show (a ```python block with LISTEN auth_outbox) is examples/mailer.py as it
#     is, the file the end-to-end suite runs.
#
#   scripts/check-docs.sh [ROOT]        check the repository (or a copy of it at ROOT)
#   scripts/check-docs.sh --self-test   break a copy in each of those ways and show each is caught
#
# Plain bash and GNU coreutils/sed/grep; exits 1 and lists every problem when something is wrong.
# shellcheck disable=SC2016 # backticks in sed and grep patterns are Markdown's, not the shell's
set -euo pipefail
export LC_ALL=C.UTF-8

README_MAX_LINES=250

if [ "${1:-}" = --self-test ]; then
  self_test=1
  root=$(cd "$(dirname "$0")/.." && pwd)
else
  self_test=
  root=$(cd "${1:-$(dirname "$0")/..}" && pwd)
fi

# ---------------------------------------------------------------------------------------------
# The check itself, on the tree at $1. Prints one line per problem; returns 1 if there was one.
check_tree() {
  local root=$1
  local -a docs=() problems=()
  local f
  for f in README.md CONTRIBUTING.md docs/*.md; do
    [ -f "$root/$f" ] && docs+=("$f")
  done
  [ -f "$root/README.md" ] || problems+=("README.md: missing")
  [ -f "$root/docs/README.md" ] || problems+=("docs/README.md: missing (the index of docs/)")

  declare -A slugs=()   # "file#slug" -> 1
  declare -A linked=()  # repository-relative paths some doc links to -> 1
  local doc

  # Text without fenced code blocks (blank lines in their place), for links and headings.
  outside_code() {
    awk '/^[[:space:]]*(```|~~~)/ { fence = !fence; print ""; next } { print fence ? "" : $0 }' "$1"
  }

  # GitHub's heading anchors: the heading's text (code spans and link targets dropped),
  # lower-cased, without characters other than letters, digits, spaces, '-' and '_', spaces
  # turned into '-'; a repeated slug gets -1, -2, ...
  heading_slugs() {
    local slug
    declare -A seen=()
    while IFS= read -r slug; do
      if [ -n "${seen[$slug]+x}" ]; then
        seen[$slug]=$((seen[$slug] + 1))
        slug="$slug-${seen[$slug]}"
      else
        seen[$slug]=0
      fi
      printf '%s\n' "$slug"
    done < <(outside_code "$1" | sed -nE '/^ {0,3}#{1,6}[[:space:]]/!d
      s/^ {0,3}#{1,6}[[:space:]]+//; s/[[:space:]]+#+[[:space:]]*$//; s/`//g; s/!?\[([^]]*)\]\([^)]*\)/\1/g
      s/.*/\L&/; s/[^[:alnum:] _-]//g; s/ /-/g; p')
  }

  # REPLY: a path relative to the repository with . and .. resolved, or ".." when it leaves it.
  normalize() {
    local -a parts=() out=()
    local part
    IFS=/ read -ra parts <<<"$1"
    for part in "${parts[@]}"; do
      case "$part" in
      '' | .) ;;
      ..)
        if ((${#out[@]})); then unset 'out[${#out[@]}-1]'; else out=(..); break; fi
        ;;
      *) out+=("$part") ;;
      esac
    done
    local IFS=/
    REPLY=${out[*]:-.}
  }

  for doc in "${docs[@]}"; do
    while IFS= read -r s; do slugs["$doc#$s"]=1; done < <(heading_slugs "$root/$doc")
  done

  # --- links -----------------------------------------------------------------------------------
  local target path anchor dir rel
  for doc in "${docs[@]}"; do
    dir=$(dirname "$doc")
    # Paragraphs joined into one line each (a link may wrap), code spans removed.
    while IFS= read -r target; do
      case "$target" in
      '') continue ;;
      [A-Za-z]*:*)
        if [[ "$target" =~ ^[A-Za-z][A-Za-z0-9+.-]*: ]]; then
          problems+=("$doc: link to $target: an external address (name it in plain text instead)")
          continue
        fi
        ;;
      /*)
        problems+=("$doc: link to $target: an absolute path (use a path relative to $doc)")
        continue
        ;;
      esac
      path=${target%%#*}
      anchor=
      [[ "$target" == *"#"* ]] && anchor=${target#*#}
      if [ -z "$path" ]; then
        rel=$doc
      else
        normalize "$dir/$path"
        rel=$REPLY
        if [ "$rel" = .. ]; then
          problems+=("$doc: link to $target: outside the repository")
          continue
        fi
        if [ ! -e "$root/$rel" ]; then
          problems+=("$doc: link to $target: no such file or directory ($rel)")
          continue
        fi
        linked["$rel"]=1
      fi
      if [ -n "$anchor" ]; then
        if [[ "$rel" != *.md ]]; then
          problems+=("$doc: link to $target: an anchor into a file that is not Markdown")
        elif [ -z "${slugs["$rel#$anchor"]+x}" ]; then
          problems+=("$doc: link to $target: no heading of $rel has the anchor #$anchor")
        fi
      fi
    done < <(outside_code "$root/$doc" |
      awk 'NF == 0 { if (p != "") print p; p = ""; next } { p = p " " $0 } END { if (p != "") print p }' |
      sed -E 's/`[^`]*`//g' |
      { grep -oE '\]\([^)[:space:]]*([[:space:]]+"[^"]*")?\)|^[[:space:]]*\[[^]]+\]:[[:space:]]*[^[:space:]]+|(href|src)="[^"]*"' || true; } |
      sed -E 's/^\]\(([^)[:space:]]*).*\)$/\1/; s/^[[:space:]]*\[[^]]+\]:[[:space:]]*//; s/^(href|src)="([^"]*)"$/\2/')
  done

  # --- external addresses ------------------------------------------------------------------------
  local hit host
  for doc in "${docs[@]}"; do
    # In the text (outside code): no address at all.
    while IFS= read -r hit; do
      problems+=("$doc: external address in the text: $hit (name it in plain text instead)")
    done < <(outside_code "$root/$doc" | sed -E 's/`[^`]*`//g' |
      { grep -oiE '[a-z][a-z0-9+.-]*://[^[:space:])>]*|\bwww\.[a-z0-9.-]+|mailto:[^[:space:])>]+' || true; })
    # Anywhere (code included): http(s) only to loopback, to names without a dot (an upstream),
    # to @@MARKER@@ placeholders or to example domains.
    while IFS= read -r hit; do
      host=${hit#*://}
      host=${host#*@}
      host=${host%%:*}
      host=${host,,}
      case "$host" in
      localhost | 127.0.0.1 | '[' | 0.0.0.0 | *@@* | example.com | example.org | example.net | *.example | *.example.com | *.example.org | *.example.net) ;;
      *.*) problems+=("$doc: external address: $hit") ;;
      esac
    done < <({ grep -oiE 'https?://[^/[:space:]"'"'"'`<>)]+' "$root/$doc" || true; })
  done

  # --- README length -------------------------------------------------------------------------------
  local n
  if [ -f "$root/README.md" ]; then
    n=$(wc -l <"$root/README.md")
    if [ "$n" -gt "$README_MAX_LINES" ]; then
      problems+=("README.md: $n lines, more than $README_MAX_LINES (move detail into docs/)")
    fi
  fi

  # --- wording from how the project was planned --------------------------------------------------------
  local -a worded=("${docs[@]}")
  for f in "$root"/e2e/conf/*; do [ -f "$f" ] && worded+=("${f#"$root"/}"); done
  for doc in "${worded[@]}"; do
    while IFS= read -r hit; do
      problems+=("$doc:${hit%%:*}: planning word: ${hit#*:}")
    # (Written with [.] so that this file does not hold the phrases it looks for.) "s[e]ed" is
    # refused anywhere but in the fuzzer's committed inputs, fuzz/s[e]eds/ and its generator.
    done < <(sed -E 's#fuzz/s[e]eds#fuzz/SAMPLES#g; s#make_s[e]eds#make_SAMPLES#g' "$root/$doc" |
      { grep -noiE "s[e]ed|\bis[s]ues? ?#?[0-9]+|\bis[s]ues'|team[ ]rules|not in this[ ]build yet" || true; })
  done

  # --- configuration files: the ones the end-to-end suite runs --------------------------------------
  local name
  declare -A named=()
  for doc in "${docs[@]}"; do
    while IFS= read -r name; do named["$name"]=1; done < <(
      { grep -oE 'e2e/conf/[A-Za-z0-9._-]+' "$root/$doc" || true; } | sed 's#^e2e/conf/##; s/\.*$//')
  done
  for name in "${!named[@]}"; do
    if [ ! -f "$root/e2e/conf/$name" ]; then
      problems+=("docs name e2e/conf/$name, which does not exist")
    elif ! grep -rqF "\"e2e/conf/$name\"" "$root/e2e/src"; then
      problems+=("docs name e2e/conf/$name, which the end-to-end suite does not load (no \"e2e/conf/$name\" in e2e/src/)")
    fi
  done
  for f in "$root"/e2e/conf/*; do
    [ -f "$f" ] || continue
    rel=${f#"$root"/}
    [ -n "${linked[$rel]+x}" ] || problems+=("$rel is not linked from the docs")
    grep -rqF "\"$rel\"" "$root/e2e/src" || problems+=("$rel is not loaded by the end-to-end suite (no \"$rel\" in e2e/src/)")
  done
  for rel in "${!linked[@]}"; do
    case "${rel##*/}" in
    *.conf | Caddyfile | *.caddyfile | *.nginx)
      [[ "$rel" == e2e/conf/* ]] ||
        problems+=("docs link the configuration file $rel: configuration the docs show lives in e2e/conf/, where the end-to-end suite runs it")
      ;;
    esac
  done

  # --- PostgREST settings shown in the docs = the ones the suite runs --------------------------------
  local conf kv
  declare -A runs=()
  for conf in "$root"/e2e/conf/postgrest*.conf; do
    [ -f "$conf" ] || continue
    while IFS= read -r kv; do [ -z "$kv" ] || runs["$kv"]=1; done < <(
      sed -E 's/[[:space:]]+#.*$//; s/[[:space:]]*=[[:space:]]*/ = /; s/[[:space:]]+$//' "$conf")
  done
  if ((${#runs[@]})); then
    for doc in "${docs[@]}"; do
      while IFS= read -r kv; do
        [ -n "${runs["$kv"]+x}" ] ||
          problems+=("$doc: PostgREST setting '$kv' is in no PostgREST configuration the suite runs (e2e/conf/postgrest*.conf)")
      done < <(awk '/^[[:space:]]*```ini/ { ini = 1; next } /^[[:space:]]*```/ { ini = 0; next } ini' "$root/$doc" |
        sed -E 's/^[[:space:]]+//; s/[[:space:]]+#.*$//; s/[[:space:]]*=[[:space:]]*/ = /; s/[[:space:]]+$//' |
        { grep -E '^(db|jwt)-[a-z-]+ = ' || true; } | { grep -v '<' || true; })
    done
  fi

  # --- the mailer shown = the mailer the suite runs -----------------------------------------------
  # A ```python block that LISTENs on auth_outbox shows the mailer: it must be examples/mailer.py
  # byte for byte (the end-to-end suite runs that file).
  local block
  for doc in "${docs[@]}"; do
    while IFS= read -r -d '' block; do
      [[ "$block" == *"LISTEN auth_outbox"* ]] || continue
      cmp -s <(printf '%s' "$block") "$root/examples/mailer.py" ||
        problems+=("$doc: a Python block listening on auth_outbox is not examples/mailer.py as it is (the file the end-to-end suite runs)")
    done < <(awk '/^```python[[:space:]]*$/ { inb = 1; b = ""; next }
                  inb && /^```[[:space:]]*$/ { inb = 0; printf "%s%c", b, 0; next }
                  inb { b = b $0 "\n" }' "$root/$doc")
  done

  if ((${#problems[@]})); then
    printf 'check-docs: %s\n' "${problems[@]}"
    return 1
  fi
  return 0
}

# ---------------------------------------------------------------------------------------------
# Self-test: each fault, made in a fresh copy of the documentation and what it refers to, must be
# reported with its own message.
if [ -n "$self_test" ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  copy() {
    rm -rf "$tmp/tree"
    mkdir -p "$tmp/tree"
    if git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
      (cd "$root" && { git ls-files -z -co --exclude-standard | xargs -0 cp --parents -t "$tmp/tree" 2>/dev/null || true; })
    else
      (cd "$root" && tar --exclude=./target --exclude=./.tools --exclude=./fuzz/target -cf - .) | tar -xf - -C "$tmp/tree"
    fi
  }
  copy
  baseline=$(check_tree "$tmp/tree" || true)
  failed=0
  fault() {
    local what=$1 expect=$2 out
    shift 2
    copy
    (cd "$tmp/tree" && eval "$*")
    if out=$(check_tree "$tmp/tree"); then
      printf 'self-test: %s: NOT caught (the check passed)\n' "$what"
      failed=1
    elif ! grep -qF -- "$expect" <<<"$out" || grep -qF -- "$expect" <<<"$baseline"; then
      printf 'self-test: %s: NOT caught (no new "%s" in:)\n%s\n' "$what" "$expect" "$out"
      failed=1
    else
      printf 'self-test: %s: caught\n' "$what"
    fi
  }
  fault "a link to a missing file" "no such file or directory (docs/no-such-page.md)" \
    "printf '\n[gone](docs/no-such-page.md)\n' >>README.md"
  fault "a link to a missing anchor" "no heading of docs/jwt.md has the anchor #no-such-heading" \
    "printf '\n[gone](jwt.md#no-such-heading)\n' >>docs/settings.md"
  fault "a link to an anchor of the same page" "no heading of CONTRIBUTING.md has the anchor #nowhere" \
    "printf '\n[gone](#nowhere)\n' >>CONTRIBUTING.md"
  fault "a link outside the repository" "link to ../../shared/notes.md: outside the repository" \
    "printf '\n[shared](../../shared/notes.md)\n' >>docs/README.md"
  fault "an external link" "link to https://example.org/pgjwt: an external address" \
    "printf '\n[pgjwt](https://example.org/pgjwt)\n' >>docs/jwt.md"
  fault "an external address in the text" "external address in the text: www.postgresql.org" \
    "printf '\nSee www.postgresql.org for more.\n' >>docs/install.md"
  fault "an external address in code" "external address: https://postgrest.org" \
    "printf '\n\`\`\`sh\ncurl https://postgrest.org/\n\`\`\`\n' >>docs/postgrest.md"
  fault "a README over $README_MAX_LINES lines" "more than $README_MAX_LINES" \
    "for i in \$(seq 260); do echo; done >>README.md"
  fault "a planning word" "planning word: s""eed" \
    "printf '\nAs s%sed 001 does.\n' e >>docs/sessions.md"
  fault "another planning word" "planning word: iss""ue 4" \
    "printf '\nDone in iss%s 4.\n' ue >>CONTRIBUTING.md"
  fault "a configuration file the suite does not load" "which the end-to-end suite does not load" \
    "sed -i 's#\"e2e/conf/nginx.conf\"#\"e2e/conf/nginx-other.conf\"#' e2e/src/stack.rs"
  fault "a configuration file the docs do not link" "e2e/conf/extra.conf is not linked from the docs" \
    "echo 'x = 1' >e2e/conf/extra.conf"
  fault "a configuration file outside e2e/conf" "configuration the docs show lives in e2e/conf/" \
    "echo 'x = 1' >docs/example.conf && printf '\n[conf](example.conf)\n' >>docs/postgrest.md"
  fault "a PostgREST setting the suite does not run" "is in no PostgREST configuration the suite runs" \
    "sed -i 's#^db-anon-role = \"anon\"#db-anon-role = \"web_anon\"#' README.md"
  fault "a mailer shown unlike examples/mailer.py" "is not examples/mailer.py as it is" \
    "{ printf '\n\`\`\`python\n'; sed 's/SKIP LOCKED/NOWAIT/' examples/mailer.py; printf '\`\`\`\n'; } >>docs/sessions.md"
  if ((failed)); then
    echo "self-test: FAILED"
    exit 1
  fi
  echo "self-test: every fault was caught"
  exit 0
fi

if check_tree "$root"; then
  echo "check-docs: ok (${root})"
else
  exit 1
fi
