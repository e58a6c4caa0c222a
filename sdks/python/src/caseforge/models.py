"""The public model names, mapped onto the generated classes of ``_models.py``.

The runtime refers to generated classes only through this module: when the OpenAPI document
renames a schema, regenerate and change the one line here.
"""

from __future__ import annotations

from typing import Optional

import pydantic

from . import _models
from ._base import BaseModel

Case = _models.Case
CaseEvent = _models.CaseEvent
Sar = _models.Sar
WatchlistEntry = _models.WatchlistEntry
ScreenResult = _models.ScreenResponse
ScreenMatch = _models.ScreenMatch
Subject = _models.Subject
Transaction = _models.Transaction
Alert = _models.Alert
Pagination = _models.Pagination
ErrorBody = _models.ErrorBody
Me = _models.Me
ApiKeyValidation = _models.ApiKeyValidation

__all__ = [
    "BaseModel",
    "Case",
    "CaseEvent",
    "Sar",
    "WatchlistEntry",
    "ScreenResult",
    "ScreenMatch",
    "Subject",
    "Transaction",
    "Alert",
    "Pagination",
    "ErrorBody",
    "Me",
    "ApiKeyValidation",
    "WebhookEndpoint",
    "WebhookDelivery",
    "WebhookAttempt",
]


# Webhooks (contract §8): hand-written until the served document has their schemas, then
# `WebhookEndpoint = _models.EndpointWithSecret` (or its new name) and so on.


class WebhookEndpoint(BaseModel):
    """An endpoint. ``secret`` only in the answers of ``create`` and ``rotate_secret`` (never
    in ``repr``)."""

    id: str
    url: str
    events: list[str]
    description: Optional[str] = None
    enabled: Optional[bool] = None
    disabled_reason: Optional[str] = None
    previous_secret_expires_at: Optional[str] = None
    last_success_at: Optional[str] = None
    failing_since: Optional[str] = None
    created_at: Optional[str] = None
    updated_at: Optional[str] = None
    secret: Optional[str] = pydantic.Field(default=None, repr=False)


class WebhookAttempt(BaseModel):
    at: str
    response_status: Optional[int] = None
    error: Optional[str] = None
    duration_ms: Optional[int] = None


class WebhookDelivery(BaseModel):
    id: str
    endpoint_id: str
    event_id: str
    event_type: str
    status: str
    attempts: int
    next_attempt_at: Optional[str] = None
    last_attempt_at: Optional[str] = None
    response_status: Optional[int] = None
    error: Optional[str] = None
    duration_ms: Optional[int] = None
    response_excerpt: Optional[str] = None
    attempt_log: list[WebhookAttempt] = []
    created_at: Optional[str] = None
    updated_at: Optional[str] = None
