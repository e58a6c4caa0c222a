"""The real stack for the SDK tests: the release binaries of auth-server and resource-api
(from ``CASEFORGE_BIN_DIR``, default ``<repo>/target/release``) on a fresh SQLite file in a
temp directory, on free ports, with credentials made through the admin API."""

from __future__ import annotations

import base64
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import httpx
import pytest

REPO = Path(__file__).resolve().parents[3]
ALL_SCOPES = [
    "cases:read",
    "cases:write",
    "sar:read",
    "sar:write",
    "watchlist:read",
    "watchlist:write",
    "subjects:read",
    "subjects:write",
    "transactions:read",
    "alerts:read",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: the service exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"not ready: {url}\n{log.read_text()[-3000:]}")


class Stack:
    def __init__(self, auth_url: str, base_url: str, admin_token: str, work: Path) -> None:
        self.auth_url = auth_url
        self.base_url = base_url
        self.admin_token = admin_token
        self.work = work
        self.admin = httpx.Client(base_url=auth_url, headers={"Authorization": f"Bearer {admin_token}"}, timeout=30)

    def create_application(self, *, scopes: Optional[list[str]] = None, tier: str = "unlimited", name: str = "sdk-test") -> dict[str, Any]:
        r = self.admin.post(
            "/admin/applications",
            json={"name": name, "scopes": scopes or ALL_SCOPES, "environment": "sandbox", "tier": tier},
        )
        r.raise_for_status()
        return r.json()

    def create_key_application(self, jwks: list[dict[str, Any]], *, dpop_bound: bool = False, scopes: Optional[list[str]] = None) -> dict[str, Any]:
        """A `private_key_jwt` application (contract §7): public keys, no secret."""
        r = self.admin.post(
            "/admin/applications",
            json={
                "name": "sdk-key-test",
                "scopes": scopes or ALL_SCOPES,
                "environment": "sandbox",
                "tier": "unlimited",
                "token_endpoint_auth_method": "private_key_jwt",
                "jwks": {"keys": jwks},
                "dpop_bound_access_tokens": dpop_bound,
            },
        )
        assert r.status_code == 201, r.text
        return r.json()

    def set_jwks(self, client_id: str, jwks: list[dict[str, Any]]) -> None:
        r = self.admin.patch(f"/admin/applications/{client_id}", json={"jwks": {"keys": jwks}})
        assert r.status_code == 200, r.text

    def create_api_key(self, *, scopes: Optional[list[str]] = None, tier: str = "unlimited", name: str = "sdk-test") -> str:
        r = self.admin.post(
            "/admin/api-keys",
            json={"name": name, "scopes": scopes or ALL_SCOPES, "environment": "sandbox", "tier": tier},
        )
        r.raise_for_status()
        return r.json()["key"]

    def revoke_tokens(self, client_id: str) -> None:
        r = self.admin.post(f"/admin/applications/{client_id}/revoke-tokens")
        assert r.status_code == 204, r.text

    def logs(self) -> str:
        out = []
        for name in ("auth.log", "api.log"):
            p = self.work / name
            if p.exists():
                out.append(f"--- {name}\n{p.read_text()[-4000:]}")
        return "\n".join(out)


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    yield from run_stack({})


@pytest.fixture(scope="session")
def nonce_stack() -> Iterator[Stack]:
    """A second stack with DPoP server nonces on (`DPOP_NONCE_KEY`, the same on both services)."""
    yield from run_stack({"DPOP_NONCE_KEY": "sdk-test-nonce-" + secrets.token_hex(16)})


def run_stack(extra_env: dict[str, str]) -> Iterator[Stack]:
    bin_dir = Path(os.environ.get("CASEFORGE_BIN_DIR") or REPO / "target" / "release")
    auth_bin, api_bin = bin_dir / "auth-server", bin_dir / "resource-api"
    for b in (auth_bin, api_bin):
        if not b.exists():
            pytest.fail(f"{b} is missing: build it (cargo build --release -p auth-server -p resource-api) or set CASEFORGE_BIN_DIR")
    work = Path(tempfile.mkdtemp(prefix="caseforge-sdk-python."))
    auth_port, api_port = free_port(), free_port()
    auth_url, base_url = f"http://127.0.0.1:{auth_port}", f"http://127.0.0.1:{api_port}"
    admin_token = "sdk-test-" + secrets.token_hex(20)
    # A clean environment: nothing from the caller's shell (or a `.env`: started in `work`).
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DATABASE_URL": f"sqlite://{work}/caseforge.db",
        "RUST_LOG": "warn",
        "AUTH_ISSUER": auth_url,
        "CREDENTIAL_POLL_SECS": "1",
        **extra_env,
    }
    procs: list[subprocess.Popen] = []
    try:
        auth_log = work / "auth.log"
        procs.append(
            subprocess.Popen(
                [str(auth_bin), "serve"],
                cwd=work,
                env={
                    **env,
                    "SIGNING_KEY_ENCRYPTION_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
                    "ADMIN_TOKEN": admin_token,
                    "AUTH_BIND": f"127.0.0.1:{auth_port}",
                },
                stdout=auth_log.open("wb"),
                stderr=subprocess.STDOUT,
            )
        )
        wait_ready(f"{auth_url}/readyz", procs[0], auth_log)
        api_log = work / "api.log"
        procs.append(
            subprocess.Popen(
                [str(api_bin)],
                cwd=work,
                # Access lines (with each request's id) for the request-id test.
                # Webhooks (contract §8): a sealing key, and delivery to the tests' local receivers.
                env={
                    **env,
                    "API_BIND": f"127.0.0.1:{api_port}",
                    "API_PUBLIC_URL": base_url,
                    "RUST_LOG": "warn,access=info,shared::telemetry=info",
                    "WEBHOOK_SECRET_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
                    "WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",
                    "WEBHOOK_TIMEOUT_SECS": "5",
                },
                stdout=api_log.open("wb"),
                stderr=subprocess.STDOUT,
            )
        )
        wait_ready(f"{base_url}/readyz", procs[1], api_log)
        s = Stack(auth_url, base_url, admin_token, work)
        yield s
        s.admin.close()
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        if os.environ.get("CASEFORGE_KEEP_TEST_DIR") != "1":
            shutil.rmtree(work, ignore_errors=True)


@pytest.fixture()
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No CASEFORGE_* variable of the caller's shell leaks into a test."""
    for name in list(os.environ):
        if name.startswith("CASEFORGE_") and name != "CASEFORGE_BIN_DIR":
            monkeypatch.delenv(name)
    return monkeypatch


@pytest.fixture(scope="session")
def api_key(stack: Stack) -> str:
    return stack.create_api_key()


@pytest.fixture()
def app(stack: Stack) -> dict[str, Any]:
    return stack.create_application()


class Recorder:
    """httpx event hooks that record every request the SDK sends (method, URL, headers) and
    every status it gets."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.statuses: list[tuple[str, int]] = []

    def on_request(self, request: httpx.Request) -> None:
        self.requests.append(request)

    def on_response(self, response: httpx.Response) -> None:
        self.statuses.append((response.request.url.path, response.status_code))

    async def aon_request(self, request: httpx.Request) -> None:
        self.on_request(request)

    async def aon_response(self, response: httpx.Response) -> None:
        self.on_response(response)

    def token_fetches(self) -> int:
        return sum(1 for r in self.requests if r.method == "POST" and r.url.path == "/oauth/token")

    def sync_client(self, **kw: Any) -> httpx.Client:
        return httpx.Client(event_hooks={"request": [self.on_request], "response": [self.on_response]}, **kw)

    def async_client(self, **kw: Any) -> httpx.AsyncClient:
        return httpx.AsyncClient(event_hooks={"request": [self.aon_request], "response": [self.aon_response]}, **kw)


@pytest.fixture()
def recorder() -> Recorder:
    return Recorder()


def wait_until(pred: Callable[[], bool], timeout: float = 15, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")
