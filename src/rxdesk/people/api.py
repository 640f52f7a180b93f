"""People and training: the API (``/people``)."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["People and training"])
