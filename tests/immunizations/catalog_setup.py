"""Set-up for the catalog, stock and outreach tests of immunizations: a small CDC directory
cut from the real files (../shared/data/cdc-cvx/), and patients with their doses."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterable
from pathlib import Path

from rxdesk.core.models import Site, User
from rxdesk.immunizations.choices import InformationSource
from rxdesk.immunizations.models import Immunization, Vaccine
from rxdesk.patients.models import Patient
from tests.factories import PatientFactory
from tests.immunizations.factories import vaccine

CDC = Path(__file__).resolve().parents[3] / "shared" / "data" / "cdc-cvx"
XML_FILES = ("cvx.xml", "mvx.xml", "vac2vg.xml", "vis.xml", "cvxvis.xml", "visurl.xml")

# Comirnaty 2025-2026: a carton of 10 pre-filled syringes (sale) and its syringe (use),
# joined by NDC_Linker.txt; Pneumovax 23: a bare "CARTON" (size not in the file) and its
# syringe; Engerix-B: listed under two CVX codes (43 and 44).
COVID_SALE, COVID_USE = "00069-2528-10", "00069-2528-01"
PPSV_SALE, PPSV_USE = "00006-4837-03", "00006-4837-01"
HEPB_SALE = "58160-0821-52"
SALE_NDCS = (COVID_SALE, PPSV_SALE, HEPB_SALE)
USE_NDCS = (COVID_USE, PPSV_USE)


def _lines(name: str, ndcs: Iterable[str]) -> list[str]:
    wanted = set(ndcs)
    text = (CDC / name).read_bytes().decode("latin-1")
    return [line for line in text.splitlines() if line.split("|")[14].strip() in wanted]


def mini_cdc(
    folder: Path, *, sale: Iterable[str] = SALE_NDCS, use: Iterable[str] = USE_NDCS
) -> Path:
    """A CDC directory with the real XML files and only the chosen NDC rows (and the links
    between them)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in XML_FILES:
        shutil.copy(CDC / name, folder / name)
    sale_lines = _lines("NDC_Unit_sale.txt", sale)
    use_lines = _lines("NDC_Unit_use.txt", use)
    sale_ids = {line.split("|")[0] for line in sale_lines}
    use_ids = {line.split("|")[0] for line in use_lines}
    links = [
        line
        for line in (CDC / "NDC_Linker.txt").read_text().splitlines()
        if line.split("|")[1] in sale_ids and line.split("|")[2] in use_ids
    ]
    (folder / "NDC_Unit_sale.txt").write_bytes("\r\n".join(sale_lines).encode("latin-1"))
    (folder / "NDC_Unit_use.txt").write_bytes("\r\n".join(use_lines).encode("latin-1"))
    (folder / "NDC_Linker.txt").write_text("\r\n".join(links))
    return folder


def person(
    site: Site, born: dt.date, first: str = "Ana", last: str = "Lima", **extra: object
) -> Patient:
    return PatientFactory(site=site, first_name=first, last_name=last, date_of_birth=born, **extra)


def dose(
    patient: Patient, cvx: str, on: dt.date, *, by: User, groups: list[str] | None = None
) -> Immunization:
    """A historical dose (from another provider) written directly, as set-up."""
    v: Vaccine = vaccine(cvx)
    if groups is not None and v.groups != groups:
        v.groups = groups
        v.save(update_fields=["groups"])
    return Immunization.objects.create(
        site=patient.site,
        patient=patient,
        vaccine=v,
        information_source=InformationSource.OTHER_PROVIDER,
        administered_at=dt.datetime.combine(on, dt.time(12), tzinfo=dt.UTC),
        recorded_by=by,
    )
