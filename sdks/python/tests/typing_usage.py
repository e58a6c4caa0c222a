"""Checked by mypy --strict in test_types.py (never run): what users' type checkers see."""

from __future__ import annotations

import caseforge
from caseforge import models


def sync_use(client: caseforge.Client) -> list[str]:
    case: models.Case = client.cases.create(title="x", priority="high")
    case = client.cases.update(case.id, title="y", if_match=case.etag)
    page: caseforge.SyncPage[models.Case] = client.cases.list(status="open")
    refs = [c.reference for c in page]
    hits: models.ScreenResult = client.watchlist.screen(name="n")
    refs += [m.entry.name for m in hits.matches]
    me: models.Me = client.me()
    refs.append(me.principal_type)
    client.watchlist.delete("w")
    return refs


async def async_use(client: caseforge.AsyncClient) -> list[str]:
    case: models.Case = await client.cases.create(title="x")
    first: caseforge.AsyncPage[models.Case] = await client.cases.list()
    refs = [c.reference for c in first.data]
    async for c in client.cases.list(status="open"):
        refs.append(c.reference)
    events: caseforge.AsyncPage[models.CaseEvent] = await client.cases.history(case.id)
    refs += [e.action for e in events.data]
    sar: models.Sar = await client.sars.submit("sar_1", if_match=case.etag)
    refs.append(sar.status)
    return refs
