"""The synchronous client against the real services (see conftest.py)."""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

import caseforge
from conftest import Recorder, Stack, wait_until
from dropproxy import DropProxy


def test_api_key_from_the_environment(stack: Stack, api_key: str, clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("CASEFORGE_API_KEY", api_key)
    clean_env.setenv("CASEFORGE_BASE_URL", stack.base_url)
    with caseforge.Client() as client:
        me = client.me()
        assert me.principal_type == "api_key" and me.environment == "sandbox"
        created = client.cases.create(title="from the environment", priority="high")
        assert created.etag and created.reference.startswith("CF-")
        got = client.cases.retrieve(created.id)
        assert got.id == created.id and got.etag == created.etag and got.priority == "high"
        assert api_key not in repr(client)


def test_every_resource_and_transition(stack: Stack, api_key: str) -> None:
    with caseforge.Client(api_key=api_key, base_url=stack.base_url) as client:
        subject = client.subjects.create(subject_type="person", name="Ada Lovelace", country="GB")
        assert 0 <= subject.risk_score <= 100 and subject.risk_level in ("low", "medium", "high")
        subject = client.subjects.update(subject.id, country="FR", if_match=subject.etag)
        assert client.subjects.retrieve(subject.id).country == "FR"
        assert any(s.id == subject.id for s in client.subjects.list(page_size=100))

        case = client.cases.create(title="Structuring", subject_ids=[subject.id])
        case = client.cases.assign(case.id, assignee="investigator-7", if_match=case.etag)
        assert case.assignee == "investigator-7"
        case = client.cases.update(case.id, status="in_review", if_match=case.etag)
        assert case.status == "in_review"
        assert [c.id for c in client.cases.list(assignee="investigator-7", status="in_review")] == [case.id]

        sar = client.sars.create(case_id=case.id, amount="125000.50", currency="EUR")
        sar = client.sars.update(sar.id, narrative="Cash deposits under the threshold.", if_match=sar.etag)
        sar = client.sars.submit(sar.id, if_match=sar.etag)
        assert sar.status == "submitted" and sar.amount == "125000.50"
        assert client.sars.retrieve(sar.id).submitted_at
        with pytest.raises(caseforge.ConflictError):
            client.sars.update(sar.id, narrative="too late")

        case = client.cases.close(case.id, resolution="Reported", if_match=case.etag)
        assert case.status == "closed"
        with pytest.raises(caseforge.ConflictError) as e:
            client.cases.close(case.id, resolution="again")
        assert e.value.code == "conflict" and not e.value.retryable
        actions = [ev.action for ev in client.cases.history(case.id)]
        assert actions[0] == "created" and actions[-1] == "closed"

        entry = client.watchlist.create(name="Jöhn Smith", entry_type="person", list_source="OFAC", aliases=["J. Smith"])
        entry = client.watchlist.update(entry.id, reason="sanctioned", if_match=entry.etag)
        best = client.watchlist.screen(name="smith john").matches[0]
        assert best.entry.id == entry.id and best.score > 0.8
        assert client.watchlist.delete(entry.id, if_match=entry.etag) is None
        with pytest.raises(caseforge.NotFoundError) as nf:
            client.watchlist.retrieve(entry.id)
        assert nf.value.status_code == 404 and nf.value.request_id

        assert isinstance(client.transactions.list(subject_id=subject.id).data, list)
        assert isinstance(client.alerts.list(status="open").data, list)
        assert client.api_keys.validate().valid is True

        raw = client.with_raw_response.cases.retrieve(case.id)
        assert raw.status_code == 200 and raw.headers["etag"] == case.etag
        assert raw.headers["cache-control"] == "no-store" and raw.request_id.startswith("cfpy_")
        assert raw.parse().id == case.id
        raw_page = client.with_raw_response.cases.list(page_size=1)
        assert raw_page.headers.get("x-ratelimit-limit") is not None or raw_page.status_code == 200
        assert len(raw_page.parse().data) == 1


def test_client_credentials_one_token_fetch_over_many_calls_and_threads(stack: Stack, app: dict[str, Any], recorder: Recorder, clean_env: pytest.MonkeyPatch) -> None:
    # The environment's API key is not used when client credentials are arguments.
    clean_env.setenv("CASEFORGE_API_KEY", "cf_sand_not_this_one_000000000000")
    client = caseforge.Client(
        client_id=app["client_id"],
        client_secret=app["client_secret"],
        base_url=stack.base_url,
        auth_url=stack.auth_url,
        scopes=["cases:read", "cases:write"],
        http_client=recorder.sync_client(),
    )
    start = threading.Barrier(16)

    def work(i: int) -> str:
        start.wait()
        me = client.me()
        client.cases.list(page_size=1)
        return me.principal_type

    with ThreadPoolExecutor(16) as pool:
        kinds = list(pool.map(work, range(16)))
    for _ in range(20):
        client.me()
    assert set(kinds) == {"application"}
    assert recorder.token_fetches() == 1
    me = client.me()
    assert me.id == app["client_id"] and sorted(me.scopes) == ["cases:read", "cases:write"]
    assert app["client_secret"] not in repr(client)


def test_revoked_tokens_are_renewed_once_and_the_call_succeeds(stack: Stack, app: dict[str, Any], recorder: Recorder) -> None:
    client = caseforge.Client(client_id=app["client_id"], client_secret=app["client_secret"], base_url=stack.base_url, auth_url=stack.auth_url, http_client=recorder.sync_client())
    client.me()
    assert recorder.token_fetches() == 1
    old = recorder.requests[-1].headers["authorization"]
    stack.revoke_tokens(app["client_id"])
    # The resource API refuses the old token within its revocation bound (polled every second here).
    wait_until(lambda: httpx.get(f"{stack.base_url}/v2/me", headers={"Authorization": old}).status_code == 401, what="the revocation")
    # Tokens issued in the second of the revocation are refused too (`iat` has whole seconds).
    time.sleep(1.1)
    recorder.statuses.clear()
    me = client.me()
    assert me.id == app["client_id"]
    assert recorder.token_fetches() == 2
    assert [s for p, s in recorder.statuses if p == "/v2/me"] == [401, 200]
    assert recorder.requests[-1].headers["authorization"] != old


def test_wrong_secret_is_an_authentication_error(stack: Stack, app: dict[str, Any], recorder: Recorder) -> None:
    wrong = "wrong-" + uuid.uuid4().hex
    client = caseforge.Client(client_id=app["client_id"], client_secret=wrong, base_url=stack.base_url, auth_url=stack.auth_url, http_client=recorder.sync_client())
    with pytest.raises(caseforge.AuthenticationError) as e:
        client.cases.list()
    assert e.value.status_code == 401 and e.value.code == "invalid_client"
    assert recorder.token_fetches() == 1  # raised at once, no retry
    assert not any(r.url.path.startswith("/v2/") for r in recorder.requests)
    for text in (str(e.value), repr(e.value), repr(client)):
        assert wrong not in text


def test_cursor_walk_over_more_than_100_rows_while_others_insert(stack: Stack, recorder: Recorder) -> None:
    key = stack.create_api_key()
    client = caseforge.Client(api_key=key, base_url=stack.base_url, http_client=recorder.sync_client())
    tag = uuid.uuid4().hex[:8]
    for i in range(130):
        client.cases.create(title=f"walk {tag} {i}", priority="low")
    before = {c.id for c in client.cases.list(priority="low", page_size=100)}
    assert len(before) >= 130

    inserted: list[str] = []
    stop = threading.Event()

    def insert() -> None:
        other = caseforge.Client(api_key=key, base_url=stack.base_url)
        while not stop.is_set():
            inserted.append(other.cases.create(title=f"during {tag}", priority="low").id)
            time.sleep(0.01)

    writer = threading.Thread(target=insert)
    recorder.requests.clear()
    writer.start()
    seen: list[str] = []
    try:
        for case in client.cases.list(priority="low", page_size=7, page=1):
            seen.append(case.id)
            if len(seen) % 7 == 0:
                time.sleep(0.02)  # let the writer land rows between pages
    finally:
        stop.set()
        writer.join()
    assert len(inserted) > 0
    assert len(seen) == len(set(seen)), "a row came twice"
    assert before <= set(seen), "a row that existed before the walk was missed"
    pages = [r for r in recorder.requests if r.url.path == "/v2/cases"]
    assert len(pages) >= 19
    assert dict(pages[0].url.params) == {"priority": "low", "page_size": "7", "page": "1"}
    for r in pages[1:]:
        params = dict(r.url.params)
        assert set(params) == {"priority", "page_size", "cursor"} and params["page_size"] == "7" and params["priority"] == "low"


def test_basic_tier_rate_limit(stack: Stack) -> None:
    key = stack.create_api_key(tier="basic")
    strict = caseforge.Client(api_key=key, base_url=stack.base_url, max_retries=0)
    with pytest.raises(caseforge.RateLimitError) as e:
        for _ in range(100):
            strict.me()
    assert e.value.status_code == 429 and e.value.code == "rate_limited"
    assert e.value.retry_after is not None and e.value.retry_after > 0
    # The same key over its limit, with retries that honour Retry-After: it gets through.
    patient = strict.with_options(max_retries=5)
    for _ in range(3):
        assert patient.me().tier == "basic"


def test_stale_if_match_is_precondition_failed(stack: Stack, api_key: str) -> None:
    client = caseforge.Client(api_key=api_key, base_url=stack.base_url)
    case = client.cases.create(title="concurrent edits")
    client.cases.update(case.id, title="first writer", if_match=case.etag)
    with pytest.raises(caseforge.PreconditionFailedError) as e:
        client.cases.update(case.id, title="second writer", if_match=case.etag)
    assert e.value.status_code == 412 and e.value.code == "precondition_failed"
    assert client.cases.retrieve(case.id).title == "first writer"


def test_connection_dropped_after_the_request_was_sent_makes_one_record(stack: Stack, api_key: str) -> None:
    port = int(stack.base_url.rsplit(":", 1)[1])
    title = f"dropped {uuid.uuid4().hex}"
    with DropProxy(port, drop=1) as proxy:
        client = caseforge.Client(api_key=api_key, base_url=proxy.url)
        raw = client.with_raw_response.cases.create(title=title)
        assert len(proxy.dropped_requests) == 1
        assert raw.headers.get("idempotent-replayed") == "true"
        created = raw.parse()
    direct = caseforge.Client(api_key=api_key, base_url=stack.base_url)
    matches = [c.id for c in direct.cases.list(page_size=100) if c.title == title]
    assert matches == [created.id]
    # Without the SDK's retry the same drop is an APIConnectionError (and the record was made).
    with DropProxy(port, drop=1) as proxy:
        client = caseforge.Client(api_key=api_key, base_url=proxy.url, max_retries=0)
        with pytest.raises(caseforge.APIConnectionError) as e:
            client.cases.create(title=title + " no retry")
        assert e.value.request_id and e.value.request_id.startswith("cfpy_")


def test_close_whose_answer_was_lost_is_retried_with_its_key_and_closes_once(stack: Stack, api_key: str) -> None:
    """The server honours Idempotency-Key on transitions: a close that was done but whose answer
    never arrived is sent again with the same key and answered as the first one was (200, the
    closed case), not 409 ``conflict``; the case is closed once."""
    port = int(stack.base_url.rsplit(":", 1)[1])
    direct = caseforge.Client(api_key=api_key, base_url=stack.base_url)
    case = direct.cases.create(title=f"close dropped {uuid.uuid4().hex}")
    with DropProxy(port, drop=1) as proxy:
        client = caseforge.Client(api_key=api_key, base_url=proxy.url)
        raw = client.with_raw_response.cases.close(case.id, resolution="Reported", if_match=case.etag)
        assert len(proxy.dropped_requests) == 1
        dropped = proxy.dropped_requests[0]
        assert dropped.startswith(f"POST /v2/cases/{case.id}/close ".encode())
        keys = [line for line in dropped.split(b"\r\n") if line.lower().startswith(b"idempotency-key:")]
        assert len(keys) == 1
        assert raw.status_code == 200
        assert raw.headers.get("idempotent-replayed") == "true"
        closed = raw.parse()
    assert closed.id == case.id and closed.status == "closed" and closed.resolution == "Reported"
    assert direct.cases.retrieve(case.id).status == "closed"
    actions = [e.action for e in direct.cases.history(case.id)]
    assert actions.count("closed") == 1, actions


def test_readme_python_example_runs(stack: Stack, app: dict[str, Any], clean_env: pytest.MonkeyPatch) -> None:
    """The fenced ```python blocks of the root README's "Python" section, as written."""
    import re
    from conftest import REPO

    text = (REPO / "README.md").read_text()
    section = re.search(r"^## Python\n(.*?)(?=^## )", text, re.S | re.M)
    assert section, 'README.md has no "## Python" section'
    blocks = re.findall(r"```python\n(.*?)```", section.group(1), re.S)
    assert blocks
    clean_env.setenv("CASEFORGE_CLIENT_ID", app["client_id"])
    clean_env.setenv("CASEFORGE_CLIENT_SECRET", app["client_secret"])
    clean_env.setenv("CASEFORGE_BASE_URL", stack.base_url)
    clean_env.setenv("CASEFORGE_AUTH_URL", stack.auth_url)
    clean_env.setenv("CASEFORGE_API_KEY", stack.create_api_key())
    for block in blocks:
        exec(compile(block, "README.md#python", "exec"), {"__name__": "readme_example"})


def test_status_errors_are_typed(stack: Stack, app: dict[str, Any]) -> None:
    read_only = caseforge.Client(api_key=stack.create_api_key(scopes=["cases:read"]), base_url=stack.base_url)
    with pytest.raises(caseforge.PermissionDeniedError) as denied:
        read_only.cases.create(title="not allowed")
    assert denied.value.status_code == 403 and denied.value.code == "insufficient_scope"
    assert denied.value.details == {"required_scope": "cases:write"}
    assert "insufficient_scope" in denied.value.headers["www-authenticate"]

    oauth = caseforge.Client(client_id=app["client_id"], client_secret=app["client_secret"], base_url=stack.base_url, auth_url=stack.auth_url)
    with pytest.raises(caseforge.BadRequestError) as bad:
        oauth.api_keys.validate()  # API keys only
    assert bad.value.code == "invalid_request" and bad.value.description

    with pytest.raises(caseforge.UnprocessableEntityError) as invalid:
        read_only.with_options(api_key=stack.create_api_key()).sars.create(case_id="case_missing", amount="1.00", currency="EUR")
    assert invalid.value.status_code == 422 and invalid.value.code == "validation_failed"
    assert invalid.value.details == {"field": "case_id"}

    with pytest.raises(caseforge.AuthenticationError) as unknown:
        caseforge.Client(api_key="cf_sand_" + "x" * 43, base_url=stack.base_url).me()
    assert unknown.value.code == "invalid_token"


def test_request_id_finds_every_attempt_in_the_server_log(stack: Stack, api_key: str) -> None:
    """One X-Request-Id per call, the same on its retries: the server's access log has each
    attempt under it, also for a call that never got an answer."""
    port = int(stack.base_url.rsplit(":", 1)[1])
    log = stack.work / "api.log"
    with DropProxy(port, drop=1) as proxy:
        with pytest.raises(caseforge.APIConnectionError) as e:
            caseforge.Client(api_key=api_key, base_url=proxy.url, max_retries=0).cases.create(title="unanswered")
        lost = e.value.request_id
        assert lost
        wait_until(lambda: lost in log.read_text(), what="the unanswered call in the access log")

    with DropProxy(port, drop=1) as proxy:
        raw = caseforge.Client(api_key=api_key, base_url=proxy.url).with_raw_response.cases.create(title="answered on the retry")
        rid = raw.request_id
        assert rid and rid.startswith("cfpy_")
        wait_until(lambda: log.read_text().count(rid) == 2, what="both attempts in the access log")
    lines = [line for line in log.read_text().splitlines() if rid in line]
    assert all("POST /v2/cases 201" in line for line in lines), lines
