"""Verifying the webhooks CaseForge sends (Standard Webhooks v1, contract §8).

    event = caseforge.webhooks.verify(request.body, request.headers, secret=endpoint_secret)  # whsec_…
    if event["type"] == "case.closed": ...

``verify`` checks the ``webhook-signature`` header (HMAC-SHA256 of ``id.timestamp.body`` under
the endpoint's ``whsec_`` secret; any one of the space-separated signatures may match, so both
secrets work during a rotation's grace period) and that ``webhook-timestamp`` is within
``tolerance`` seconds of now (a replayed old delivery is refused). Pass the body exactly as
received (bytes), before any JSON parsing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any, Mapping, Optional, Union

__all__ = ["WebhookVerificationError", "verify", "sign"]

DEFAULT_TOLERANCE = 300


class WebhookVerificationError(Exception):
    """The delivery is not signed by this secret, or is too old or too new."""


def _key(secret: str) -> bytes:
    raw = secret[len("whsec_") :] if secret.startswith("whsec_") else secret
    try:
        return base64.b64decode(raw, validate=True)
    except ValueError:
        raise WebhookVerificationError("The secret is not a whsec_ secret.") from None


def _header(headers: Mapping[str, str], name: str) -> str:
    for k, v in headers.items():
        if k.lower() == name:
            return v
    raise WebhookVerificationError(f"Missing header {name}.")


def sign(secret: str, msg_id: str, timestamp: int, payload: Union[bytes, str]) -> str:
    """``v1,<base64 HMAC-SHA256>`` of ``msg_id.timestamp.payload`` (what the server sends)."""
    body = payload.encode() if isinstance(payload, str) else payload
    mac = hmac.new(_key(secret), f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256)
    return "v1," + base64.b64encode(mac.digest()).decode()


def verify(
    payload: Union[bytes, str],
    headers: Mapping[str, str],
    secret: str,
    *,
    tolerance: int = DEFAULT_TOLERANCE,
    now: Optional[float] = None,
) -> Any:
    """The delivery's JSON (``{"type", "timestamp", "data"}``) when it is authentic; else
    ``WebhookVerificationError``."""
    msg_id = _header(headers, "webhook-id")
    ts_text = _header(headers, "webhook-timestamp")
    signatures = _header(headers, "webhook-signature")
    try:
        ts = int(ts_text)
    except ValueError:
        raise WebhookVerificationError("Malformed webhook-timestamp.") from None
    current = time.time() if now is None else now
    if abs(current - ts) > tolerance:
        raise WebhookVerificationError("The webhook-timestamp is too far from now.")
    expected = sign(secret, msg_id, ts, payload).split(",", 1)[1]
    for candidate in signatures.split():
        version, _, sig = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(sig, expected):
            body = payload.decode() if isinstance(payload, bytes) else payload
            return json.loads(body)
    raise WebhookVerificationError("No signature matches.")
