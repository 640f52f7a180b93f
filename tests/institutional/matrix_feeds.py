"""Permission-matrix rows for institutional pharmacy: feeds (API_ROWS in the shape of
tests/test_permission_matrix.py's API_MATRIX; UI_ROWS and WATCHED in the shape of
tests/test_permission_matrix_ui.py's UI_MATRIX). Written by hand from the specification:

* sending cabinet activity (a transaction file, an HL7 message, an administrations file)
  is adc.import: technician, pharmacist, PIC — never the inventory specialist (the files
  name patients), the auditor or a trainee;
* reading the feeds is adc.view: technician, pharmacist, PIC, inventory specialist, auditor.

Also the set-up the feed tests share: cabinet 3W-1 with pocket 1-A (Prozac 20 mg,
0002-3227-30) holding 10 of lot L1, a patient known by MRN "MRN100", and builders of a
transaction file and of a DFT^P03 message."""

from __future__ import annotations

import itertools
from typing import Any

from rxdesk.core.choices import Role
from rxdesk.core.models import Site, User
from rxdesk.institutional import services_feeds as services
from rxdesk.institutional.models import (
    Administration,
    Cabinet,
    CabinetDiscrepancy,
    CabinetFeed,
    CabinetMove,
    Pocket,
)
from rxdesk.patients.models import Patient, PatientIdentifier
from tests.factories import PatientFactory
from tests.institutional.factories import cabinet, pocket, pocket_stock, staff

T, TT, RPH, PIC, INV, AUD, ADM = (
    Role.TECHNICIAN,
    Role.TECHNICIAN_IN_TRAINING,
    Role.PHARMACIST,
    Role.PHARMACIST_IN_CHARGE,
    Role.INVENTORY_SPECIALIST,
    Role.AUDITOR,
    Role.ADMIN,
)
VIEWERS = frozenset({T, RPH, PIC, INV, AUD})
IMPORTERS = frozenset({T, RPH, PIC})
NOBODY: frozenset[Role] = frozenset()

P = "/api/v1/institutional"
NDC = "0002-3227-30"
NDC11 = "00002322730"
MRN = "MRN100"
HEADER = (
    "Transaction ID,Date Time,Station,Drawer,Pocket,NDC,Transaction Type,Quantity,Counted,"
    "Expected,User ID,User Name,Witness,Patient ID,Patient Name,Override,Note"
)
COLUMNS = [c.strip() for c in HEADER.split(",")]
_ids = itertools.count(1)


# --- set-up helpers ---------------------------------------------------------------------------


def tech_of(site: Site) -> User:
    found = User.objects.filter(username=f"feed-tech-{site.pk}").first()
    return found or staff(site, T, username=f"feed-tech-{site.pk}")


def patient_of(site: Site) -> Patient:
    found = PatientIdentifier.objects.filter(kind="mrn", value=MRN, patient__site=site).first()
    if found is not None:
        return found.patient
    person = PatientFactory(site=site)
    PatientIdentifier.objects.create(patient=person, kind="mrn", value=MRN)
    return person


def ward(site: Site, *, stocked: int = 10, controlled: bool = False) -> Pocket:
    """Cabinet 3W-1, pocket 1-A holding ``stocked`` of lot L1, and the MRN100 patient."""
    box: Cabinet = cabinet(site)
    found = Pocket.objects.filter(cabinet=box, drawer="1", pocket="A").first()
    if found is None:
        found = pocket(box, drawer="1", place="A", par="20", minimum="3", controlled=controlled)
        if stocked:
            pocket_stock(found, "L1", stocked)
    patient_of(site)
    return found


def csv_text(*rows: dict[str, Any], header: str = HEADER) -> str:
    """A transaction file: the header and a line per row (missing columns empty)."""
    names = [c.strip() for c in header.split(",")]
    lines = [header]
    for row in rows:
        lines.append(",".join(str(row.get(n, "")) for n in names))
    return "\n".join(lines) + "\n"


def removal(**over: Any) -> dict[str, Any]:
    row = {
        "Transaction ID": f"TX-{next(_ids)}",
        "Station": "3W-1",
        "Drawer": "1",
        "Pocket": "A",
        "NDC": NDC,
        "Transaction Type": "Removal",
        "Quantity": "2",
        "User ID": "NURSE1",
        "User Name": "Anne Smith",
        "Patient ID": MRN,
        "Override": "N",
    }
    row.update(over)
    return row


def hl7_message(
    *ft1s: str, control: str | None = None, pid: str = f"PID|1||{MRN}^^^HOSP^MR||DOE^JANE"
) -> str:
    """A DFT^P03 with the given FT1 (and ZCA) segments."""
    control = control or f"MSG{next(_ids):05d}"
    head = [
        f"MSH|^~\\&|PYXIS|3WEST|RXDESK|PHARMACY|20250315141502||DFT^P03|{control}|P|2.5",
        "EVN|P03|20250315141502",
    ]
    if pid:
        head += [pid, "PV1|1|I|3W^301^A"]
    return "\r".join([*head, *ft1s])


def ft1(
    n: int = 1,
    *,
    tx: str | None = None,
    when: str = "",
    code: str = "CG",
    item: str = f"{NDC11}^PROZAC 20MG CAP^NDC",
    qty: str = "2",
    where: str = "3W-1^1^A",
    user: str = "NURSE1^SMITH^ANNE",
) -> str:
    tx = tx or f"TX-{next(_ids)}"
    fields = [""] * 21
    fields[0] = "FT1"
    fields[1] = str(n)
    fields[2] = tx
    fields[4] = when
    fields[6] = code
    fields[7] = item
    fields[10] = qty
    fields[16] = where
    fields[20] = user
    return "|".join(fields)


def now_stamp(site: Site) -> str:
    from django.utils import timezone

    return timezone.localtime(timezone.now(), site.tz).strftime("%Y%m%d%H%M")


def now_text(site: Site) -> str:
    from django.utils import timezone

    return timezone.localtime(timezone.now(), site.tz).strftime("%m/%d/%Y %H:%M")


def received(site: Site) -> CabinetFeed:
    """A transaction file received by the site's technician (one removal)."""
    ward(site)
    text = csv_text(removal(**{"Date Time": now_text(site)}))
    return services.feed_receive_csv(actor=tech_of(site), name="pyxis.csv", data=text.encode()).feed


# --- API rows ---------------------------------------------------------------------------------


def _csv(site: Site, user: User | None) -> tuple[str, dict[str, Any]]:
    ward(site)
    text = csv_text(removal(**{"Date Time": now_text(site)}))
    return f"{P}/cabinet-feeds/csv", {"name": "pyxis.csv", "content": text}


def _hl7(site: Site, user: User | None) -> tuple[str, dict[str, Any]]:
    ward(site)
    return f"{P}/cabinet-feeds/hl7", {"message": hl7_message(ft1(when=now_stamp(site)))}


def _administrations(site: Site, user: User | None) -> tuple[str, dict[str, Any]]:
    patient_of(site)
    ward(site)
    text = (
        "Administration ID,Given At,NDC,Quantity,Nurse ID,MRN\n"
        f"ADM-{next(_ids)},{now_text(site)},{NDC},1,NURSE1,{MRN}\n"
    )
    return f"{P}/administrations/csv", {"name": "emar.csv", "content": text}


API_ROWS: dict[tuple[str, str], Any] = {
    ("POST", "/institutional/cabinet-feeds/csv"): (IMPORTERS, 201, _csv),
    ("POST", "/institutional/cabinet-feeds/hl7"): (IMPORTERS, 201, _hl7),
    ("GET", "/institutional/cabinet-feeds"): (
        VIEWERS,
        200,
        lambda s, u: (f"{P}/cabinet-feeds", None),
    ),
    ("GET", "/institutional/cabinet-feeds/{feed_id}"): (
        VIEWERS,
        200,
        lambda s, u: (f"{P}/cabinet-feeds/{received(s).pk}", None),
    ),
    ("POST", "/institutional/administrations/csv"): (IMPORTERS, 201, _administrations),
}


# --- UI rows ----------------------------------------------------------------------------------


def _none(site: Site) -> dict[str, Any]:
    return {}


def _feed(site: Site) -> dict[str, Any]:
    return {"pk": received(site).pk}


# name: (kwargs, GET roles, POST roles, POST status for an allowed role with an empty form)
UI_ROWS: dict[str, Any] = {
    "adc_feeds": (_none, VIEWERS, NOBODY, None),
    "adc_feed": (_feed, VIEWERS, NOBODY, None),
    "adc_feed_upload": (_none, None, IMPORTERS, 422),
}
WATCHED: list[Any] = [CabinetFeed, CabinetMove, CabinetDiscrepancy, Administration]
