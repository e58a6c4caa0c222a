#!/usr/bin/env python3
"""Checks docker-compose.yml and the Dockerfile beside it without a Docker engine.

docker-compose.yml: it parses; the services are wired to PostgreSQL and to each other; every
variable the services read is one they know; secrets arrive through Docker `secrets:` and
`*_FILE` variables, never as plain environment values; and every service is hardened
(`restart: unless-stopped`, `read_only: true`, `cap_drop: [ALL]`,
`no-new-privileges:true`, `build` or `pull_policy`, a health check that needs no curl, pulled
images pinned by digest). Several replicas: Redis (password from a secret file, nothing
written to disk) and a load balancer (the only service publishing ports, configured from a
file that sends to every replica and checks /readyz) in front of at least two replicas of each
service, which share Redis through REDIS_URL_FILE. Client addresses: the lb has a fixed address
outside the range Docker hands out, both services name it in TRUSTED_PROXIES (valid CIDRs
covering no address Docker hands to another container), and the lb's configuration forwards the client (`option forwardfor`
without `if-none`, or `send-proxy-v2`).

Dockerfile: every base image is pinned by digest (`image:tag@sha256:…`), dependencies are
cached with cargo-chef, and the runtime image installs no curl.

Usage: check-compose.py [docker-compose.yml [Dockerfile]]
"""
import ipaddress
import os
import re
import sys

import yaml

compose_path = sys.argv[1] if len(sys.argv) > 1 else "docker-compose.yml"
dockerfile_path = (
    sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(compose_path) or ".", "Dockerfile")
)

with open(compose_path) as f:
    compose = yaml.safe_load(f)

DIGEST = re.compile(r"^[^\s@]+:[^\s@]+@sha256:[0-9a-f]{64}$")

services = compose.get("services") or {}
top_secrets = compose.get("secrets") or {}
problems = []


def env_of(service):
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, None) for item in env)
    return env


def secret_names(service):
    names = []
    for s in service.get("secrets") or []:
        names.append(s if isinstance(s, str) else s.get("source"))
    return names


for name in ("db", "redis", "lb", "auth-server", "resource-api"):
    if name not in services:
        problems.append(f"service {name} is missing")
if "healthcheck" not in services.get("db", {}):
    problems.append("db has no health check")
# PostgreSQL writes its socket and lock file there; with a read-only root it needs a tmpfs.
if "/var/run/postgresql" not in (services.get("db", {}).get("tmpfs") or []):
    problems.append("db has no tmpfs for /var/run/postgresql (its root filesystem is read-only)")
if "pgdata" not in (compose.get("volumes") or {}):
    problems.append("no volume for PostgreSQL data")

# --- every service: hardened, reproducible, health-checked ---------------------------------
for name, service in services.items():
    if service.get("restart") != "unless-stopped":
        problems.append(f"{name}: restart is not unless-stopped")
    if service.get("read_only") is not True:
        problems.append(f"{name}: root filesystem is not read_only: true")
    if "ALL" not in (service.get("cap_drop") or []):
        problems.append(f"{name}: cap_drop does not hold ALL")
    if "no-new-privileges:true" not in (service.get("security_opt") or []):
        problems.append(f"{name}: security_opt lacks no-new-privileges:true")
    if "build" not in service and "pull_policy" not in service:
        problems.append(f"{name}: neither build nor pull_policy")
    image = str(service.get("image", ""))
    pulled = "build" not in service and service.get("pull_policy") != "never"
    if pulled and not DIGEST.match(image):
        problems.append(f"{name}: image {image or '(none)'} is not pinned by digest (image:tag@sha256:…)")
    test = (service.get("healthcheck") or {}).get("test")
    if not test:
        problems.append(f"{name}: no health check")
    elif name != "db" and any(tool in " ".join(map(str, test)) for tool in ("curl", "wget")):
        problems.append(f"{name}: health check needs curl/wget; use the binary's healthcheck command")

# --- the two services: wiring, known variables, secrets as files ----------------------------
known = {"DATABASE_URL", "AUTH_BIND", "API_BIND", "AUTH_ISSUER", "API_AUDIENCE", "ADMIN_TOKEN", "RUST_LOG", "BCRYPT_COST", "DB_POOL_SIZE",
         "SIGNING_KEY_ENCRYPTION_KEY", "SIGNING_KEY_ENCRYPTION_KEY_PREVIOUS", "BCRYPT_CONCURRENCY",
         "METRICS_BIND", "CORS_ALLOWED_ORIGINS", "JWKS_URL", "REDIS_URL", "DATABASE_LISTEN_URL",
         "LOG_FORMAT", "ADMIN_TOKEN_FILE", "SIGNING_KEY_ENCRYPTION_KEY_FILE", "DATABASE_URL_FILE",
         "REDIS_URL_FILE", "TRUSTED_PROXIES", "WEBHOOK_SECRET_KEY", "WEBHOOK_SECRET_KEY_FILE",
         "WEBHOOK_RETRY_SCHEDULE", "WEBHOOK_TIMEOUT_SECS", "WEBHOOK_ALLOW_PRIVATE_TARGETS", "WEBHOOK_RETENTION_DAYS"}
# Values that are secrets: only ever as VAR_FILE pointing at a Docker secret.
secret_vars = {
    "db": ["POSTGRES_PASSWORD"],
    "auth-server": ["DATABASE_URL", "ADMIN_TOKEN", "SIGNING_KEY_ENCRYPTION_KEY", "REDIS_URL"],
    "resource-api": ["DATABASE_URL", "REDIS_URL", "WEBHOOK_SECRET_KEY"],
}
for name, needed in secret_vars.items():
    service = services.get(name, {})
    env = env_of(service)
    mounted = secret_names(service)
    for var in needed:
        if var in env:
            problems.append(f"{name}: {var} is a plain environment value; use {var}_FILE and a Docker secret")
        path = str(env.get(f"{var}_FILE", ""))
        if not path.startswith("/run/secrets/"):
            problems.append(f"{name}: {var}_FILE does not point at /run/secrets/<name>")
            continue
        secret = path[len("/run/secrets/"):]
        if secret not in mounted:
            problems.append(f"{name}: secret {secret} is not in its secrets:")
        if secret not in top_secrets:
            problems.append(f"secret {secret} is not declared at the top level")
for name in ("auth-server", "resource-api"):
    service = services.get(name, {})
    for var in env_of(service):
        if var not in known:
            problems.append(f"{name} sets {var}, which no service reads")
    if (service.get("depends_on") or {}).get("db", {}).get("condition") != "service_healthy":
        problems.append(f"{name} does not wait for a healthy db")
    test = " ".join(map(str, (service.get("healthcheck") or {}).get("test") or []))
    if "healthcheck" not in test:
        problems.append(f"{name}: health check does not run `{name} healthcheck`")

# --- several replicas: Redis, the load balancer, two of each service --------------------------
for name in ("auth-server", "resource-api"):
    service = services.get(name, {})
    replicas = (service.get("deploy") or {}).get("replicas", 1)
    if not isinstance(replicas, int) or replicas < 2:
        problems.append(f"{name}: fewer than two replicas (deploy.replicas)")
    if (service.get("depends_on") or {}).get("redis", {}).get("condition") != "service_healthy":
        problems.append(f"{name} does not wait for a healthy redis")
for name, service in services.items():
    if name != "lb" and service.get("ports"):
        problems.append(f"{name}: publishes ports; only the lb does")
redis = services.get("redis", {})
redis_cmd = " ".join(map(str, redis.get("command") or []))
if "/run/secrets/" not in redis_cmd or not any(
    str(s).startswith("/run/secrets/") for s in redis.get("command") or []
):
    problems.append("redis: its configuration (requirepass) does not come from a secret file")
if "--save" not in redis_cmd or "--appendonly" not in redis_cmd:
    problems.append("redis: persistence is not turned off (--save '' --appendonly no): it holds counters only")
lb = services.get("lb", {})
lb_ports = " ".join(map(str, lb.get("ports") or []))
for port in ("8080", "8081"):
    if f":{port}" not in lb_ports:
        problems.append(f"lb does not publish {port}")
for dep in ("auth-server", "resource-api"):
    if (lb.get("depends_on") or {}).get(dep, {}).get("condition") != "service_healthy":
        problems.append(f"lb does not wait for a healthy {dep}")
lb_configs = lb.get("configs") or []
cfg_sources = [c.get("source") if isinstance(c, dict) else c for c in lb_configs]
top_configs = compose.get("configs") or {}
cfg_path = None
for src in cfg_sources:
    if src in top_configs and top_configs[src].get("file"):
        cfg_path = os.path.join(os.path.dirname(compose_path) or ".", top_configs[src]["file"])
if cfg_path is None:
    problems.append("lb: no configuration file among its configs:")
else:
    try:
        with open(cfg_path) as f:
            cfg = f.read()
    except OSError as e:
        problems.append(f"lb: cannot read {cfg_path}: {e}")
        cfg = ""
    for target in ("auth-server:8081", "resource-api:8080"):
        if not re.search(r"server-template\s+\S+\s+([2-9]|\d\d+)\s+" + re.escape(target), cfg):
            problems.append(f"lb: {cfg_path} does not send to two or more replicas of {target}")
    if cfg and cfg.count("GET /readyz") < 2:
        problems.append(f"lb: {cfg_path} does not check /readyz of both services")
    # The services must learn each client's address from the lb, or every client shares the
    # lb's (one client's junk would throttle all of them).
    active = "\n".join(line.split("#", 1)[0] for line in cfg.splitlines())
    forwards = re.search(r"^\s*option\s+forwardfor\b(?!.*\bif-none\b)", active, re.M)
    proxies_v2 = re.search(r"\bsend-proxy-v2\b", active)
    if cfg and not (forwards or proxies_v2):
        problems.append(f"lb: {cfg_path} neither forwards the client (option forwardfor, without if-none) nor sends the PROXY protocol (send-proxy-v2)")

# --- client addresses: the services trust the lb, and only it ---------------------------------
subnets = []
for net in ((compose.get("networks") or {}).get("default") or {}).get("ipam", {}).get("config") or []:
    try:
        subnets.append((ipaddress.ip_network(net["subnet"]), ipaddress.ip_network(net.get("ip_range", net["subnet"]))))
    except (KeyError, ValueError) as e:
        problems.append(f"networks.default: bad ipam config {net}: {e}")
lb_networks = lb.get("networks") or {}
lb_addr = None
if isinstance(lb_networks, dict):
    lb_addr = ((lb_networks.get("default") or {}).get("ipv4_address"))
if not lb_addr:
    problems.append("lb: no fixed address (networks.default.ipv4_address) for the services to trust")
else:
    lb_ip = ipaddress.ip_address(lb_addr)
    if not any(lb_ip in subnet for subnet, _ in subnets):
        problems.append(f"lb: {lb_addr} is not in the network's subnet (networks.default.ipam)")
    if any(lb_ip in dynamic for _, dynamic in subnets):
        problems.append(f"lb: {lb_addr} is inside the ip_range Docker hands out; a replica could take it")
for name in ("auth-server", "resource-api"):
    raw = str(env_of(services.get(name, {})).get("TRUSTED_PROXIES") or "")
    if not raw.strip():
        problems.append(f"{name}: TRUSTED_PROXIES is not set; behind the lb every client would share its address")
        continue
    nets = []
    for item in (i.strip() for i in raw.split(",")):
        if not item:
            continue
        try:
            nets.append(ipaddress.ip_network(item, strict=True))
        except ValueError:
            problems.append(f"{name}: TRUSTED_PROXIES entry `{item}` is not a CIDR")
    if lb_addr and not any(ipaddress.ip_address(lb_addr) in n for n in nets):
        problems.append(f"{name}: TRUSTED_PROXIES does not name the lb ({lb_addr})")
    for n in nets:
        # The other containers (the replicas, db, redis) get addresses from ip_range: none of
        # them may be trusted to name a client.
        if n.prefixlen == 0 or any(n.version == d.version and n.overlaps(d) for _, d in subnets):
            problems.append(f"{name}: TRUSTED_PROXIES entry {n} covers addresses Docker hands to other containers; trust only the lb")

# --- Dockerfile ---------------------------------------------------------------------------
try:
    with open(dockerfile_path) as f:
        dockerfile = f.read()
except OSError as e:
    problems.append(f"cannot read {dockerfile_path}: {e}")
    dockerfile = ""
stages = set()
from_lines = [line.split() for line in dockerfile.splitlines() if line.strip().upper().startswith("FROM ")]
if dockerfile and not from_lines:
    problems.append(f"{dockerfile_path}: no FROM line")
for words in from_lines:
    args = [w for w in words[1:] if not w.startswith("--")]
    image = args[0] if args else ""
    if len(args) >= 3 and args[1].upper() == "AS":
        stages.add(args[2])
    if image in stages:
        continue
    if not DIGEST.match(image):
        problems.append(f"{dockerfile_path}: FROM {image} is not pinned by digest (image:tag@sha256:…)")
if dockerfile and "cargo chef cook" not in dockerfile:
    problems.append(f"{dockerfile_path}: dependencies are not cached with cargo-chef (cargo chef cook)")
runtime = dockerfile.rsplit("\nFROM ", 1)[-1] if dockerfile else ""
installs = [line for line in runtime.replace("\\\n", " ").splitlines() if "apt-get install" in line]
if any(re.search(r"\bcurl\b", line) for line in installs):
    problems.append(f"{dockerfile_path}: the runtime image installs curl; health checks use the binaries")

if problems:
    print("docker-compose.yml: " + "; ".join(problems))
    sys.exit(1)
print(f"{compose_path} and {dockerfile_path}: ok")
