"""The DEA Form 41 record as a PDF (rxdesk.controlled.documents_41), read back with pypdf:
the registrant, each package destroyed, the date, method and location, and both witnesses'
printed names with the moment and factors of their re-authentication, and the declaration."""

from __future__ import annotations

import datetime as dt
import io
import json
import zoneinfo
from decimal import Decimal

import pytest
from pypdf import PdfReader

from rxdesk.controlled import documents_41
from rxdesk.controlled.queries_disposal import form_41, form_41_pdf
from rxdesk.controlled.services_disposal import cs_destroy
from rxdesk.core.choices import Role
from rxdesk.core.errors import Forbidden, NotFound
from rxdesk.core.models import AuditEvent
from tests.controlled.factories import codeine_syrup, credentials, cs_stock, oxycodone, witness
from tests.factories import UserFactory

CHICAGO = zoneinfo.ZoneInfo("America/Chicago")


def text_of(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return "\n".join(page.extract_text() for page in reader.pages)


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture
def recorded(site, pharmacist):
    site.name = "Riverside Test Pharmacy"
    site.dea_number = "AR1234563"
    site.address_line1 = "12 Main St"
    site.city = "Springfield"
    site.state = "IL"
    site.postal_code = "62704"
    site.phone = "2175551100"
    site.time_zone = "America/Chicago"
    site.save()
    w1 = UserFactory(
        site=site, role=Role.TECHNICIAN, username="dlee", first_name="Dana", last_name="Lee"
    )
    w2 = UserFactory(
        site=site, role=Role.PHARMACIST, username="mroe", first_name="Max", last_name="Roe"
    )
    oxy = cs_stock(site, oxycodone(), 300, lot="OX1")
    syrup = cs_stock(site, codeine_syrup(), "946", lot="CS-9")
    when = dt.datetime(2025, 3, 4, 15, 30, tzinfo=CHICAGO)
    return cs_destroy(
        actor=pharmacist,
        destroyed_at=when,
        method="incineration",
        location="Back room, on-site incinerator",
        lines=[
            {"balance_id": oxy.pk, "full_packages": 2, "partial_quantity": "37"},
            {"balance_id": syrup.pk, "full_packages": 1, "partial_quantity": "120.5"},
        ],
        witnesses=[credentials(w1), credentials(w2)],
    )


def test_the_pdf_holds_every_form_41_field(pharmacist, recorded):
    destruction, pdf = form_41_pdf(actor=pharmacist, destruction_id=recorded.pk)

    assert pdf.startswith(b"%PDF-")
    text = flat(text_of(pdf))
    # Registrant
    for expected in (
        "Riverside Test Pharmacy",
        "AR1234563",
        "12 Main St, Springfield, IL 62704",
        "(217) 555-1100",
    ):
        assert expected in text, expected
    # Each package: NDC, name, strength, form, package quantity, full, partial, total
    for expected in (
        "0406-0552-01",
        "Oxycodone Hydrochloride",
        "5 mg",
        "tablet",
        "100 EA",
        "37 EA",
        "237 EA",
        "0603-1585-58",
        "473 ML",
        "120.5 ML",
        "593.5 ML",
    ):
        assert expected in text, expected
    # When, how, where
    assert "03/04/2025 15:30 CST" in text
    assert "On-site incineration" in text
    assert "Back room, on-site incinerator" in text
    # Witnesses and the declaration
    assert "Printed name: Dana Lee (user dlee)" in text
    assert "Printed name: Max Roe (user mroe)" in text
    assert text.count("(password)") == 2
    assert "personally witnessed the destruction" in text
    assert "non-retrievable state" in text
    assert destruction.pk == recorded.pk


def test_the_witnesses_re_authentication_times_are_printed(pharmacist, recorded, site):
    event = AuditEvent.objects.get(action="cs.destruction.recorded")
    moments = [
        dt.datetime.fromisoformat(w["at"]).astimezone(site.tz)
        for w in json.loads(event.data)["witnesses"]
    ]

    form = form_41(recorded)
    _, pdf = form_41_pdf(actor=pharmacist, destruction_id=recorded.pk)

    assert [s.at for s in form.witnesses] == [m.astimezone(dt.UTC) for m in moments]
    text = flat(text_of(pdf))
    for moment in moments:
        assert f"Re-authenticated at {moment:%m/%d/%Y %H:%M} {moment.tzname()} (password)" in text


def test_the_form_lists_each_line_with_its_numbers(recorded):
    form = form_41(recorded)

    assert [
        (i.ndc, i.schedule, i.lot, i.package_quantity, i.full_packages, i.partial, i.total)
        for i in form.items
    ] == [
        ("0406-0552-01", "CII", "OX1", Decimal(100), 2, Decimal(37), Decimal(237)),
        ("0603-1585-58", "CV", "CS-9", Decimal(473), 1, Decimal("120.5"), Decimal("593.5")),
    ]
    assert form.registrant.dea_number == "AR1234563"


def test_the_renderer_is_pure_and_escapes_text():
    form = documents_41.Form41(
        number=7,
        registrant=documents_41.Registrant(
            name="A & B <Pharmacy>", dea_number="", address_lines=(), phone=""
        ),
        items=(
            documents_41.Item(
                ndc="0406-0552-01",
                name="Oxycodone <HCl>",
                strength="5 mg/1",
                form="TABLET",
                schedule="CII",
                lot="L1",
                package_quantity=Decimal("100.000"),
                unit="EA",
                full_packages=0,
                partial=Decimal("0.500"),
                total=Decimal("0.500"),
            ),
        ),
        destroyed_at=dt.datetime(2025, 1, 2, 9, 5, tzinfo=dt.UTC),
        method="Other: sealed charcoal container",
        location="Vault",
        performed_by="Pat Pharmacist",
        witnesses=(
            documents_41.Signer(
                "W One", "w1", dt.datetime(2025, 1, 2, 9, 4, tzinfo=dt.UTC), "password"
            ),
            documents_41.Signer(
                "W Two", "w2", dt.datetime(2025, 1, 2, 9, 5, tzinfo=dt.UTC), "password+totp"
            ),
        ),
        tz=dt.UTC,
    )

    text = flat(text_of(documents_41.render_form_41(form)))

    assert "A & B <Pharmacy>" in text
    assert "Oxycodone <HCl>" in text
    assert "(not on file)" in text
    assert "0.5 EA" in text
    assert "Re-authenticated at 01/02/2025 09:05 UTC (password+totp)" in text


def test_another_pharmacys_record_is_not_found(recorded, outsider):
    rph = witness(outsider.site, Role.PHARMACIST, "their-rph")
    for reader in (outsider, rph):
        with pytest.raises(NotFound):
            form_41_pdf(actor=reader, destruction_id=recorded.pk)


def test_a_trainee_cannot_read_it(recorded, trainee):
    with pytest.raises(Forbidden):
        form_41_pdf(actor=trainee, destruction_id=recorded.pk)
