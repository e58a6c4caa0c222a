"""The base class of every generated model (``_models.py``)."""

from __future__ import annotations

from typing import Any, Optional

import pydantic


class BaseModel(pydantic.BaseModel):
    """A record of the API: attribute access, ``to_dict()``, and ``.etag`` when the response
    that carried it had an ``ETag`` (single-record answers do; list items do not).

    Fields the server adds after this SDK was generated are kept (``extra="allow"``) and
    readable as attributes, so a newer server never breaks an older client.
    """

    model_config = pydantic.ConfigDict(extra="allow", populate_by_name=True)

    _etag: Optional[str] = pydantic.PrivateAttr(default=None)

    @property
    def etag(self) -> Optional[str]:
        """The ``ETag`` of the answer this record came in: pass it as ``if_match=``."""
        return self._etag

    def to_dict(self) -> dict[str, Any]:
        """The record as JSON-ready data (the names the API uses)."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=False)
