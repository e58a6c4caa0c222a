"""CaseForge Python SDK: ``caseforge.Client`` and ``caseforge.AsyncClient`` for the ``/v2`` API.

    import caseforge
    client = caseforge.Client()                      # reads CASEFORGE_API_KEY
    for case in client.cases.list(status="open"):    # every page, by cursor
        print(case.reference, case.title)
"""

from . import models, webhooks
from ._client import AsyncClient, Client
from ._core import NOT_GIVEN, ConfigurationError
from ._exceptions import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    PreconditionFailedError,
    RateLimitError,
    UnprocessableEntityError,
)
from ._pagination import AsyncPage, AsyncPaginator, SyncPage
from ._response import APIResponse
from ._version import __version__

__all__ = [
    "__version__",
    "Client",
    "AsyncClient",
    "models",
    "webhooks",
    "NOT_GIVEN",
    "ConfigurationError",
    "APIError",
    "APIConnectionError",
    "APITimeoutError",
    "APIStatusError",
    "BadRequestError",
    "AuthenticationError",
    "PermissionDeniedError",
    "NotFoundError",
    "ConflictError",
    "PreconditionFailedError",
    "UnprocessableEntityError",
    "RateLimitError",
    "InternalServerError",
    "SyncPage",
    "AsyncPage",
    "AsyncPaginator",
    "APIResponse",
]
