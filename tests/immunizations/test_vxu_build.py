"""The VXU^V04 builder: every message parses with hl7apy at STRICT validation as a v2.5.1
VXU_V04 and validates; field values checked by position; escaping of HL7 delimiters in
names and addresses (hypothesis)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone
from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.parser import parse_message
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rxdesk.immunizations import vxu
from rxdesk.immunizations.choices import (
    Completion,
    ConsentBy,
    Eligibility,
    Funding,
    InformationSource,
    RefusalReason,
    Route,
)
from rxdesk.immunizations.common import settings_of
from tests.immunizations.factories import manufacturer
from tests.immunizations.registry_setup import dose, patient, prescriber

NOW = dt.datetime(2025, 3, 15, 20, 15, tzinfo=dt.UTC)


def strict(message: str):
    assert "\n" not in message
    parsed = parse_message(message, validation_level=VALIDATION_LEVEL.STRICT, find_groups=True)
    assert parsed.validate() is True
    assert parsed.name == "VXU_V04"
    return parsed


def fields(message: str, name: str, nth: int = 0) -> list[str]:
    """The raw fields of the nth segment ``name`` (index n = field n)."""
    found = [s for s in message.split("\r") if s.startswith(name + "|")]
    parts = found[nth].split("|")
    if name == "MSH":
        parts = ["MSH", "|", *parts[1:]]
    return parts


def build(imm, action="A", control="MSG0001"):
    return vxu.build_vxu(
        imm, settings=settings_of(imm.site), control_id=control, now=NOW, action=action
    )


def segment_names(message: str) -> list[str]:
    return [s[:3] for s in message.split("\r")]


def test_it_builds_a_flu_shot_to_the_cdc_guide(site):
    settings = settings_of(site)
    settings.sending_facility = "RX0001"
    settings.receiving_application = "IIS"
    settings.receiving_facility = "STATEIIS"
    settings.save()
    imm = dose(site, "150", ordering_prescriber=prescriber(site))
    message = build(imm)
    parsed = strict(message)

    assert segment_names(message) == [
        "MSH",
        "PID",
        "PD1",
        "ORC",
        "RXA",
        "RXR",
        "OBX",
        "OBX",
        "OBX",
        "OBX",
    ]
    msh = fields(message, "MSH")
    assert msh[2] == "^~\\&"
    assert msh[3:7] == ["RXDESK", "RX0001", "IIS", "STATEIIS"]
    assert msh[9] == "VXU^V04^VXU_V04"
    assert msh[10] == "MSG0001"
    assert msh[11] == "P"
    assert msh[12] == "2.5.1"
    assert msh[15:17] == ["ER", "AL"]
    assert msh[21] == "Z22^CDCPHINVS"
    pid = fields(message, "PID")
    assert pid[3] == f"{imm.patient_id}^^^RX0001^MR"
    assert pid[5] == "Testpatient^Jane^^^^^L"
    assert pid[7] == "19800704"
    assert pid[8] == "F"
    assert pid[11] == "1 Main St^^Peoria^IL^61602^USA^L"
    assert pid[13] == "^PRN^PH^^^309^5550100"
    assert len(pid) == 14  # no race / ethnicity, nothing trailing
    orc = fields(message, "ORC")
    assert orc[1] == "RE"
    assert orc[3] == f"RX0001-IMM-{imm.pk}^RX0001"
    assert orc[12].startswith("1234567893^Okafor^Margaret^^^^^^NPI&2.16.840.1.113883.4.6&ISO^L")
    rxa = fields(message, "RXA")
    day = imm.administered_at.astimezone(site.tz).strftime("%Y%m%d")
    assert rxa[1:5] == ["0", "1", day, day]
    assert rxa[5] == (
        "150^Influenza, injectable, quadrivalent, preservative free^CVX"
        "^49281-0421-88^Influenza, injectable, quadrivalent, preservative free^NDC"
    )
    assert rxa[6:8] == ["0.5", "mL^milliliters^UCUM"]
    assert rxa[9] == "00^New immunization record^NIP001"
    assert rxa[10].startswith(f"{imm.administered_by_id}^")
    assert rxa[11] == "^^^RX0001"
    assert rxa[15:18] == ["UT7011AA", "20300630", "PMC^Sanofi Pasteur^MVX"]
    assert rxa[20:22] == ["CP", "A"]
    rxr = fields(message, "RXR")
    assert rxr[1] == "C28161^Intramuscular^NCIT^IM^INTRAMUSCULAR^HL70162"
    assert rxr[2] == "LD^Left deltoid^HL70163"
    obx = [fields(message, "OBX", n) for n in range(4)]
    assert obx[0][2:6] == [
        "CE",
        "64994-7^Vaccine funding program eligibility category^LN",
        "1",
        "V01^Not VFC eligible^HL70064",
    ]
    assert obx[0][17] == "VXC40^Eligibility captured at the immunization level^CDCPHINVS"
    assert obx[1][3:6] == [
        "30963-3^Vaccine funding source^LN",
        "2",
        "PHC70^Private funds^CDCPHINVS",
    ]
    assert obx[2][3:5] == ["69764-9^Document type^LN", "3"]
    assert obx[2][5].startswith("253088698300008611230808^Influenza Vaccine")
    assert obx[3][2:6] == [
        "TS",
        "29769-7^Date vaccine information statement presented^LN",
        "3",
        imm.administered_at.date().strftime("%Y%m%d"),
    ]
    assert [o[11] for o in obx] == ["F"] * 4
    order = parsed.children.get("VXU_V04_ORDER")[0]
    assert order.rxa.rxa_5.to_er7().startswith("150^")


def test_msh_7_is_the_pharmacys_local_time_with_its_offset(site):
    message = build(dose(site))
    # 20:15 UTC on 15 March 2025 is 15:15 in Chicago (daylight time began 9 March).
    assert fields(message, "MSH")[7] == "20250315151500-0500"


@pytest.mark.parametrize(
    ("cvx", "over", "checks"),
    [
        ("115", {"dose_ml": Decimal("0.5")}, {"RXA-5": "115^Tdap^CVX"}),
        ("187", {"dose_number": 2, "manufacturer": "SKB"}, {"RXA-17": "SKB^GlaxoSmithKline^MVX"}),
        (
            "208",
            {"dose_ml": Decimal("0.3"), "manufacturer": "PFR", "funding": Funding.STATE},
            {"RXA-6": "0.3", "OBX-5": "VXC52^Public non-VFC^CDCPHINVS"},
        ),
        (
            "33",
            {"route": Route.SC, "body_site": "RA"},
            {"RXR-1": "C38299^Subcutaneous^NCIT^SC^SUBCUTANEOUS^HL70162"},
        ),
    ],
)
def test_it_builds_valid_messages_for_a_range_of_vaccines(site, cvx, over, checks):
    if "manufacturer" in over:
        over["manufacturer"] = manufacturer(over["manufacturer"])
    message = build(dose(site, cvx, **over))
    strict(message)
    for where, expected in checks.items():
        name, n = where.split("-")
        nth = 1 if (name == "OBX" and "funding" in over) else 0
        assert fields(message, name, nth)[int(n)] == expected


def test_a_child_with_a_parents_consent_gets_an_nk1(site):
    child = patient(site, first_name="Tom", date_of_birth=dt.date(2021, 5, 1))
    imm = dose(
        site,
        "03",
        patient=child,
        route=Route.SC,
        body_site="LT",
        consent_by=ConsentBy.MOTHER,
        consent_name="Mary O'Brien",
        eligibility=Eligibility.V02,
        funding=Funding.VFC,
        manufacturer=manufacturer("SKB"),
    )
    message = build(imm)
    strict(message)
    assert segment_names(message)[:5] == ["MSH", "PID", "PD1", "NK1", "ORC"]
    nk1 = fields(message, "NK1")
    assert nk1[1:4] == ["1", "O'Brien^Mary^^^^^L", "MTH^Mother^HL70063"]
    assert (
        fields(message, "OBX", 0)[5] == "V02^VFC eligible - Medicaid/Medicaid managed care^HL70064"
    )
    assert fields(message, "OBX", 1)[5] == "VXC51^Public VFC^CDCPHINVS"


def test_an_adult_consenting_for_themselves_has_no_nk1(site):
    message = build(dose(site, consent_by=ConsentBy.SELF, consent_name="Jane Testpatient"))
    assert "NK1" not in segment_names(message)


def test_a_refusal_is_reported_without_amount_route_or_observations(site):
    imm = dose(
        site,
        "150",
        completion=Completion.REFUSED,
        refusal_reason=RefusalReason.PATIENT,
        dose_ml=None,
        vis=False,
    )
    message = build(imm)
    strict(message)
    rxa = fields(message, "RXA")
    assert rxa[6] == "999"
    assert rxa[7] == rxa[9] == rxa[10] == rxa[15] == ""
    assert rxa[18] == "03^Patient decision^NIP002"
    assert rxa[20:22] == ["RE", "A"]
    assert "RXR" not in segment_names(message)
    assert "OBX" not in segment_names(message)


def test_a_historical_dose_is_999_with_its_source_and_no_rxr_or_obx(site):
    imm = dose(
        site,
        "115",
        information_source=InformationSource.OTHER_PROVIDER,
        dose_ml=None,
        route="",
        body_site="",
        funding="",
        eligibility="",
        administered_by=None,
        lot_number="",
        manufacturer=None,
    )
    message = build(imm)
    strict(message)
    rxa = fields(message, "RXA")
    assert rxa[6] == "999"
    assert rxa[7] == ""
    assert rxa[9] == "02^Historical information - from other provider^NIP001"
    assert rxa[10] == rxa[11] == ""
    assert segment_names(message) == ["MSH", "PID", "PD1", "ORC", "RXA"]


def test_a_delete_carries_action_d_and_the_same_filler_order_number(site):
    imm = dose(site)
    add, delete = build(imm, "A"), build(imm, "D", control="MSG0002")
    strict(delete)
    assert fields(delete, "RXA")[21] == "D"
    assert fields(add, "ORC")[3] == fields(delete, "ORC")[3]


def test_a_dose_without_a_route_has_no_rxr(site):
    message = build(dose(site, route="", body_site=""))
    strict(message)
    assert "RXR" not in segment_names(message)


def test_it_escapes_delimiters_in_every_text_field(site):
    nasty = patient(
        site,
        first_name="Ann&Bo",
        last_name="O'Brien^Smith|x",
        address_line1="1 Main~St \\ Apt 2",
        city="Peo|ria",
    )
    message = build(dose(site, patient=nasty, lot_number="L|1^2"))
    parsed = strict(message)
    pid = fields(message, "PID")
    assert pid[5] == "O'Brien\\S\\Smith\\F\\x^Ann\\T\\Bo^^^^^L"
    assert pid[11] == "1 Main\\R\\St \\E\\ Apt 2^^Peo\\F\\ria^IL^61602^USA^L"
    assert fields(message, "RXA")[15] == "L\\F\\1\\S\\2"
    assert len(message.split("\r")) == len(segment_names(message))
    assert parsed.pid.pid_5.xpn_1.to_er7() == "O'Brien\\S\\Smith\\F\\x"


_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",), exclude_characters="\x00")
    | st.sampled_from("|^~\\&"),
    min_size=1,
    max_size=30,
).filter(lambda s: s.strip() == s and s)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(last=_text, first=_text, street=_text, city=_text)
def test_any_name_or_address_round_trips(site, last, first, street, city):
    person = patient(
        site, last_name=last[:60], first_name=first[:60], address_line1=street, city=city
    )
    imm = dose(site, patient=person, vis=False)
    message = build(imm)
    strict(message)
    pid = fields(message, "PID")
    name = [vxu.unescape(c) for c in pid[5].split("^")]
    address = [vxu.unescape(c) for c in pid[11].split("^")]
    clean = vxu._CONTROL.sub
    assert name[0] == clean(" ", last[:60])
    assert name[1] == clean(" ", first[:60])
    assert address[0] == clean(" ", street)
    assert address[2] == clean(" ", city)
    assert len(message.split("\r")) == len(segment_names(message))


def test_escape_and_unescape_are_inverse():
    for text in ["a|b", "^~\\&", "\\F\\", "plain", "x\\y"]:
        assert vxu.unescape(vxu.escape(text)) == text


def test_build_uses_the_pharmacys_ncpdp_id_when_no_facility_id_is_set(site):
    message = build(dose(site))
    assert fields(message, "MSH")[4] == site.ncpdp_id
    assert fields(message, "RXA")[11] == f"^^^{site.ncpdp_id}"


def test_preview_control_id_is_deterministic(site):
    imm = dose(site)
    assert vxu.preview_control_id(imm) == vxu.preview_control_id(imm)
    assert timezone.is_aware(imm.administered_at)
