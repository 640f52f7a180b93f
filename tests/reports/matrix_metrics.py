"""Permission-matrix rows for metrics (API_ROWS in the shape of
tests/test_permission_matrix.py's API_MATRIX; UI_ROWS and WATCHED in the shape of
tests/test_permission_matrix_ui.py's UI_MATRIX). Written by hand from the specification:
the metrics (no patient named, no person ranked) are read with metrics.view — pharmacists,
the PIC and the auditor; nobody writes anything through them."""

from __future__ import annotations

from typing import Any

from rxdesk.core.choices import Role
from rxdesk.core.models import Site

T, TT, RPH, PIC, INV, AUD = (
    Role.TECHNICIAN,
    Role.TECHNICIAN_IN_TRAINING,
    Role.PHARMACIST,
    Role.PHARMACIST_IN_CHARGE,
    Role.INVENTORY_SPECIALIST,
    Role.AUDITOR,
)
NOBODY: frozenset[Role] = frozenset()
VIEWERS = frozenset({RPH, PIC, AUD})

P = "/api/v1/metrics"


def _none(site: Site) -> dict[str, Any]:
    return {}


def _get(path: str) -> Any:
    return lambda s, u: (f"{P}{path}", None)


API_ROWS: dict[tuple[str, str], Any] = {
    ("GET", "/metrics/errors"): (VIEWERS, 200, _get("/errors")),
    ("GET", "/metrics/alerts"): (VIEWERS, 200, _get("/alerts")),
    ("GET", "/metrics/queues"): (VIEWERS, 200, _get("/queues")),
    ("GET", "/metrics/volume"): (VIEWERS, 200, _get("/volume")),
    ("GET", "/metrics/steps"): (VIEWERS, 200, _get("/steps")),
    ("GET", "/metrics/inventory/turns"): (VIEWERS, 200, _get("/inventory/turns")),
    ("GET", "/metrics/inventory/dead-stock"): (VIEWERS, 200, _get("/inventory/dead-stock")),
    ("GET", "/metrics/claims/rejects"): (VIEWERS, 200, _get("/claims/rejects")),
    ("GET", "/metrics/charts/{chart}/svg"): (VIEWERS, 200, _get("/charts/errors/svg")),
    ("GET", "/metrics/charts/{chart}/png"): (VIEWERS, 200, _get("/charts/steps/png")),
}
UI_ROWS: dict[str, Any] = {
    "metrics_home": (_none, VIEWERS, NOBODY, None),
    "metrics_chart": (lambda s: {"chart": "queues", "fmt": "svg"}, VIEWERS, NOBODY, None),
    "metrics_csv": (lambda s: {"metric": "errors"}, VIEWERS, NOBODY, None),
}
WATCHED: list[Any] = []
