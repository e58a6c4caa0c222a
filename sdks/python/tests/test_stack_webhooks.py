"""Webhooks (contract §8) end to end: an endpoint made with the SDK, a real delivery to a local
receiver, verified with ``caseforge.webhooks.verify`` (see conftest.py for the stack)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

import pytest

import caseforge
from conftest import Stack, wait_until


class Receiver:
    """A tiny HTTP server on a free loopback port that answers 204 and keeps what it got."""

    def __init__(self) -> None:
        self.got: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                receiver.got.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def test_webhook_endpoint_delivery_verify_rotate_delete(stack: Stack, receiver: Receiver) -> None:
    key = stack.create_api_key(scopes=["cases:read", "cases:write", "webhooks:read", "webhooks:write"])
    with caseforge.Client(api_key=key, base_url=stack.base_url) as client:
        hooks = client.webhook_endpoints
        endpoint = hooks.create(url=receiver.url, events=["case.created"], description="sdk test")
        secret = endpoint.secret
        assert secret.startswith("whsec_") and secret not in repr(endpoint)
        assert endpoint.enabled and endpoint.events == ["case.created"] and endpoint.etag
        read = hooks.retrieve(endpoint.id)
        assert read.url == receiver.url and getattr(read, "secret", None) is None
        assert [e.id for e in hooks.list()] == [endpoint.id]

        case = client.cases.create(title="hooked")
        wait_until(lambda: len(receiver.got) >= 1, timeout=30, what="the case.created delivery")
        headers, body = receiver.got[0]
        event = caseforge.webhooks.verify(body, headers, secret)
        assert event["type"] == "case.created" and event["data"]["id"] == case.id
        with pytest.raises(caseforge.webhooks.WebhookVerificationError):
            caseforge.webhooks.verify(body.replace(b"hooked", b"hacked"), headers, secret)
        with pytest.raises(caseforge.webhooks.WebhookVerificationError):
            caseforge.webhooks.verify(body, headers, "whsec_" + "QUJD" * 8)  # another secret

        def delivered() -> bool:
            ds = hooks.deliveries(endpoint.id).data
            return len(ds) == 1 and ds[0].status == "succeeded"

        wait_until(delivered, timeout=15, what="the delivery recorded as succeeded")
        delivery = hooks.deliveries(endpoint.id).data[0]
        assert delivery.event_id == headers["webhook-id"] and delivery.event_type == "case.created"
        assert delivery.attempts == 1 and delivery.attempt_log[0].response_status == 204
        # A retry by hand delivers the same event (the same webhook-id) again.
        assert hooks.retry_delivery(endpoint.id, delivery.id).id == delivery.id
        wait_until(lambda: len(receiver.got) >= 2, timeout=30, what="the retried delivery")
        assert receiver.got[1][0]["webhook-id"] == headers["webhook-id"]
        assert caseforge.webhooks.verify(receiver.got[1][1], receiver.got[1][0], secret)["data"]["id"] == case.id

        updated = hooks.update(endpoint.id, description="renamed", if_match=read.etag)
        assert updated.description == "renamed"
        with pytest.raises(caseforge.PreconditionFailedError):
            hooks.update(endpoint.id, description="stale", if_match=read.etag)

        rotated = hooks.rotate_secret(endpoint.id, grace_period_seconds=0)
        assert rotated.secret.startswith("whsec_") and rotated.secret != secret
        client.cases.create(title="after rotation")
        wait_until(lambda: len(receiver.got) >= 3, timeout=30, what="the delivery after the rotation")
        headers2, body2 = receiver.got[2]
        assert caseforge.webhooks.verify(body2, headers2, rotated.secret)["type"] == "case.created"
        with pytest.raises(caseforge.webhooks.WebhookVerificationError):
            caseforge.webhooks.verify(body2, headers2, secret)  # no grace period: the old one is gone

        # The rotation changed the record: the etag read before it no longer deletes.
        with pytest.raises(caseforge.PreconditionFailedError):
            hooks.delete(endpoint.id, if_match=updated.etag)
        assert hooks.delete(endpoint.id, if_match=hooks.retrieve(endpoint.id).etag) is None
        with pytest.raises(caseforge.NotFoundError):
            hooks.retrieve(endpoint.id)
        assert json.loads(body)["data"]["title"] == "hooked"
