"""The ``/v2`` resources. One set of classes serves both clients: each method describes its
operation (``Op``) and hands it to the client, whose ``_call`` answers the result (``Client``)
or an awaitable of it (``AsyncClient``); ``list`` answers a ``SyncPage`` or an
``AsyncPaginator``.

Every create and transition gets an ``Idempotency-Key`` (yours with ``idempotency_key=``, else
one the SDK makes once per call and sends again on each retry), so it can be retried safely.
Updates and transitions take ``if_match=record.etag``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, Optional, Sequence, Union

from . import models
from ._core import NOT_GIVEN, Op, clean, path_segment
from ._pagination import SyncPage

if TYPE_CHECKING:
    from datetime import date, datetime

__all__ = ["Resources"]

Timeout = Any


class _Resource:
    def __init__(self, client: Any) -> None:
        self._client = client

    def _op(self, method: str, path: str, **kw: Any) -> Op:
        headers = kw.pop("extra_headers", None)
        return Op(method, path, extra_headers=headers, **kw)


def _list_params(filters: Mapping[str, Any], page: Any, page_size: Any) -> dict[str, Any]:
    params = clean(filters)
    if page is not NOT_GIVEN and page is not None:
        params["page"] = page
    if page_size is not NOT_GIVEN and page_size is not None:
        params["page_size"] = page_size
    return params


class Cases(_Resource):
    """``/v2/cases``: ``cases:read`` / ``cases:write``."""

    def list(
        self,
        *,
        status: Optional[str] = NOT_GIVEN,
        assignee: Optional[str] = NOT_GIVEN,
        priority: Optional[str] = NOT_GIVEN,
        page_size: Optional[int] = NOT_GIVEN,
        page: Optional[int] = NOT_GIVEN,
        extra_headers: Optional[Mapping[str, str]] = None,
        timeout: Timeout = None,
    ) -> SyncPage[models.Case]:
        """Cases, newest first. Iterate the answer to walk every page."""
        params = _list_params({"status": status, "assignee": assignee, "priority": priority}, page, page_size)
        return self._client._list(
            self._op("GET", "/v2/cases", params=params, page_item=models.Case, extra_headers=extra_headers, timeout=timeout)
        )

    def create(
        self,
        *,
        title: str,
        description: Optional[str] = NOT_GIVEN,
        priority: Optional[str] = NOT_GIVEN,
        assignee: Optional[str] = NOT_GIVEN,
        subject_ids: Optional[Sequence[str]] = NOT_GIVEN,
        idempotency_key: Optional[str] = None,
        extra_headers: Optional[Mapping[str, str]] = None,
        timeout: Timeout = None,
    ) -> models.Case:
        """Open a case (it gets a ``CF-YYYY-NNNNNN`` reference)."""
        body = clean(
            {"title": title, "description": description, "priority": priority, "assignee": assignee, "subject_ids": subject_ids}
        )
        return self._client._call(
            self._op("POST", "/v2/cases", json=body, cast=models.Case, send_idempotency_key=True, idempotency_key=idempotency_key, extra_headers=extra_headers, timeout=timeout)
        )

    def retrieve(self, case_id: str, *, extra_headers: Optional[Mapping[str, str]] = None, timeout: Timeout = None) -> models.Case:
        return self._client._call(
            self._op("GET", f"/v2/cases/{path_segment(case_id)}", cast=models.Case, extra_headers=extra_headers, timeout=timeout)
        )

    def update(
        self,
        case_id: str,
        *,
        title: Optional[str] = NOT_GIVEN,
        description: Optional[str] = NOT_GIVEN,
        status: Optional[str] = NOT_GIVEN,
        priority: Optional[str] = NOT_GIVEN,
        subject_ids: Optional[Sequence[str]] = NOT_GIVEN,
        if_match: Optional[str] = None,
        extra_headers: Optional[Mapping[str, str]] = None,
        timeout: Timeout = None,
    ) -> models.Case:
        """Change title, description, status (not ``closed``: use ``close``), priority or subjects.
        With ``if_match=case.etag`` the change is made only if nobody changed the case since
        (else ``PreconditionFailedError``)."""
        body = clean({"title": title, "description": description, "status": status, "priority": priority, "subject_ids": subject_ids})
        return self._client._call(
            self._op("PATCH", f"/v2/cases/{path_segment(case_id)}", json=body, cast=models.Case, if_match=if_match, extra_headers=extra_headers, timeout=timeout)
        )

    def assign(
        self,
        case_id: str,
        *,
        assignee: Optional[str],
        if_match: Optional[str] = None,
        idempotency_key: Optional[str] = None,
        extra_headers: Optional[Mapping[str, str]] = None,
        timeout: Timeout = None,
    ) -> models.Case:
        """Assign the case (``assignee=None`` unassigns)."""
        return self._client._call(
            self._op(
                "POST",
                f"/v2/cases/{path_segment(case_id)}/assign",
                json={"assignee": assignee},
                cast=models.Case,
                if_match=if_match,
                send_idempotency_key=True,
                idempotency_key=idempotency_key,
                extra_headers=extra_headers,
                timeout=timeout,
            )
        )

    def close(
        self,
        case_id: str,
        *,
        resolution: str,
        if_match: Optional[str] = None,
        idempotency_key: Optional[str] = None,
        extra_headers: Optional[Mapping[str, str]] = None,
        timeout: Timeout = None,
    ) -> models.Case:
        """Close with a resolution; closing a closed case is ``ConflictError`` (code ``conflict``)."""
        return self._client._call(
            self._op(
                "POST",
                f"/v2/cases/{path_segment(case_id)}/close",
                json={"resolution": resolution},
                cast=models.Case,
                if_match=if_match,
                send_idempotency_key=True,
                idempotency_key=idempotency_key,
                extra_headers=extra_headers,
                timeout=timeout,
            )
        )

    def history(
        self,
        case_id: str,
        *,
        page_size: Optional[int] = NOT_GIVEN,
        page: Optional[int] = NOT_GIVEN,
        extra_headers: Optional[Mapping[str, str]] = None,
        timeout: Timeout = None,
    ) -> SyncPage[models.CaseEvent]:
        """Every change to the case, oldest first (a page; iterate to walk all)."""
        return self._client._list(
            self._op(
                "GET",
                f"/v2/cases/{path_segment(case_id)}/history",
                params=_list_params({}, page, page_size),
                page_item=models.CaseEvent,
                extra_headers=extra_headers,
                timeout=timeout,
            )
        )


class Sars(_Resource):
    """``/v2/sars``: ``sar:read`` / ``sar:write``. Amounts are decimal strings (``"125000.50"``)."""

    def list(
        self,
        *,
        page_size: Optional[int] = NOT_GIVEN,
        page: Optional[int] = NOT_GIVEN,
        extra_headers: Optional[Mapping[str, str]] = None,
        timeout: Timeout = None,
    ) -> SyncPage[models.Sar]:
        return self._client._list(
            self._op("GET", "/v2/sars", params=_list_params({}, page, page_size), page_item=models.Sar, extra_headers=extra_headers, timeout=timeout)
        )

    def create(
        self,
        *,
        case_id: str,
        amount: str,
        currency: str,
        narrative: Optional[str] = NOT_GIVEN,
        subject_ids: Optional[Sequence[str]] = NOT_GIVEN,
        idempotency_key: Optional[str] = None,
        extra_headers: Optional[Mapping[str, str]] = None,
        timeout: Timeout = None,
    ) -> models.Sar:
        """A draft SAR for a case of the same environment."""
        body = clean({"case_id": case_id, "amount": _decimal(amount), "currency": currency, "narrative": narrative, "subject_ids": subject_ids})
        return self._client._call(
            self._op("POST", "/v2/sars", json=body, cast=models.Sar, send_idempotency_key=True, idempotency_key=idempotency_key, extra_headers=extra_headers, timeout=timeout)
        )

    def retrieve(self, sar_id: str, *, extra_headers: Optional[Mapping[str, str]] = None, timeout: Timeout = None) -> models.Sar:
        return self._client._call(
            self._op("GET", f"/v2/sars/{path_segment(sar_id)}", cast=models.Sar, extra_headers=extra_headers, timeout=timeout)
        )

    def update(
        self,
        sar_id: str,
        *,
        amount: Optional[str] = NOT_GIVEN,
        currency: Optional[str] = NOT_GIVEN,
        narrative: Optional[str] = NOT_GIVEN,
        subject_ids: Optional[Sequence[str]] = NOT_GIVEN,
        if_match: Optional[str] = None,
        extra_headers: Optional[Mapping[str, str]] = None,
        timeout: Timeout = None,
    ) -> models.Sar:
        """Drafts only (a submitted SAR is ``ConflictError``)."""
        body = clean({"amount": _decimal(amount), "currency": currency, "narrative": narrative, "subject_ids": subject_ids})
        return self._client._call(
            self._op("PATCH", f"/v2/sars/{path_segment(sar_id)}", json=body, cast=models.Sar, if_match=if_match, extra_headers=extra_headers, timeout=timeout)
        )

    def submit(
        self,
        sar_id: str,
        *,
        if_match: Optional[str] = None,
        idempotency_key: Optional[str] = None,
        extra_headers: Optional[Mapping[str, str]] = None,
        timeout: Timeout = None,
    ) -> models.Sar:
        """Draft → submitted for review."""
        return self._client._call(
            self._op(
                "POST",
                f"/v2/sars/{path_segment(sar_id)}/submit",
                cast=models.Sar,
                if_match=if_match,
                send_idempotency_key=True,
                idempotency_key=idempotency_key,
                extra_headers=extra_headers,
                timeout=timeout,
            )
        )


class Watchlist(_Resource):
    """``/v2/watchlist``: ``watchlist:read`` / ``watchlist:write``."""

    def list(
        self,
        *,
        page_size: Optional[int] = NOT_GIVEN,
        page: Optional[int] = NOT_GIVEN,
        extra_headers: Optional[Mapping[str, str]] = None,
        timeout: Timeout = None,
    ) -> SyncPage[models.WatchlistEntry]:
        return self._client._list(
            self._op("GET", "/v2/watchlist", params=_list_params({}, page, page_size), page_item=models.WatchlistEntry, extra_headers=extra_headers, timeout=timeout)
        )

    def create(
        self,
        *,
        name: str,
        entry_type: str,
        list_source: str,
        aliases: Optional[Sequence[str]] = NOT_GIVEN,
        country: Optional[str] = NOT_GIVEN,
        date_of_birth: Union[None, str, "date"] = NOT_GIVEN,
        reason: Optional[str] = NOT_GIVEN,
        idempotency_key: Optional[str] = None,
        extra_headers: Optional[Mapping[str, str]] = None,
        timeout: Timeout = None,
    ) -> models.WatchlistEntry:
        body = clean(
            {
                "name": name,
                "entry_type": entry_type,
                "list_source": list_source,
                "aliases": aliases,
                "country": country,
                "date_of_birth": date_of_birth,
                "reason": reason,
            }
        )
        return self._client._call(
            self._op("POST", "/v2/watchlist", json=body, cast=models.WatchlistEntry, send_idempotency_key=True, idempotency_key=idempotency_key, extra_headers=extra_headers, timeout=timeout)
        )

    def retrieve(self, entry_id: str, *, extra_headers: Optional[Mapping[str, str]] = None, timeout: Timeout = None) -> models.WatchlistEntry:
        return self._client._call(
            self._op("GET", f"/v2/watchlist/{path_segment(entry_id)}", cast=models.WatchlistEntry, extra_headers=extra_headers, timeout=timeout)
        )

    def update(
        self,
        entry_id: str,
        *,
        name: Optional[str] = NOT_GIVEN,
        entry_type: Optional[str] = NOT_GIVEN,
        list_source: Optional[str] = NOT_GIVEN,
        aliases: Optional[Sequence[str]] = NOT_GIVEN,
        country: Optional[str] = NOT_GIVEN,
        date_of_birth: Union[None, str, "date"] = NOT_GIVEN,
        reason: Optional[str] = NOT_GIVEN,
        if_match: Optional[str] = None,
        extra_headers: Optional[Mapping[str, str]] = None,
        timeout: Timeout = None,
    ) -> models.WatchlistEntry:
        body = clean(
            {
                "name": name,
                "entry_type": entry_type,
                "list_source": list_source,
                "aliases": aliases,
                "country": country,
                "date_of_birth": date_of_birth,
                "reason": reason,
            }
        )
        return self._client._call(
            self._op("PATCH", f"/v2/watchlist/{path_segment(entry_id)}", json=body, cast=models.WatchlistEntry, if_match=if_match, extra_headers=extra_headers, timeout=timeout)
        )

    def delete(
        self,
        entry_id: str,
        *,
        if_match: Optional[str] = None,
        idempotency_key: Optional[str] = None,
        extra_headers: Optional[Mapping[str, str]] = None,
        timeout: Timeout = None,
    ) -> None:
        """Remove an entry (answers ``None``). Carries an ``Idempotency-Key`` like a transition,
        so a retried delete whose answer was lost is answered as the first one was."""
        return self._client._call(
            self._op(
                "DELETE",
                f"/v2/watchlist/{path_segment(entry_id)}",
                cast=None,
                if_match=if_match,
                send_idempotency_key=True,
                idempotency_key=idempotency_key,
                extra_headers=extra_headers,
                timeout=timeout,
            )
        )

    def screen(
        self,
        *,
        name: str,
        country: Optional[str] = NOT_GIVEN,
        date_of_birth: Union[None, str, "date"] = NOT_GIVEN,
        extra_headers: Optional[Mapping[str, str]] = None,
        timeout: Timeout = None,
    ) -> models.ScreenResult:
        """Screen a name: ``.matches``, best first, each ``.entry`` and ``.score`` (0–1).
        A read: retried like a GET."""
        body = clean({"name": name, "country": country, "date_of_birth": date_of_birth})
        return self._client._call(
            self._op("POST", "/v2/watchlist/screen", json=body, cast=models.ScreenResult, safe=True, extra_headers=extra_headers, timeout=timeout)
        )


class Subjects(_Resource):
    """``/v2/subjects``: ``subjects:read`` / ``subjects:write``; profiles with ``risk_score`` and
    ``risk_level``."""

    def list(
        self,
        *,
        page_size: Optional[int] = NOT_GIVEN,
        page: Optional[int] = NOT_GIVEN,
        extra_headers: Optional[Mapping[str, str]] = None,
        timeout: Timeout = None,
    ) -> SyncPage[models.Subject]:
        return self._client._list(
            self._op("GET", "/v2/subjects", params=_list_params({}, page, page_size), page_item=models.Subject, extra_headers=extra_headers, timeout=timeout)
        )

    def create(
        self,
        *,
        subject_type: str,
        name: str,
        country: Optional[str] = NOT_GIVEN,
        date_of_birth: Union[None, str, "date"] = NOT_GIVEN,
        idempotency_key: Optional[str] = None,
        extra_headers: Optional[Mapping[str, str]] = None,
        timeout: Timeout = None,
    ) -> models.Subject:
        body = clean({"subject_type": subject_type, "name": name, "country": country, "date_of_birth": date_of_birth})
        return self._client._call(
            self._op("POST", "/v2/subjects", json=body, cast=models.Subject, send_idempotency_key=True, idempotency_key=idempotency_key, extra_headers=extra_headers, timeout=timeout)
        )

    def retrieve(self, subject_id: str, *, extra_headers: Optional[Mapping[str, str]] = None, timeout: Timeout = None) -> models.Subject:
        return self._client._call(
            self._op("GET", f"/v2/subjects/{path_segment(subject_id)}", cast=models.Subject, extra_headers=extra_headers, timeout=timeout)
        )

    def update(
        self,
        subject_id: str,
        *,
        subject_type: Optional[str] = NOT_GIVEN,
        name: Optional[str] = NOT_GIVEN,
        country: Optional[str] = NOT_GIVEN,
        date_of_birth: Union[None, str, "date"] = NOT_GIVEN,
        if_match: Optional[str] = None,
        extra_headers: Optional[Mapping[str, str]] = None,
        timeout: Timeout = None,
    ) -> models.Subject:
        body = clean({"subject_type": subject_type, "name": name, "country": country, "date_of_birth": date_of_birth})
        return self._client._call(
            self._op("PATCH", f"/v2/subjects/{path_segment(subject_id)}", json=body, cast=models.Subject, if_match=if_match, extra_headers=extra_headers, timeout=timeout)
        )


class Transactions(_Resource):
    """``/v2/transactions``: ``transactions:read`` (read-only: the API has no create)."""

    def list(
        self,
        *,
        subject_id: Optional[str] = NOT_GIVEN,
        from_: Union[None, str, "datetime"] = NOT_GIVEN,
        to: Union[None, str, "datetime"] = NOT_GIVEN,
        page_size: Optional[int] = NOT_GIVEN,
        page: Optional[int] = NOT_GIVEN,
        extra_headers: Optional[Mapping[str, str]] = None,
        timeout: Timeout = None,
    ) -> SyncPage[models.Transaction]:
        """Transactions, newest first; ``from_`` is the query's ``from`` (a Python keyword)."""
        params = _list_params({"subject_id": subject_id, "from": from_, "to": to}, page, page_size)
        return self._client._list(
            self._op("GET", "/v2/transactions", params=params, page_item=models.Transaction, extra_headers=extra_headers, timeout=timeout)
        )


class Alerts(_Resource):
    """``/v2/alerts``: ``alerts:read`` (read-only)."""

    def list(
        self,
        *,
        status: Optional[str] = NOT_GIVEN,
        severity: Optional[str] = NOT_GIVEN,
        subject_id: Optional[str] = NOT_GIVEN,
        page_size: Optional[int] = NOT_GIVEN,
        page: Optional[int] = NOT_GIVEN,
        extra_headers: Optional[Mapping[str, str]] = None,
        timeout: Timeout = None,
    ) -> SyncPage[models.Alert]:
        params = _list_params({"status": status, "severity": severity, "subject_id": subject_id}, page, page_size)
        return self._client._list(
            self._op("GET", "/v2/alerts", params=params, page_item=models.Alert, extra_headers=extra_headers, timeout=timeout)
        )


class ApiKeys(_Resource):
    """``/v2/api_keys``: the API key the client calls with."""

    def validate(self, *, extra_headers: Optional[Mapping[str, str]] = None, timeout: Timeout = None) -> models.ApiKeyValidation:
        """``{"valid": true, "api_key": {...}}`` (API keys only; a token gets ``BadRequestError``)."""
        return self._client._call(
            self._op("POST", "/v2/api_keys/validate", cast=models.ApiKeyValidation, safe=True, extra_headers=extra_headers, timeout=timeout)
        )


class WebhookEndpoints(_Resource):
    """``/v2/webhook-endpoints``: ``webhooks:read`` / ``webhooks:write`` (contract §8). The
    ``secret`` (``whsec_…``) is in the answers of ``create`` and ``rotate_secret`` only; verify
    deliveries with ``caseforge.webhooks.verify``."""

    def list(
        self,
        *,
        page_size: Optional[int] = NOT_GIVEN,
        page: Optional[int] = NOT_GIVEN,
        extra_headers: Optional[Mapping[str, str]] = None,
        timeout: Timeout = None,
    ) -> SyncPage[models.WebhookEndpoint]:
        return self._client._list(
            self._op("GET", "/v2/webhook-endpoints", params=_list_params({}, page, page_size), page_item=models.WebhookEndpoint, extra_headers=extra_headers, timeout=timeout)
        )

    def create(
        self,
        *,
        url: str,
        events: Sequence[str],
        description: Optional[str] = NOT_GIVEN,
        idempotency_key: Optional[str] = None,
        extra_headers: Optional[Mapping[str, str]] = None,
        timeout: Timeout = None,
    ) -> models.WebhookEndpointWithSecret:
        """Register an endpoint; the answer's ``.secret`` is shown this once. The server does not
        replay this call (its answer holds a secret), so no ``Idempotency-Key`` is sent and it is
        not retried: a retry whose first answer was lost would make a second endpoint."""
        body = clean({"url": url, "events": list(events), "description": description})
        return self._client._call(
            self._op("POST", "/v2/webhook-endpoints", json=body, cast=models.WebhookEndpointWithSecret, idempotency_key=idempotency_key, extra_headers=extra_headers, timeout=timeout)
        )

    def retrieve(self, endpoint_id: str, *, extra_headers: Optional[Mapping[str, str]] = None, timeout: Timeout = None) -> models.WebhookEndpoint:
        return self._client._call(
            self._op("GET", f"/v2/webhook-endpoints/{path_segment(endpoint_id)}", cast=models.WebhookEndpoint, extra_headers=extra_headers, timeout=timeout)
        )

    def update(
        self,
        endpoint_id: str,
        *,
        url: Optional[str] = NOT_GIVEN,
        events: Optional[Sequence[str]] = NOT_GIVEN,
        description: Optional[str] = NOT_GIVEN,
        enabled: Optional[bool] = NOT_GIVEN,
        if_match: Optional[str] = None,
        extra_headers: Optional[Mapping[str, str]] = None,
        timeout: Timeout = None,
    ) -> models.WebhookEndpoint:
        """Change the URL, events or description; ``enabled=True`` re-enables an endpoint."""
        body = clean({"url": url, "events": list(events) if events else events, "description": description, "enabled": enabled})
        return self._client._call(
            self._op("PATCH", f"/v2/webhook-endpoints/{path_segment(endpoint_id)}", json=body, cast=models.WebhookEndpoint, if_match=if_match, extra_headers=extra_headers, timeout=timeout)
        )

    def delete(
        self,
        endpoint_id: str,
        *,
        if_match: Optional[str] = None,
        idempotency_key: Optional[str] = None,
        extra_headers: Optional[Mapping[str, str]] = None,
        timeout: Timeout = None,
    ) -> None:
        return self._client._call(
            self._op(
                "DELETE",
                f"/v2/webhook-endpoints/{path_segment(endpoint_id)}",
                cast=None,
                if_match=if_match,
                send_idempotency_key=True,
                idempotency_key=idempotency_key,
                extra_headers=extra_headers,
                timeout=timeout,
            )
        )

    def rotate_secret(
        self,
        endpoint_id: str,
        *,
        grace_period_seconds: Optional[int] = NOT_GIVEN,
        idempotency_key: Optional[str] = None,
        extra_headers: Optional[Mapping[str, str]] = None,
        timeout: Timeout = None,
    ) -> models.WebhookEndpointWithSecret:
        """A new secret (in the answer's ``.secret``); the previous one keeps signing beside it
        for ``grace_period_seconds`` (server default 86400; 0 ends it at once). Not replayed by the
        server, so not retried (like ``create``)."""
        return self._client._call(
            self._op(
                "POST",
                f"/v2/webhook-endpoints/{path_segment(endpoint_id)}/rotate-secret",
                json=clean({"grace_period_seconds": grace_period_seconds}),
                cast=models.WebhookEndpointWithSecret,
                idempotency_key=idempotency_key,
                extra_headers=extra_headers,
                timeout=timeout,
            )
        )

    def deliveries(
        self,
        endpoint_id: str,
        *,
        page_size: Optional[int] = NOT_GIVEN,
        page: Optional[int] = NOT_GIVEN,
        extra_headers: Optional[Mapping[str, str]] = None,
        timeout: Timeout = None,
    ) -> SyncPage[models.WebhookDelivery]:
        """The endpoint's deliveries, newest first (a page; iterate to walk all)."""
        return self._client._list(
            self._op(
                "GET",
                f"/v2/webhook-endpoints/{path_segment(endpoint_id)}/deliveries",
                params=_list_params({}, page, page_size),
                page_item=models.WebhookDelivery,
                extra_headers=extra_headers,
                timeout=timeout,
            )
        )

    def retry_delivery(
        self,
        endpoint_id: str,
        delivery_id: str,
        *,
        idempotency_key: Optional[str] = None,
        extra_headers: Optional[Mapping[str, str]] = None,
        timeout: Timeout = None,
    ) -> models.WebhookDelivery:
        """Make a delivery due now (answered 202 with the delivery)."""
        return self._client._call(
            self._op(
                "POST",
                f"/v2/webhook-endpoints/{path_segment(endpoint_id)}/deliveries/{path_segment(delivery_id)}/retry",
                cast=models.WebhookDelivery,
                send_idempotency_key=True,
                idempotency_key=idempotency_key,
                extra_headers=extra_headers,
                timeout=timeout,
            )
        )


def _decimal(value: Any) -> Any:
    """Amounts travel as decimal strings; a ``Decimal`` (or int) is turned into one, a float is
    refused (it cannot carry cents exactly)."""
    if value is NOT_GIVEN or value is None or isinstance(value, str):
        return value
    if isinstance(value, float):
        raise TypeError("amount must be a decimal string such as '125000.50' (or a Decimal), not a float")
    return str(value)


class Resources:
    """The resource attributes both clients (and their ``with_raw_response`` views) carry."""

    cases: Cases
    sars: Sars
    watchlist: Watchlist
    subjects: Subjects
    transactions: Transactions
    alerts: Alerts
    api_keys: ApiKeys
    webhook_endpoints: WebhookEndpoints

    def _init_resources(self, owner: Any) -> None:
        self.cases = Cases(owner)
        self.sars = Sars(owner)
        self.watchlist = Watchlist(owner)
        self.subjects = Subjects(owner)
        self.transactions = Transactions(owner)
        self.alerts = Alerts(owner)
        self.api_keys = ApiKeys(owner)
        self.webhook_endpoints = WebhookEndpoints(owner)

    def me(self, *, extra_headers: Optional[Mapping[str, str]] = None, timeout: Timeout = None) -> models.Me:
        """Who is calling: ``principal_type``, ``id``, ``environment``, ``scopes``, ``tier``."""
        return self._call(Op("GET", "/v2/me", cast=models.Me, extra_headers=extra_headers, timeout=timeout))  # type: ignore[attr-defined]
