"""The public model names, mapped onto the generated classes of ``_models.py``.

The runtime refers to generated classes only through this module: when the OpenAPI document
renames a schema, regenerate and change the one line here.
"""

from __future__ import annotations

from . import _models
from ._base import BaseModel

Case = _models.CaseView
CaseEvent = _models.CaseEventView
Sar = _models.SarView
WatchlistEntry = _models.EntryView
ScreenResult = _models.ScreenResponse
ScreenMatch = _models.ScreenMatch
Subject = _models.SubjectView
Transaction = _models.TransactionView
Alert = _models.AlertView
Pagination = _models.Pagination
ErrorBody = _models.ErrorBody

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
]


class Me(BaseModel):
    """``GET /v2/me``: who is calling. (Hand-written until the document gives it a schema; the
    spec cleanup names it, then this becomes ``Me = _models.Me``.)"""

    principal_type: str
    id: str
    environment: str
    scopes: list[str]
    tier: str


class ApiKeyValidation(BaseModel):
    """``POST /v2/api_keys/validate``: ``{"valid": true, "api_key": {...}}``."""

    valid: bool
    api_key: dict  # type: ignore[type-arg]
