"""API of Patients due for vaccines by age and history."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["immunizations: outreach"])
