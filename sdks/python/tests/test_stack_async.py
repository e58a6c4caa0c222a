"""``AsyncClient`` against the real services: the same behaviour with ``await``."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx
import pytest

import caseforge
from conftest import Recorder, Stack, wait_until
from dropproxy import DropProxy


async def test_async_api_key_from_the_environment_and_surface(stack: Stack, api_key: str, clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("CASEFORGE_API_KEY", api_key)
    clean_env.setenv("CASEFORGE_BASE_URL", stack.base_url)
    async with caseforge.AsyncClient() as client:
        assert (await client.me()).principal_type == "api_key"
        case = await client.cases.create(title="async", priority="critical")
        case = await client.cases.update(case.id, description="d", if_match=case.etag)
        with pytest.raises(caseforge.PreconditionFailedError):
            await client.cases.update(case.id, description="stale", if_match='"0"')
        page = await client.cases.list(priority="critical", page_size=1)
        assert isinstance(page, caseforge.AsyncPage) and len(page.data) == 1
        raw = await client.with_raw_response.cases.retrieve(case.id)
        assert raw.headers["etag"] == case.etag and raw.parse().description == "d"
        events = [e async for e in client.cases.history(case.id)]
        assert [e.action for e in events] == ["created", "updated"]


async def test_async_one_token_fetch_over_many_tasks(stack: Stack, app: dict[str, Any], recorder: Recorder) -> None:
    client = caseforge.AsyncClient(
        client_id=app["client_id"], client_secret=app["client_secret"], base_url=stack.base_url, auth_url=stack.auth_url, http_client=recorder.async_client()
    )
    results = await asyncio.gather(*(client.me() for _ in range(40)))
    assert {r.principal_type for r in results} == {"application"}
    for _ in range(10):
        await client.cases.list(page_size=1)
    assert recorder.token_fetches() == 1
    await client.close()


async def test_async_revoked_tokens_are_renewed_once(stack: Stack, app: dict[str, Any], recorder: Recorder) -> None:
    client = caseforge.AsyncClient(client_id=app["client_id"], client_secret=app["client_secret"], base_url=stack.base_url, auth_url=stack.auth_url, http_client=recorder.async_client())
    await client.me()
    old = recorder.requests[-1].headers["authorization"]
    stack.revoke_tokens(app["client_id"])
    await asyncio.to_thread(
        wait_until, lambda: httpx.get(f"{stack.base_url}/v2/me", headers={"Authorization": old}).status_code == 401, 15, "the revocation"
    )
    await asyncio.sleep(1.1)
    recorder.statuses.clear()
    # Many tasks hit the 401 together: still one new token.
    results = await asyncio.gather(*(client.me() for _ in range(10)))
    assert {r.id for r in results} == {app["client_id"]}
    assert recorder.token_fetches() == 2


async def test_async_wrong_secret(stack: Stack, app: dict[str, Any]) -> None:
    client = caseforge.AsyncClient(client_id=app["client_id"], client_secret="nope-" + uuid.uuid4().hex, base_url=stack.base_url, auth_url=stack.auth_url)
    with pytest.raises(caseforge.AuthenticationError) as e:
        await client.me()
    assert e.value.code == "invalid_client"


async def test_async_walk_while_inserting(stack: Stack) -> None:
    key = stack.create_api_key()
    client = caseforge.AsyncClient(api_key=key, base_url=stack.base_url)
    tag = uuid.uuid4().hex[:8]
    await asyncio.gather(*(client.cases.create(title=f"awalk {tag} {i}", priority="medium", description=tag) for i in range(110)))
    before = {c.id async for c in client.cases.list(priority="medium", page_size=100)}
    assert len(before) >= 110
    stop = asyncio.Event()
    inserted: list[str] = []

    async def insert() -> None:
        while not stop.is_set():
            inserted.append((await client.cases.create(title=f"during {tag}", priority="medium")).id)
            await asyncio.sleep(0.005)

    writer = asyncio.create_task(insert())
    seen: list[str] = []
    try:
        async for case in client.cases.list(priority="medium", page_size=9):
            seen.append(case.id)
            if len(seen) % 9 == 0:
                await asyncio.sleep(0.02)
    finally:
        stop.set()
        await writer
    assert inserted
    assert len(seen) == len(set(seen))
    assert before <= set(seen)


async def test_async_rate_limit(stack: Stack) -> None:
    key = stack.create_api_key(tier="basic")
    client = caseforge.AsyncClient(api_key=key, base_url=stack.base_url, max_retries=0)
    with pytest.raises(caseforge.RateLimitError) as e:
        for _ in range(100):
            await client.me()
    assert e.value.retry_after
    assert (await client.with_options(max_retries=5).me()).tier == "basic"


async def test_async_dropped_connection_makes_one_record(stack: Stack, api_key: str) -> None:
    port = int(stack.base_url.rsplit(":", 1)[1])
    title = f"adropped {uuid.uuid4().hex}"
    with DropProxy(port, drop=2) as proxy:
        client = caseforge.AsyncClient(api_key=api_key, base_url=proxy.url)
        created = await client.cases.create(title=title)
        assert len(proxy.dropped_requests) == 2
        keys = {line for req in proxy.dropped_requests for line in req.split(b"\r\n") if line.lower().startswith(b"idempotency-key:")}
        assert len(keys) == 1
    direct = caseforge.AsyncClient(api_key=api_key, base_url=stack.base_url)
    matches = [c.id async for c in direct.cases.list(page_size=100) if c.title == title]
    assert matches == [created.id]


def test_timeouts_are_api_timeout_errors(stack: Stack, api_key: str) -> None:
    """A server that accepts and never answers: APITimeoutError carrying the request id the
    SDK sent (so the attempt can be found in the server's logs)."""
    import socket

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    try:
        client = caseforge.Client(api_key=api_key, base_url=f"http://127.0.0.1:{silent.getsockname()[1]}", timeout=0.3, max_retries=1)
        t0 = time.monotonic()
        with pytest.raises(caseforge.APITimeoutError) as e:
            client.cases.list()
        assert isinstance(e.value, caseforge.APIConnectionError)
        assert e.value.request_id and e.value.request_id.startswith("cfpy_")
        assert time.monotonic() - t0 >= 0.6  # two attempts
    finally:
        silent.close()


def test_sdk_readme_async_example_runs(stack: Stack, api_key: str) -> None:
    """sdks/python/README.md's "Async" example, as written, in a fresh interpreter."""
    import os
    import re
    import subprocess
    import sys

    from conftest import REPO

    text = (REPO / "sdks" / "python" / "README.md").read_text()
    section = re.search(r"^## Async\n(.*?)(?=^## )", text, re.S | re.M)
    assert section
    (block,) = re.findall(r"```python\n(.*?)```", section.group(1), re.S)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASEFORGE_")}
    env.update(CASEFORGE_API_KEY=api_key, CASEFORGE_BASE_URL=stack.base_url)
    result = subprocess.run([sys.executable, "-c", block], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert re.search(r"^CF-\d{4}-\d{6}$", result.stdout, re.M)
