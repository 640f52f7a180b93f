"""Demo data of the FHIR interface: three synthetic patients' records (Synthea bundles,
Apache-2.0, no PHI) imported through ``fhir_import``, as the demo's pharmacist-in-charge.

The bundles live beside the checkout (``../shared/data/synthea-fhir-apache2/``), not in the
package; without them the demo simply has no imported records."""

from __future__ import annotations

from pathlib import Path

from rxdesk.core.models import Site, User
from rxdesk.fhir.importer import fhir_import
from rxdesk.fhir.models import ImportRun, RunStatus

SYNTHEA = Path(__file__).resolve().parents[4] / "shared" / "data" / "synthea-fhir-apache2"


def load(site: Site, users: dict[str, User], folder: Path = SYNTHEA) -> ImportRun | None:
    """Import the Synthea bundles once; None when they are absent or already imported."""
    pic = users.get("pic")
    bundles = sorted(folder.glob("*.json")) if folder.is_dir() else []
    if pic is None or not bundles:
        return None
    if ImportRun.objects.filter(site=site, path=str(folder), status=RunStatus.DONE).exists():
        return None
    return fhir_import(actor=pic, path=folder)
