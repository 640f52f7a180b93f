"""API of The vaccine catalog (CVX, MVX, NDC crosswalk, VIS) and vaccine stock by funding source."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["immunizations: catalog and stock"])
