# Helpers shared by the bench scripts (sourced, not run).

# A free TCP port on loopback.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Waits until URL answers HTTP at all (any status); TRIES × 0.1 s at most (default 300).
wait_up() {
  local tries=${2:-300}
  for _ in $(seq 1 "$tries"); do
    [ "$(curl -s -o /dev/null -w "%{http_code}" "$1")" != "000" ] && return 0
    sleep 0.1
  done
  echo "not up: $1" >&2
  exit 1
}

# A memory figure of process PID from /proc/PID/status, in MB: mb FIELD PID [DECIMALS] (FIELD:
# VmRSS; RssAnon, the process's own memory; RssFile, its file-backed pages such as the SQLite
# pages its connections map).
mb() { awk -v f="$1:" -v d="${3:-0}" '$1 == f {printf "%.*f", d, $2/1024}' "/proc/$2/status"; }

# Prints a member of the JSON on stdin: json '["client_id"]'.
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
