r"""The HL7 v2.5.1 VXU^V04 of one immunization, built to the CDC Implementation Guide for
Immunization Messaging (Release 1.5, 2018 update; ../shared/reference/
messages-ncpdp-hl7-fhir.md §3). Pure: reads the rows it is given, writes nothing.

Segments (joined by CR, no trailing empty fields or components)::

    MSH  sending application/facility (the facility id the registry assigned, else the
         pharmacy's NCPDP id), receiving application/facility, time in the pharmacy's
         zone, VXU^V04^VXU_V04, control id, processing id, 2.5.1, ER/AL, Z22^CDCPHINVS
    PID  the patient's id in rxdesk as MR with the facility as assigning authority, legal
         name, date of birth, sex, address, home and mobile phones (race and ethnicity
         are not recorded by rxdesk: left empty)
    PD1  registry status (A active, P deceased) — the only PD1 item rxdesk knows
    NK1  for a minor (under 18 on the day of the dose) when a parent or guardian consented
    ORC  RE; ORC-3 the filler order number ``<facility>-IMM-<id>`` (stable per dose: the
         registry updates and deletes by it); ORC-10 who entered it; ORC-12 the ordering
         prescriber (NPI) when known
    RXA  per §3.6; administering provider by local id (rxdesk keeps no NPI for its staff)
    RXR  route (NCIT dual-coded with HL70162) and body site (HL70163): doses given here
    OBX  VFC eligibility (VXC40), funding source, each VIS given (barcode 69764-9 and the
         date presented 29769-7, one sub-id per VIS): doses given here only

A historical dose is RXA-9 01–08 with RXA-6 ``999`` and no RXR/OBX; a refused or not
administered dose is RXA-6 ``999`` with RXA-18/RXA-20 and no RXR/OBX.

Every text value goes through :func:`escape`: ``|^~\&`` become ``\F\ \S\ \R\ \T\``
(``\E\`` for the backslash), line ends and control characters become spaces."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from rxdesk.immunizations.choices import (
    FUNDING_HL7,
    ROUTE_HL70162,
    BodySite,
    Completion,
    Eligibility,
    InformationSource,
    RefusalReason,
    Route,
)

VERSION = "2.5.1"
PROFILE = "Z22^CDCPHINVS"
NPI_AUTHORITY = "NPI&2.16.840.1.113883.4.6&ISO"
MINOR_YEARS = 18
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_ESCAPES = {"F": "|", "S": "^", "T": "&", "R": "~", "E": "\\", ".br": "\n"}
_ESCAPE = re.compile(r"\\([^\\]*)\\")


# --- Text ------------------------------------------------------------------------------------


def escape(value: object) -> str:
    """A value made safe inside one HL7 component (escape on write)."""
    text = _CONTROL.sub(" ", str(value if value is not None else ""))
    return (
        text.replace("\\", "\\E\\")
        .replace("|", "\\F\\")
        .replace("^", "\\S\\")
        .replace("&", "\\T\\")
        .replace("~", "\\R\\")
    )


def unescape(value: str) -> str:
    """One component's text with its escape sequences decoded (unknown ones dropped, a
    hex escape ``\\Xhh..\\`` decoded as UTF-8 where it can be)."""
    if "\\" not in value:
        return value

    def one(match: re.Match[str]) -> str:
        code = match.group(1)
        if code in _ESCAPES:
            return _ESCAPES[code]
        if code.startswith("X") and re.fullmatch(r"(?:[0-9A-Fa-f]{2})+", code[1:]):
            return bytes.fromhex(code[1:]).decode("utf-8", errors="replace")
        return ""

    return _ESCAPE.sub(one, value)


def _comp(*parts: object) -> str:
    """Components joined by ``^`` (each escaped), trailing empty ones dropped."""
    values = [escape(p) if p not in (None, "") else "" for p in parts]
    while values and values[-1] == "":
        values.pop()
    return "^".join(values)


def _raw(*parts: str) -> str:
    """Components already encoded (sub-components, escapes), trailing empties dropped."""
    values = list(parts)
    while values and values[-1] == "":
        values.pop()
    return "^".join(values)


def segment(name: str, fields: dict[int, str]) -> str:
    """``NAME|f1|f2…`` with field n at position n, trailing empty fields dropped."""
    top = max((n for n, v in fields.items() if v), default=0)
    return "|".join([name, *(fields.get(n, "") for n in range(1, top + 1))])


def hl7_date(day: dt.date | None) -> str:
    return f"{day:%Y%m%d}" if day else ""


def hl7_time(moment: dt.datetime, tz: dt.tzinfo) -> str:
    local = moment.astimezone(tz)
    return local.strftime("%Y%m%d%H%M%S%z")


def decimal_text(value: Decimal) -> str:
    text = f"{value.normalize():f}"
    return text if "." not in text else text.rstrip("0").rstrip(".")


def ndc_dashed(ndc11: str) -> str:
    """An 11-digit NDC as 5-4-2 (the form the CDC guide asks for in RXA-5)."""
    digits = re.sub(r"\D", "", ndc11)
    if len(digits) != 11:
        return ndc11
    return f"{digits[:5]}-{digits[5:9]}-{digits[9:]}"


def split_name(full: str) -> tuple[str, str]:
    """(family, given) of a name typed as ``Given Family`` or ``Family, Given``."""
    full = " ".join(full.split())
    if "," in full:
        family, _, given = full.partition(",")
        return family.strip(), given.strip()
    if " " in full:
        given, _, family = full.rpartition(" ")
        return family, given
    return full, ""


# --- What the builder reads ------------------------------------------------------------------


@dataclass(frozen=True)
class Header:
    """MSH values of the site (from ImmunizationSettings and the site)."""

    sending_application: str
    sending_facility: str
    receiving_application: str
    receiving_facility: str
    processing_id: str
    tz: dt.tzinfo


def facility_id(settings: Any, site: Any) -> str:
    """The facility id sent in MSH-4, RXA-11 and as assigning authority: the one the
    registry assigned, else the pharmacy's NCPDP id, else rxdesk's site id."""
    return (
        settings.sending_facility or getattr(site, "ncpdp_id", "") or f"RXDESK{site.pk}"
    ).strip()


def header_of(settings: Any, site: Any) -> Header:
    return Header(
        sending_application=settings.sending_application or "RXDESK",
        sending_facility=facility_id(settings, site),
        receiving_application=settings.receiving_application,
        receiving_facility=settings.receiving_facility,
        processing_id=settings.processing_id or "P",
        tz=site.tz,
    )


def filler_order_number(immunization: Any, facility: str) -> str:
    """ORC-3: unique and stable per dose (the registry updates and deletes by it)."""
    return f"{facility}-IMM-{immunization.pk}"


def _age_years(born: dt.date, on: dt.date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


# --- Segments --------------------------------------------------------------------------------


def msh(head: Header, *, control_id: str, now: dt.datetime, kind: str = "VXU^V04^VXU_V04") -> str:
    fields = {
        3: _comp(head.sending_application),
        4: _comp(head.sending_facility),
        5: _comp(head.receiving_application),
        6: _comp(head.receiving_facility),
        7: hl7_time(now, head.tz),
        9: kind,
        10: escape(control_id),
        11: escape(head.processing_id),
        12: VERSION,
        15: "ER",
        16: "AL",
        21: PROFILE if kind.startswith("VXU") else "",
    }
    # MSH-1 is the field separator itself and MSH-2 the encoding characters.
    return "MSH|^~\\&|" + segment("", fields).split("|", 3)[3]


def _phone(kind: str, equipment: str, number: str) -> str:
    digits = re.sub(r"\D", "", number or "")
    if len(digits) != 10:
        return ""
    return _raw("", kind, equipment, "", "", digits[:3], digits[3:])


def pid(patient: Any, facility: str) -> str:
    address = ""
    if any(
        getattr(patient, f, "")
        for f in ("address_line1", "address_line2", "city", "state", "postal_code")
    ):
        address = _comp(
            patient.address_line1,
            patient.address_line2,
            patient.city,
            patient.state,
            patient.postal_code,
            "USA",
            "L",
        )
    phones = [
        p
        for p in (
            _phone("PRN", "PH", patient.phone_home),
            _phone("ORN", "CP", patient.phone_mobile),
        )
        if p
    ]
    sex = patient.sex if patient.sex in {"F", "M"} else "U"
    return segment(
        "PID",
        {
            1: "1",
            3: _comp(patient.pk, "", "", facility, "MR"),
            5: _comp(
                patient.last_name,
                patient.first_name,
                patient.middle_name,
                patient.suffix,
                "",
                "",
                "L",
            ),
            7: hl7_date(patient.date_of_birth),
            8: sex,
            11: address,
            13: "~".join(phones),
        },
    )


def pd1(patient: Any, on: dt.date) -> str:
    status = getattr(patient, "status", "")
    code = {"active": "A", "deceased": "P", "inactive": "I"}.get(str(status), "")
    if not code:
        return ""
    return segment("PD1", {16: code, 17: hl7_date(on)})


def nk1(immunization: Any) -> str:
    """The parent or guardian who consented for a minor (empty otherwise)."""
    patient = immunization.patient
    born = patient.date_of_birth
    on = immunization.administered_at.date()
    relationship = immunization.consent_by
    if not born or _age_years(born, on) >= MINOR_YEARS:
        return ""
    if not relationship or relationship == "SEL" or not immunization.consent_name.strip():
        return ""
    family, given = split_name(immunization.consent_name)
    label = immunization.get_consent_by_display()
    return segment(
        "NK1",
        {
            1: "1",
            2: _comp(family, given, "", "", "", "", "L"),
            3: _comp(relationship, label, "HL70063"),
        },
    )


def _staff(user: Any, name: str, facility: str) -> str:
    """XCN of a member of staff by rxdesk's local id (no NPI is kept for staff)."""
    if user is None:
        if not name.strip():
            return ""
        family, given = split_name(name)
        return _comp("", family, given)
    family = user.last_name or user.username
    return _raw(
        escape(user.pk), escape(family), escape(user.first_name), "", "", "", "", "",
        escape(facility), "L", "", "", "EI",
    )  # fmt: skip


def _prescriber(prescriber: Any) -> str:
    if prescriber is None:
        return ""
    return _raw(
        escape(prescriber.npi), escape(prescriber.last_name), escape(prescriber.first_name),
        escape(prescriber.middle_name), "", "", "", "", NPI_AUTHORITY, "L", "", "", "NPI",
    )  # fmt: skip


def orc(immunization: Any, facility: str) -> str:
    return segment(
        "ORC",
        {
            1: "RE",
            3: _comp(filler_order_number(immunization, facility), facility),
            10: _staff(immunization.recorded_by, "", facility),
            12: _prescriber(immunization.ordering_prescriber),
        },
    )


def _given(immunization: Any) -> bool:
    return immunization.information_source == InformationSource.NEW and (
        immunization.completion in (Completion.COMPLETE, Completion.PARTIAL)
    )


def rxa(immunization: Any, facility: str, action: str, tz: dt.tzinfo) -> str:
    imm = immunization
    when = hl7_date(imm.administered_at.astimezone(tz).date())
    vaccine = imm.vaccine
    code = _comp(vaccine.cvx, vaccine.short_description, "CVX")
    if imm.ndc11:
        # The NDC scanned, as the alternate coding of the same vaccine.
        code = _comp(
            vaccine.cvx, vaccine.short_description, "CVX",
            ndc_dashed(imm.ndc11), vaccine.short_description, "NDC",
        )  # fmt: skip
    given = _given(imm)
    new = imm.information_source == InformationSource.NEW
    fields: dict[int, str] = {1: "0", 2: "1", 3: when, 4: when, 5: code}
    if given and imm.dose_ml:
        fields[6] = decimal_text(Decimal(imm.dose_ml))
        fields[7] = "mL^milliliters^UCUM"
    else:
        fields[6] = "999"
    source = InformationSource(imm.information_source)
    if not new or given:
        fields[9] = _comp(source.value, _source_label(source), "NIP001")
    if given:
        fields[10] = _staff(imm.administered_by, imm.administered_by_name, facility)
        fields[11] = _raw("", "", "", escape(facility))
    if imm.completion != Completion.REFUSED and (given or not new):
        fields[15] = escape(imm.lot_number)
        fields[16] = hl7_date(imm.expiry)
        if imm.manufacturer is not None:
            fields[17] = _comp(imm.manufacturer.mvx, imm.manufacturer.name, "MVX")
    if imm.completion == Completion.REFUSED and imm.refusal_reason:
        reason = RefusalReason(imm.refusal_reason)
        fields[18] = _comp(reason.value, reason.label, "NIP002")
    fields[20] = imm.completion
    fields[21] = action
    return segment("RXA", fields)


def _source_label(source: InformationSource) -> str:
    if source == InformationSource.NEW:
        return "New immunization record"
    return "Historical information - " + source.label.split(" - ", 1)[-1].lower()


def rxr(immunization: Any) -> str:
    if not _given(immunization) or not immunization.route:
        return ""
    route = Route(immunization.route)
    short = ROUTE_HL70162[route]
    fields = {1: _comp(route.value, route.label, "NCIT", short, route.label.upper(), "HL70162")}
    if immunization.body_site:
        site = BodySite(immunization.body_site)
        fields[2] = _comp(site.value, site.label, "HL70163")
    return segment("RXR", fields)


def obx_groups(immunization: Any, vis_given: Iterable[Any], tz: dt.tzinfo) -> list[str]:
    """Eligibility, funding and the VIS given, for a dose given here."""
    if not _given(immunization):
        return []
    on = hl7_date(immunization.administered_at.astimezone(tz).date())
    out: list[str] = []
    sub = 0

    def add(kind: str, code: str, value: str, sub_id: int, method: str = "") -> None:
        out.append(
            segment(
                "OBX",
                {
                    1: str(len(out) + 1),
                    2: kind,
                    3: code,
                    4: str(sub_id),
                    5: value,
                    11: "F",
                    14: on,
                    17: method,
                },
            )
        )

    if immunization.eligibility:
        sub += 1
        elig = Eligibility(immunization.eligibility)
        add(
            "CE",
            "64994-7^Vaccine funding program eligibility category^LN",
            _comp(elig.value, elig.label, "HL70064"),
            sub,
            "VXC40^Eligibility captured at the immunization level^CDCPHINVS",
        )
    if immunization.funding:
        sub += 1
        code, label = FUNDING_HL7[immunization.funding]
        add("CE", "30963-3^Vaccine funding source^LN", _comp(code, label, "CDCPHINVS"), sub)
    for given in vis_given:
        sub += 1
        doc = given.document
        add(
            "CE",
            "69764-9^Document type^LN",
            _comp(doc.barcode, doc.name, "cdcgs1vis"),
            sub,
        )
        add(
            "TS",
            "29769-7^Date vaccine information statement presented^LN",
            hl7_date(given.presented_on),
            sub,
        )
    return out


def build_vxu(
    immunization: Any,
    *,
    settings: Any,
    control_id: str,
    now: dt.datetime,
    action: str = "A",
    vis_given: Sequence[Any] | None = None,
) -> str:
    """The VXU^V04 of ``immunization`` (segments joined by CR). ``action`` is RXA-21
    (A add, U update, D delete); ``vis_given`` defaults to the dose's ImmunizationVis rows."""
    site = immunization.site
    head = header_of(settings, site)
    facility = head.sending_facility
    if vis_given is None:
        vis_given = list(immunization.vis_given.select_related("document").order_by("pk"))
    on = immunization.administered_at.astimezone(head.tz).date()
    segments = [
        msh(head, control_id=control_id, now=now),
        pid(immunization.patient, facility),
        pd1(immunization.patient, on),
        nk1(immunization),
        orc(immunization, facility),
        rxa(immunization, facility, action, head.tz),
        rxr(immunization),
        *obx_groups(immunization, vis_given, head.tz),
    ]
    return "\r".join(s for s in segments if s)


def preview_control_id(immunization: Any) -> str:
    """A deterministic control id for a VXU shown but never sent."""
    return f"PREVIEW-{immunization.site_id}-{immunization.pk}"
