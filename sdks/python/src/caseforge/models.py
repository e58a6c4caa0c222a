"""The public model names, mapped onto the generated classes of ``_models.py``.

The runtime refers to generated classes only through this module: when the OpenAPI document
renames a schema, regenerate and change the one line here.
"""

from __future__ import annotations

from typing import Any

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
# Webhooks (contract §8). ``WebhookEndpoint`` is what reads, lists and updates answer;
# ``create`` and ``rotate_secret`` answer a ``WebhookEndpointWithSecret`` (also a
# ``WebhookEndpoint``) whose ``secret`` is shown that once.
WebhookEndpoint = _models.EndpointView
WebhookDelivery = _models.DeliveryView
WebhookAttempt = _models.AttemptView


class WebhookEndpointWithSecret(_models.EndpointWithSecret):
    """An endpoint with its ``whsec_`` secret: the answer of ``create`` and ``rotate_secret``.
    The secret is readable as ``.secret`` but never in ``repr``."""

    def __repr_args__(self) -> Any:
        return [(k, v) for k, v in super().__repr_args__() if k != "secret"]


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
    "WebhookEndpointWithSecret",
    "WebhookDelivery",
    "WebhookAttempt",
]

