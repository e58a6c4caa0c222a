# The adversarial part of bench/screening.sh (ADVERSARIAL=1), sourced by it once the resource API
# holds the adversarial entries: $url, $key, $work, $api_pid, $auth_port, $api_port, $ENTRIES,
# $DURATION, $CONNECTIONS and admin() come from there.

rss_mb() { awk '/^VmRSS/ {printf "%.0f", $2 / 1024}' "/proc/$api_pid/status"; }
# "CPU seconds of the server, wall-clock seconds" now.
cpu_s() { python3 -c "import os,sys,time; f=open(f'/proc/{sys.argv[1]}/stat').read().rsplit(')',1)[1].split(); print((int(f[11])+int(f[12]))/os.sysconf('SC_CLK_TCK'), time.time())" "$api_pid"; }
# "p50 p95 p99 req/s non2xx" of a wrk summary line.
figures() {
  python3 - "$1" <<'PY'
import sys
f = dict(kv.split("=") for kv in sys.argv[1].split()[1:])
rps = int(f["requests"]) / (int(f["duration_us"]) / 1e6)
print(f'{int(f["p50_us"])/1000:.2f} {int(f["p95_us"])/1000:.2f} {int(f["p99_us"])/1000:.2f} {rps:,.1f} {f["non2xx"]}')
PY
}

other=$(admin /admin/api-keys '{"name":"other tenant","environment":"sandbox","scopes":["cases:read"],"tier":"unlimited"}' | json '["key"]')
me_url="http://127.0.0.1:$api_port/v2/me"
me() { AUTH="Bearer $other" wrk -t1 -c1 -d"${1}s" -s bench/me.lua "$me_url" | grep '^BENCH'; }
# wrk gives up on a request after --timeout and does not count it: long enough for the slowest.
screens() { QUERIES="$work/queries.txt" AUTH="Bearer $key" wrk -t"$2" -c"$1" -d"${3}s" --timeout 60s -s bench/screen.lua "$url" | grep '^BENCH'; }

rss_start=$(rss_mb)
# Each query is an adversarial entry's name with four words changed; that entry should come first.
found=$(python3 - "$url" "$key" "$work/queries.txt" "$ENTRIES" <<'PY'
import json, sys, time, urllib.request
url, key, path = sys.argv[1], sys.argv[2], sys.argv[3]
first, found, slowest = 0, 0, 0.0
for i, line in enumerate(open(path)):
    req = urllib.request.Request(url, data=line.encode(), headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    t = time.monotonic()
    matches = json.load(urllib.request.urlopen(req))["matches"]
    slowest = max(slowest, time.monotonic() - t)
    source = f"wl_bench{int(sys.argv[4]) + i * 6:013d}"
    first += bool(matches) and matches[0]["entry"]["id"] == source
    found += any(m["entry"]["id"] == source for m in matches)
print(f"first {first}/30, among the matches {found}/30 (slowest of the 30, one at a time: {slowest * 1000:.0f} ms)")
PY
)
read -r one_p50 one_p95 one_p99 one_rps one_err <<<"$(figures "$(screens 1 1 "$DURATION")")"
read -r idle_p50 idle_p95 idle_p99 idle_rps _ <<<"$(figures "$(me "$DURATION")")"
rss_before=$(rss_mb)

# The attack: CONNECTIONS connections screening for DURATION + 2 s; the other tenant's
# measurement starts a second in and ends a second before the attack does.
peak="$work/peak"; echo "$rss_before" >"$peak"
( while kill -0 "$api_pid" 2>/dev/null; do r=$(rss_mb); [ "$r" -gt "$(cat "$peak")" ] && echo "$r" >"$peak"; sleep 0.2; done ) &
sampler=$!
cpu_attack_start=$(cpu_s)
screens "$CONNECTIONS" 2 $((DURATION + 2)) >"$work/attack" &
attack=$!
sleep 1
read -r busy_p50 busy_p95 busy_p99 busy_rps _ <<<"$(figures "$(me "$DURATION")")"
wait "$attack"
cpu_hangup=$(cpu_s)
rss_after=$(rss_mb)
read -r att_p50 att_p95 att_p99 att_rps att_err <<<"$(figures "$(cat "$work/attack")")"
sleep 2
cpu_later=$(cpu_s)
sleep 3
rss_later=$(rss_mb)
kill "$sampler" 2>/dev/null || true

echo
echo "$backend, adversarial: 200 entries × (name + 20 aliases) × 66 two-letter words, after $ENTRIES ordinary entries"
echo "screens finding the entry the name was made from: $found"
echo
echo "| measurement | p50 ms | p95 ms | p99 ms | req/s | non-2xx |"
echo "|---|---|---|---|---|---|"
echo "| one adversarial screen at a time (1 connection) | $one_p50 | $one_p95 | $one_p99 | $one_rps | $one_err |"
echo "| other tenant's GET /v2/me, idle | $idle_p50 | $idle_p95 | $idle_p99 | $idle_rps | |"
echo "| other tenant's GET /v2/me, during the attack | $busy_p50 | $busy_p95 | $busy_p99 | $busy_rps | |"
echo "| the attack: $CONNECTIONS connections of adversarial screens | $att_p50 | $att_p95 | $att_p99 | $att_rps | $att_err |"
echo
python3 - "$rss_start" "$rss_before" "$(cat "$peak")" "$rss_after" "$rss_later" "$cpu_attack_start" "$cpu_hangup" "$cpu_later" <<'PY'
import sys
start, before, peak, after, later = (int(x) for x in sys.argv[1:6])
(c0, t0), (c1, t1), (c2, t2) = ((float(v) for v in x.split()) for x in sys.argv[6:9])
print(f"RSS: {start} MB at start, {before} MB before the attack, peak {peak} MB (+{peak - before}), "
      f"{after} MB when it ended, {later} MB 5 s later")
print(f"server CPU: {c1 - c0:.1f} s in the {t1 - t0:.1f} s of the attack, "
      f"{c2 - c1:.2f} s in the {t2 - t1:.1f} s after the clients hung up")
PY
