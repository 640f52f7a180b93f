"""API of reporting to the state registry (IIS): VXU messages, MLLP sending, ACKs, retries,
deadlines, batch files; the site's registry settings."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["immunizations: registry"])
