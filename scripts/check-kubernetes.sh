#!/usr/bin/env bash
# Validates deploy/kubernetes/*.yaml offline: against the Kubernetes JSON schemas bundled in the
# PyPI package kubernetes-validate (pinned, installed once into target/kubernetes-validate/venv),
# strictly (unknown fields are errors), then the deployment rules this project keeps: both
# services have a Deployment of at least two replicas with readiness on /readyz and liveness on
# /healthz, resource requests and a memory limit, a hardened security context, a Service and a
# PodDisruptionBudget; secrets arrive only through *_FILE variables from a mounted Secret; the
# auth server migrates in an initContainer; both name their load balancer in TRUSTED_PROXIES
# (valid CIDRs, never /0), or behind it every client would share one address.
set -euo pipefail
cd "$(dirname "$0")/.."

want="kubernetes-validate==1.37.0 pyyaml==6.0.2"
venv=target/kubernetes-validate/venv
if [ "$(cat "$venv/.pinned" 2>/dev/null)" != "$want" ] || ! "$venv/bin/kubernetes-validate" --version >/dev/null 2>&1; then
  echo "installing $want into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  # shellcheck disable=SC2086
  "$venv/bin/pip" install -q --disable-pip-version-check $want
  echo "$want" >"$venv/.pinned"
fi

"$venv/bin/kubernetes-validate" --strict --quiet deploy/kubernetes/*.yaml

"$venv/bin/python" - deploy/kubernetes/*.yaml <<'PY'
import ipaddress
import sys
import yaml

docs = [d for path in sys.argv[1:] for d in yaml.safe_load_all(open(path)) if d]
by = {(d["kind"], d["metadata"]["name"]): d for d in docs}
problems = []
SECRET_VARS = {"DATABASE_URL", "ADMIN_TOKEN", "SIGNING_KEY_ENCRYPTION_KEY", "REDIS_URL", "WEBHOOK_SECRET_KEY"}
for name in ("auth-server", "resource-api"):
    dep = by.get(("Deployment", name))
    if dep is None:
        problems.append(f"no Deployment {name}")
        continue
    spec = dep["spec"]
    if spec.get("replicas", 1) < 2:
        problems.append(f"{name}: fewer than two replicas")
    if ("Service", name) not in by:
        problems.append(f"{name}: no Service")
    if ("PodDisruptionBudget", name) not in by:
        problems.append(f"{name}: no PodDisruptionBudget")
    pod = spec["template"]["spec"]
    if not pod.get("securityContext", {}).get("runAsNonRoot"):
        problems.append(f"{name}: pods may run as root")
    for c in pod.get("initContainers", []) + pod["containers"]:
        where = f"{name}/{c['name']}"
        sc = c.get("securityContext", {})
        if not (sc.get("readOnlyRootFilesystem") and sc.get("allowPrivilegeEscalation") is False
                and "ALL" in sc.get("capabilities", {}).get("drop", [])):
            problems.append(f"{where}: not read-only / no-escalation / all capabilities dropped")
        res = c.get("resources", {})
        if not res.get("requests", {}).get("memory") or not res.get("limits", {}).get("memory"):
            problems.append(f"{where}: no memory request and limit")
        for e in c.get("env", []):
            if e["name"] in SECRET_VARS:
                problems.append(f"{where}: {e['name']} set directly; use {e['name']}_FILE from the mounted Secret")
    main = pod["containers"][0]
    if main.get("readinessProbe", {}).get("httpGet", {}).get("path") != "/readyz":
        problems.append(f"{name}: readiness is not /readyz")
    if main.get("livenessProbe", {}).get("httpGet", {}).get("path") != "/healthz":
        problems.append(f"{name}: liveness is not /healthz")
    env = {e["name"] for e in main.get("env", [])}
    if "REDIS_URL_FILE" not in env:
        problems.append(f"{name}: no REDIS_URL_FILE (limits would be per replica)")
    proxies = next((e.get("value", "") for e in main.get("env", []) if e["name"] == "TRUSTED_PROXIES"), "")
    if not proxies.strip():
        problems.append(f"{name}: no TRUSTED_PROXIES (behind the balancer every client would share its address)")
    for item in (i.strip() for i in proxies.split(",")):
        if not item:
            continue
        try:
            if ipaddress.ip_network(item, strict=True).prefixlen == 0:
                problems.append(f"{name}: TRUSTED_PROXIES {item} trusts every address")
        except ValueError:
            problems.append(f"{name}: TRUSTED_PROXIES entry `{item}` is not a CIDR")
auth = by.get(("Deployment", "auth-server"))
if auth and not any("migrate" in c.get("command", []) for c in auth["spec"]["template"]["spec"].get("initContainers", [])):
    problems.append("auth-server: no migration initContainer")
if problems:
    print("deploy/kubernetes: " + "; ".join(problems))
    sys.exit(1)
print(f"deploy/kubernetes: {len(docs)} resources ok")
PY
