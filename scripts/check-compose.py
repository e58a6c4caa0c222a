#!/usr/bin/env python3
"""Checks docker-compose.yml without a Docker engine: it parses, the services are wired to
PostgreSQL and to each other, and every variable the services read is one the contract names."""
import sys

import yaml

with open(sys.argv[1] if len(sys.argv) > 1 else "docker-compose.yml") as f:
    compose = yaml.safe_load(f)

services = compose["services"]
problems = []
for name in ("db", "auth-server", "resource-api"):
    if name not in services:
        problems.append(f"service {name} is missing")
if "healthcheck" not in services.get("db", {}):
    problems.append("db has no health check")
if "pgdata" not in (compose.get("volumes") or {}):
    problems.append("no volume for PostgreSQL data")
known = {"DATABASE_URL", "AUTH_BIND", "API_BIND", "AUTH_ISSUER", "API_AUDIENCE", "ADMIN_TOKEN", "RUST_LOG", "BCRYPT_COST", "DB_POOL_SIZE",
         "SIGNING_KEY_ENCRYPTION_KEY", "SIGNING_KEY_ENCRYPTION_KEY_PREVIOUS", "BCRYPT_CONCURRENCY",
         "METRICS_BIND", "CORS_ALLOWED_ORIGINS", "JWKS_URL", "REDIS_URL", "DATABASE_LISTEN_URL",
         "LOG_FORMAT"}
for name in ("auth-server", "resource-api"):
    env = services.get(name, {}).get("environment", {})
    if not str(env.get("DATABASE_URL", "")).startswith("postgres://"):
        problems.append(f"{name} does not use PostgreSQL")
    for var in env:
        if var not in known:
            problems.append(f"{name} sets {var}, which no service reads")
    if services.get(name, {}).get("depends_on", {}).get("db", {}).get("condition") != "service_healthy":
        problems.append(f"{name} does not wait for a healthy db")
for var in ("ADMIN_TOKEN", "SIGNING_KEY_ENCRYPTION_KEY"):
    if var not in services.get("auth-server", {}).get("environment", {}):
        problems.append(f"auth-server gets no {var}")
if problems:
    print("docker-compose.yml: " + "; ".join(problems))
    sys.exit(1)
print("docker-compose.yml: ok")
