#!/usr/bin/env bash
# The resource API with 1,000,000 cases (both environments) and 100,000 API keys, against the
# same API on a database of 1,000 cases, in the same run (issue 12, "Scale"):
#
#   bench/scale.sh                      # SQLite, then PostgreSQL (a throwaway server)
#   bench/scale.sh sqlite               # or: postgres
#   CASES=200000 KEYS=20000 ROUNDS=1 DURATION=3 bench/scale.sh sqlite   # a quick look
#
# Per backend: two databases, both migrated by the auth server, each with its own auth server
# and resource API, the big one loaded by bench/scale_data.py (bulk insert, indexes rebuilt
# after, PostgreSQL vacuumed) and the small one with 1,000 cases. Then, ROUNDS times,
# interleaved: random-id reads (JWT, 64 connections) on both; the list pages of the sandbox
# (500,000 cases) at 1 connection (p50) and 64 (p99): the first page, ?status=open, ?page=5000
# and ?cursor= at random depths; random-id reads while 64 connections read ?page=5000 (no
# 503 may reach them). Each figure is the median over the rounds. The resource API's start
# time (spawn to /readyz 200) and RSS at ready and after the load are read from its process:
# its own memory (RssAnon), and after the load also its file-backed pages (RssFile: mostly the
# database file's pages its SQLite connections have mapped — the kernel's page cache, counted once
# per connection's map — plus the binary's own). Earlier tables in docs/PERFORMANCE.md report
# VmRSS, the sum of the two.
#
# Release builds on loopback, wrk from the same machine: read the ratios; absolute numbers
# move with the machine's load. Prints the table and writes it to bench/results/scale.md.
set -euo pipefail
cd "$(dirname "$0")/.."

BACKENDS=${1:-both}
CASES=${CASES:-1000000}
KEYS=${KEYS:-100000}
SMALL=${SMALL:-1000}
DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-3}
CONNECTIONS=${CONNECTIONS:-64}

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
command -v curl >/dev/null || { apt-get update -qq && apt-get install -y -qq curl; }

cargo build --release -q -p auth-server -p resource-api

work=$(mktemp -d)
pids=()
pg_dir=
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  if [ -n "$pg_dir" ]; then scripts/pg-throwaway.sh stop "$pg_dir" >/dev/null 2>&1 || true; rm -rf "$pg_dir"; fi
  rm -rf "$work"
}
trap cleanup EXIT

. bench/lib.sh
rss_mb() { mb RssAnon "$1"; }
rss_file_mb() { mb RssFile "$1"; }
now() { date +%s.%N; }

export RUST_LOG=warn
export SIGNING_KEY_ENCRYPTION_KEY=$(head -c 32 /dev/urandom | base64)
ADMIN=bench-admin-$(head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 32)

# stack NAME DATABASE_URL: migrates, starts an auth server, creates a sandbox application;
# sets ${NAME}_auth (issuer) and ${NAME}_token.
stack() {
  local name=$1 url=$2 port app id secret token
  DATABASE_URL=$url target/release/auth-server migrate >/dev/null
  port=$(free_port)
  DATABASE_URL=$url ADMIN_TOKEN=$ADMIN AUTH_BIND=127.0.0.1:$port AUTH_ISSUER=http://127.0.0.1:$port \
    target/release/auth-server serve >"$work/$name-auth.log" 2>&1 &
  pids+=($!)
  wait_up "http://127.0.0.1:$port/healthz"
  app=$(curl -fs -X POST "http://127.0.0.1:$port/admin/applications" -H "Authorization: Bearer $ADMIN" \
    -H "Content-Type: application/json" \
    -d '{"name":"scale","scopes":["cases:read","cases:write"],"environment":"sandbox","tier":"unlimited"}')
  id=$(printf '%s' "$app" | json '["client_id"]'); secret=$(printf '%s' "$app" | json '["client_secret"]')
  token=$(curl -fs -X POST "http://127.0.0.1:$port/oauth/token" -u "$id:$secret" -d grant_type=client_credentials | json '["access_token"]')
  printf -v "${name}_auth" '%s' "http://127.0.0.1:$port"
  printf -v "${name}_token" '%s' "$token"
}

# api NAME DATABASE_URL ISSUER: starts a resource API; sets ${NAME}_api, ${NAME}_pid and
# ${NAME}_start (seconds from spawn to /readyz 200).
api() {
  local name=$1 url=$2 issuer=$3 port t0 pid
  port=$(free_port)
  t0=$(now)
  DATABASE_URL=$url API_BIND=127.0.0.1:$port AUTH_ISSUER=$issuer target/release/resource-api >"$work/$name-api.log" 2>&1 &
  pid=$!
  pids+=($pid)
  for _ in $(seq 1 600); do
    [ "$(curl -s -o /dev/null -w "%{http_code}" "http://127.0.0.1:$port/readyz")" = 200 ] && break
    sleep 0.02
  done
  printf -v "${name}_start" '%.2f' "$(python3 -c "print($(now) - $t0)")"
  printf -v "${name}_api" '%s' "http://127.0.0.1:$port"
  printf -v "${name}_pid" '%s' "$pid"
}

# wrk over the paths in a file, one picked at random per request: "rps p50_ms p99_ms non2xx".
run() {
  local base=$1 paths=$2 token=$3 conns=$4 threads=2 line
  [ "$conns" -lt "$threads" ] && threads=$conns
  line=$(PATHS="$paths" AUTH="Bearer $token" wrk -t"$threads" -c"$conns" -d"${DURATION}s" -s bench/scale.lua "$base" | grep '^BENCH')
  python3 - "$line" <<'PY'
import sys
f = dict(kv.split("=") for kv in sys.argv[1].split()[1:])
rps = int(f["requests"]) / (int(f["duration_us"]) / 1e6)
print(f'{rps:.0f} {int(f["p50_us"])/1000:.2f} {int(f["p99_us"])/1000:.2f} {f["non2xx"]}')
PY
}

median() {
  python3 - "$1" "$2" <<'PY'
import statistics, sys
rows = [l.split()[1:] for l in open(sys.argv[1]) if l.split()[0] == sys.argv[2]]
cols = list(zip(*rows))
med = [statistics.median(float(x) for x in c) for c in cols]
print(f"{med[0]:.0f} {med[1]:.2f} {med[2]:.2f} {int(sum(int(x) for x in cols[3]))}")
PY
}

bench_backend() {
  local backend=$1 big_url small_url s=$work/$1.samples
  echo "== $backend" >&2
  if [ "$backend" = sqlite ]; then
    big_url="sqlite://$work/big.db"; small_url="sqlite://$work/small.db"
  else
    pg_dir=$(mktemp -d)  # its own directory: the server runs as another user
    big_url=$(scripts/pg-throwaway.sh start "$pg_dir" "$(free_port)")
    psql -X -q "$big_url" -c "CREATE DATABASE scale_small" >/dev/null
    small_url="${big_url%/*}/scale_small"
  fi
  stack big "$big_url"; stack small "$small_url"
  local t0; t0=$(now)
  python3 bench/scale_data.py "$small_url" --cases "$SMALL" --ids-out "$work/small.ids"
  python3 bench/scale_data.py "$big_url" --cases "$CASES" --keys "$KEYS" --ids-out "$work/big.ids" --keys-out "$work/keys"
  local load_s; load_s=$(python3 -c "print(f'{$(now) - $t0:.0f}')")
  api big "$big_url" "$big_auth"; api small "$small_url" "$small_auth"
  local rss_ready; rss_ready=$(rss_mb "$big_pid")
  sed 's|^|/v2/cases/|' "$work/big.ids" >"$work/big.get"
  sed 's|^|/v2/cases/|' "$work/small.ids" >"$work/small.get"
  echo /v2/cases >"$work/first"
  echo "/v2/cases?status=open" >"$work/open"
  echo "/v2/cases?page=5000" >"$work/deep"
  # Two filters and a deep page (issue 22 §3: the tail of filtered deep pages).
  # In the generated sandbox no case is critical (bench/scale_data.py gives the sandbox low and
  # high): `critical` is the worst case of a filter pair (no row matches), `high` a common one.
  echo "/v2/cases?status=open&priority=critical&page=500" >"$work/filtered"
  echo "/v2/cases?status=open&priority=high&page=500" >"$work/pair"
  # Cursors at random depths of the sandbox list (up to row 400,000).
  for n in $(python3 -c "import random; r=random.Random(5); print(*[r.randrange(1, 20000) for _ in range(100)])"); do
    c=$(curl -fs "$big_api/v2/cases?page=$n" -H "Authorization: Bearer $big_token" | json '["pagination"]["next_cursor"]')
    if [ "$c" != None ]; then echo "/v2/cases?cursor=$c"; fi
  done >"$work/cursor"
  [ -s "$work/cursor" ] || echo "/v2/cases?cursor=$(curl -fs "$big_api/v2/cases" -H "Authorization: Bearer $big_token" | json '["pagination"]["next_cursor"]')" >"$work/cursor"
  # One of the 100,000 keys: the resource API accepts it.
  local key_status; key_status=$(curl -s -o /dev/null -w "%{http_code}" "$big_api/v2/cases?page_size=1" -H "Authorization: Bearer $(head -n 1 "$work/keys")")
  # Warm-up.
  for f in big.get first open deep cursor filtered pair; do run "$big_api" "$work/$f" "$big_token" 8 >/dev/null; done
  run "$small_api" "$work/small.get" "$small_token" 8 >/dev/null
  for round in $(seq 1 "$ROUNDS"); do
    echo "round $round/$ROUNDS" >&2
    echo "gs $(run "$small_api" "$work/small.get" "$small_token" "$CONNECTIONS")" >>"$s"
    echo "gb $(run "$big_api" "$work/big.get" "$big_token" "$CONNECTIONS")" >>"$s"
    for f in first open deep cursor filtered pair; do
      echo "${f}1 $(run "$big_api" "$work/$f" "$big_token" 1)" >>"$s"
      echo "${f}64 $(run "$big_api" "$work/$f" "$big_token" "$CONNECTIONS")" >>"$s"
    done
    # Unrelated reads while 64 connections read deep pages.
    run "$big_api" "$work/deep" "$big_token" "$CONNECTIONS" >"$work/under" &
    local bg=$!
    echo "side $(run "$big_api" "$work/big.get" "$big_token" 8)" >>"$s"
    wait "$bg"
    echo "sidelists $(cat "$work/under")" >>"$s"
  done
  local rss_after rss_file; rss_after=$(rss_mb "$big_pid"); rss_file=$(rss_file_mb "$big_pid")
  local gs gb f1 f64 o1 o64 d1 d64 c1 c64 x1 x64 y1 y64 side sidel
  read -r -a gs < <(median "$s" gs); read -r -a gb < <(median "$s" gb)
  read -r -a f1 < <(median "$s" first1); read -r -a f64 < <(median "$s" first64)
  read -r -a o1 < <(median "$s" open1); read -r -a o64 < <(median "$s" open64)
  read -r -a d1 < <(median "$s" deep1); read -r -a d64 < <(median "$s" deep64)
  read -r -a c1 < <(median "$s" cursor1); read -r -a c64 < <(median "$s" cursor64)
  read -r -a x1 < <(median "$s" filtered1); read -r -a x64 < <(median "$s" filtered64)
  read -r -a y1 < <(median "$s" pair1); read -r -a y64 < <(median "$s" pair64)
  read -r -a side < <(median "$s" side); read -r -a sidel < <(median "$s" sidelists)
  # A list's c=64 p99 is also given as a multiple of the point read's c=64 p99 in the same run
  # (issue 22 §3: within 1.5×).
  list_cell() { echo "${1} ms / ${2} ms (${3}/s, $(python3 -c "print(f'{$2/${gb[2]}:.1f}')")× the point read's p99)$( [ "$4" != 0 ] && echo ", $4 × non-2xx")"; }
  {
    echo "get|${gb[0]}/s, p99 ${gb[2]} ms ($(python3 -c "print(f'{${gb[0]}/${gs[0]}*100:.0f}')")% of ${gs[0]}/s, p99 ${gs[2]} ms, on $SMALL cases)$( [ "${gb[3]}" != 0 ] && echo ", ${gb[3]} × non-2xx")"
    echo "first|$(list_cell "${f1[1]}" "${f64[2]}" "${f64[0]}" "$((${f1[3]} + ${f64[3]}))")"
    echo "open|$(list_cell "${o1[1]}" "${o64[2]}" "${o64[0]}" "$((${o1[3]} + ${o64[3]}))")"
    echo "deep|$(list_cell "${d1[1]}" "${d64[2]}" "${d64[0]}" "$((${d1[3]} + ${d64[3]}))")"
    echo "cursor|$(list_cell "${c1[1]}" "${c64[2]}" "${c64[0]}" "$((${c1[3]} + ${c64[3]}))")"
    echo "filtered|$(list_cell "${x1[1]}" "${x64[2]}" "${x64[0]}" "$((${x1[3]} + ${x64[3]}))")"
    echo "pair|$(list_cell "${y1[1]}" "${y64[2]}" "${y64[0]}" "$((${y1[3]} + ${y64[3]}))")"
    echo "side|${side[0]}/s, p99 ${side[2]} ms, ${side[3]} × non-2xx (lists: ${sidel[0]}/s, ${sidel[3]} × non-2xx)"
    echo "start|${big_start} s / ${rss_ready} MB / ${rss_after} MB (+ ${rss_file} MB of mapped file pages)"
    echo "load|${load_s} s (API key from the bulk load: HTTP $key_status)"
  } >"$work/$backend.cells"
  sed "s/^/$backend: /" "$work/$backend.cells" >&2
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  pids=()
  if [ -n "$pg_dir" ]; then scripts/pg-throwaway.sh stop "$pg_dir" >/dev/null; rm -rf "$pg_dir"; pg_dir=; fi
  rm -f "$work"/*.db "$work"/*.db-*
}

case "$BACKENDS" in
  both) list=(sqlite postgres) ;;
  sqlite | postgres) list=("$BACKENDS") ;;
  *) echo "usage: bench/scale.sh [both|sqlite|postgres]" >&2; exit 2 ;;
esac
for b in "${list[@]}"; do bench_backend "$b"; done

cell() { [ -f "$work/$1.cells" ] && grep "^$2|" "$work/$1.cells" | cut -d'|' -f2- || echo "not run"; }
mkdir -p bench/results
{
  echo "Run: $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, $CASES cases (both environments; lists read the sandbox's $((CASES / 2))) and $KEYS API keys, wrk -c$CONNECTIONS (and -c1), $ROUNDS interleaved rounds × ${DURATION}s, medians, release builds, JWT"
  echo
  echo "| with $CASES cases, $KEYS keys | SQLite | PostgreSQL | goal |"
  echo "|---|---|---|---|"
  echo "| \`GET /v2/cases/{id}\`, random ids, c=64 (vs. the same on $SMALL cases, same run) | $(cell sqlite get) | $(cell postgres get) | flat |"
  echo "| \`GET /v2/cases\` first page: c=1 p50 / c=64 p99 (c=64 throughput) | $(cell sqlite first) | $(cell postgres first) | p99 ≤ 20 ms |"
  echo "| \`?status=open\`: c=1 p50 / c=64 p99 | $(cell sqlite open) | $(cell postgres open) | p99 ≤ 20 ms |"
  echo "| \`?page=5000\`: c=1 p50 / c=64 p99 | $(cell sqlite deep) | $(cell postgres deep) | p99 ≤ 20 ms |"
  echo "| \`?cursor=\` at random depths (≤ row 400,000 of the list): c=1 p50 / c=64 p99 | $(cell sqlite cursor) | $(cell postgres cursor) | p99 ≤ 20 ms |"
  echo "| \`?status=open&priority=critical&page=500\` (no row matches): c=1 p50 / c=64 p99 | $(cell sqlite filtered) | $(cell postgres filtered) | p99 ≤ 1.5× the point read's |"
  echo "| \`?status=open&priority=high&page=500\`: c=1 p50 / c=64 p99 | $(cell sqlite pair) | $(cell postgres pair) | p99 ≤ 1.5× the point read's |"
  echo "| \`GET /v2/cases/{id}\` (c=8) while 64 connections read \`?page=5000\` | $(cell sqlite side) | $(cell postgres side) | no 503 |"
  echo "| resource API start / own memory (RssAnon) at ready / after load | $(cell sqlite start) | $(cell postgres start) | ≤ 2 s / ≤ 64 MB |"
  echo "| data set build (bulk insert, both databases) | $(cell sqlite load) | $(cell postgres load) | minutes |"
} | tee bench/results/scale.md
