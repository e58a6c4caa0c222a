#!/usr/bin/env bash
# Runs README.md's examples, as written, against the stack scripts/dev.sh is running (on
# whatever ports): every ```sh block that follows a `<!-- readme-check -->` line, in order, in
# one bash shell that has sourced .caseforge-dev.env and nothing else, from a scratch directory
# (so that files the examples write land there). `<!-- readme-check python -->` blocks run when
# python3 can import requests_oauthlib and jwt, else they are reported as skipped. curl is
# given --fail-with-body, so an example that answers 4xx or 5xx fails the check; so does any
# command that exits non-zero.
#
#   scripts/dev.sh &                       # e.g. AUTH_BIND=127.0.0.1:9081 API_BIND=127.0.0.1:9080
#   scripts/check-readme-examples.sh
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
env_file=$repo/.caseforge-dev.env
if [ ! -f "$env_file" ]; then
  echo "check-readme-examples: no $env_file: start scripts/dev.sh first" >&2
  exit 2
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python3 - "$repo/README.md" "$env_file" >"$work/examples.sh" <<'PY'
import subprocess
import sys

readme, env_file = sys.argv[1], sys.argv[2]
have_python_libs = subprocess.run(
    ["python3", "-c", "import requests_oauthlib, jwt"], capture_output=True
).returncode == 0
lines = open(readme, encoding="utf-8").read().split("\n")
out = [
    "set -euo pipefail",
    f"source '{env_file}'",
    'curl() { command curl --fail-with-body "$@"; }',
]
ran = 0
i = 0
while i < len(lines):
    marker = lines[i].strip()
    if marker.startswith("<!-- readme-check") and marker.endswith("-->"):
        kind = marker[len("<!-- readme-check"):-len("-->")].strip()
        start = i + 1
        while not lines[start].startswith("```"):
            start += 1
        end = start + 1
        while lines[end].rstrip() != "```":
            end += 1
        where = f"README.md:{start + 1}"
        if kind == "python" and not have_python_libs:
            print(f"check-readme-examples: {where} skipped: python3 cannot import requests_oauthlib and jwt", file=sys.stderr)
        else:
            out.append(f"echo '--- {where}' >&2")
            out.extend(lines[start + 1:end])
            ran += 1
        i = end
    i += 1
if ran == 0:
    sys.exit("check-readme-examples: no <!-- readme-check --> block found")
out.append(f"echo 'check-readme-examples: {ran} README blocks ran' >&2")
print("\n".join(out))
PY

cd "$work"
bash "$work/examples.sh"
