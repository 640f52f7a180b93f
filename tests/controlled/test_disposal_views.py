"""The disposal screens: the Form 41 list, the screen that records a destruction (stock
picked from the pharmacy's controlled lots, two witness blocks), a record and its PDF, the
waste screen, and the disposal register — each error shown beside its field."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from rxdesk.controlled.models import Destruction, Waste
from rxdesk.core.choices import Role
from rxdesk.core.models import AuditEvent
from rxdesk.inventory.models import StockBalance, StockMove
from tests.controlled.factories import alprazolam, cs_stock, oxycodone, witness
from tests.controlled.matrix_disposal import recorded
from tests.factories import PASSWORD
from tests.inventory.factories import package, stock

pytestmark = pytest.mark.django_db


@pytest.fixture
def w1(site):
    return witness(site, Role.TECHNICIAN, "wit-tech")


@pytest.fixture
def w2(site):
    return witness(site, Role.PHARMACIST, "wit-rph")


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def kept() -> tuple[int, ...]:
    return (
        Destruction.objects.count(),
        Waste.objects.count(),
        StockMove.objects.count(),
        AuditEvent.objects.exclude(action__startswith="auth.").count(),
    )


def form_of(response) -> dict[str, str]:
    """The destruction form's fields as the browser would send them back (rows and ids)."""
    form = response.context["form"]
    data = {"rows": str(form.row_count)}
    for i in range(form.row_count):
        data[f"lines.{i}.balance_id"] = form[f"lines.{i}.balance_id"].value()
    return data


def witnesses(first, second, password=PASSWORD) -> dict[str, str]:
    return {
        "witnesses.0.username": first.username,
        "witnesses.0.password": PASSWORD,
        "witnesses.1.username": second.username,
        "witnesses.1.password": password,
    }


def test_the_create_screen_lists_what_is_due_first(pharmacist, site):
    cs_stock(site, alprazolam(), 1000, lot="A-NEW")
    cs_stock(site, oxycodone(), 100, lot="O-OLD", expiry=site.today() - dt.timedelta(1))
    stock(site, package(), lot="PLAIN", quantity=10)

    response = signed_in(pharmacist).get(reverse("cs_destruction_create"))

    assert response.status_code == 200
    rows = response.context["form"].line_rows()
    assert [b.lot.number for b, _ in rows] == ["O-OLD", "A-NEW"]
    html = response.content.decode()
    assert html.index("O-OLD") < html.index("A-NEW")
    assert "PLAIN" not in html
    assert 'name="witnesses.0.username"' in html and 'name="witnesses.1.password"' in html
    assert "First witness" in html and "Second witness" in html


def test_a_destruction_is_recorded_from_the_screen(pharmacist, w1, w2, site):
    oxy = cs_stock(site, oxycodone(), 300, lot="OX1")
    alp = cs_stock(site, alprazolam(), 1000, lot="AL1")
    client = signed_in(pharmacist)
    data = form_of(client.get(reverse("cs_destruction_create")))
    index = {v: k.split(".")[1] for k, v in data.items() if k.endswith("balance_id")}
    data |= {
        "destroyed_at": (dt.datetime.now(site.tz) - dt.timedelta(hours=1)).strftime(
            "%m/%d/%Y %H:%M"
        ),
        "method": "incineration",
        "location": "Back room incinerator",
        f"lines.{index[str(oxy.pk)]}.full_packages": "2",
        f"lines.{index[str(oxy.pk)]}.partial_quantity": "4",
        **witnesses(w1, w2),
    }

    response = client.post(reverse("cs_destruction_create"), data)

    done = Destruction.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("cs_destruction_detail", kwargs={"pk": done.pk})
    assert StockBalance.objects.get(pk=oxy.pk).on_hand == Decimal(96)
    assert StockBalance.objects.get(pk=alp.pk).on_hand == Decimal(1000)
    detail = client.get(response["Location"])
    assert detail.status_code == 200
    assert "Back room incinerator" in detail.content.decode()
    pdf = client.get(reverse("cs_destruction_pdf", kwargs={"pk": done.pk}))
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF-")


def test_a_wrong_witness_password_is_shown_beside_it(pharmacist, w1, w2, site):
    oxy = cs_stock(site, oxycodone(), 300, lot="OX1")
    client = signed_in(pharmacist)
    data = form_of(client.get(reverse("cs_destruction_create")))
    data |= {
        "destroyed_at": "01/02/2025 10:00",
        "method": "incineration",
        "location": "Vault",
        "lines.0.full_packages": "1",
        **witnesses(w1, w2, password="wrong"),
    }
    before = kept()

    response = client.post(reverse("cs_destruction_create"), data)

    assert response.status_code == 422
    assert response.context["form"].errors["witnesses.1.password"] == [
        "The witness's password is not right."
    ]
    assert kept() == before
    assert StockBalance.objects.get(pk=oxy.pk).on_hand == Decimal(300)


def test_a_retrievable_other_method_is_shown_beside_its_description(pharmacist, w1, w2, site):
    cs_stock(site, oxycodone(), 300, lot="OX1")
    client = signed_in(pharmacist)
    data = form_of(client.get(reverse("cs_destruction_create")))
    data |= {
        "destroyed_at": "01/02/2025 10:00",
        "method": "other",
        "method_other": "Flushed down the toilet",
        "location": "Restroom",
        "lines.0.full_packages": "1",
        **witnesses(w1, w2),
    }

    response = client.post(reverse("cs_destruction_create"), data)

    assert response.status_code == 422
    assert "non-retrievable" in response.context["form"].errors["method_other"][0]
    assert Destruction.objects.count() == 0


def test_a_line_over_on_hand_is_shown_on_its_row(pharmacist, w1, w2, site):
    cs_stock(site, oxycodone(), 100, lot="OX1")
    client = signed_in(pharmacist)
    data = form_of(client.get(reverse("cs_destruction_create")))
    data |= {
        "destroyed_at": "01/02/2025 10:00",
        "method": "incineration",
        "location": "Vault",
        "lines.0.full_packages": "2",
        **witnesses(w1, w2),
    }

    response = client.post(reverse("cs_destruction_create"), data)

    assert response.status_code == 409
    assert "cannot destroy 200" in response.context["form"].errors["lines.0.full_packages"][0]


def test_nothing_picked_is_said_above_the_form(pharmacist, w1, w2, site):
    cs_stock(site, oxycodone(), 100, lot="OX1")
    client = signed_in(pharmacist)
    data = form_of(client.get(reverse("cs_destruction_create")))
    data |= {
        "destroyed_at": "01/02/2025 10:00",
        "method": "incineration",
        "location": "Vault",
        **witnesses(w1, w2),
    }

    response = client.post(reverse("cs_destruction_create"), data)

    assert response.status_code == 422
    assert "Add at least one package" in response.context["form"].non_field_errors()[0]


def test_the_list_shows_the_records(auditor, site):
    done = recorded(site)

    response = signed_in(auditor).get(reverse("cs_destructions"))

    assert response.status_code == 200
    html = response.content.decode()
    assert f"#{done.pk}" in html
    assert "Record a destruction" not in html  # the auditor reads only


def test_the_waste_screen_records_a_breakage(technician, w1, site):
    oxy = cs_stock(site, oxycodone(), 100, lot="OX1")
    client = signed_in(technician)

    response = client.post(
        reverse("cs_waste"),
        {
            "kind": "breakage",
            "ndc": "0406-0552-01",
            "quantity": "2",
            "lot_number": "ox1",
            "reason": "Dropped two tablets",
            "witness.username": w1.username,
            "witness.password": PASSWORD,
        },
    )

    assert response.status_code == 302, response.content[:2000]
    assert StockBalance.objects.get(pk=oxy.pk).on_hand == Decimal(98)
    listing = client.get(reverse("cs_waste")).content.decode()
    assert "Dropped two tablets" in listing and w1.display_name in listing


def test_an_unknown_fill_is_shown_beside_it(technician, w1, site):
    cs_stock(site, oxycodone(), 100, lot="OX1")
    before = kept()

    response = signed_in(technician).post(
        reverse("cs_waste"),
        {
            "kind": "partial_dose",
            "ndc": "0406-0552-01",
            "quantity": "1",
            "fill": "999999-1",
            "reason": "Left over",
            "witness.username": w1.username,
            "witness.password": PASSWORD,
        },
    )

    assert response.status_code == 422
    assert response.context["form"].errors["fill"]
    assert kept() == before


def test_a_patient_return_without_a_patient_names_the_field(technician, w1, site):
    oxycodone()
    response = signed_in(technician).post(
        reverse("cs_waste"),
        {
            "kind": "patient_return",
            "ndc": "0406-0552-01",
            "quantity": "1",
            "method": "Denaturing container",
            "reason": "Brought back",
            "witness.username": w1.username,
            "witness.password": PASSWORD,
        },
    )

    assert response.status_code == 422
    assert response.context["form"].errors["patient_id"]


def test_the_auditor_sees_waste_but_no_form(auditor):
    response = signed_in(auditor).get(reverse("cs_waste"))

    assert response.status_code == 200
    assert 'name="witness.password"' not in response.content.decode()


def test_the_register_screen_and_its_csv(pharmacist, site):
    done = recorded(site)
    client = signed_in(pharmacist)

    response = client.get(reverse("cs_disposals"))
    assert response.status_code == 200
    assert f"Form 41 #{done.pk}" in response.content.decode()

    today = site.today().strftime("%m/%d/%Y")
    download = client.get(reverse("cs_disposals"), {"start": today, "end": today, "format": "csv"})
    assert download["Content-Type"].startswith("text/csv")
    assert f"Form 41 #{done.pk}" in download.content.decode()


def test_a_bad_range_is_shown_beside_it(pharmacist):
    response = signed_in(pharmacist).get(
        reverse("cs_disposals"), {"start": "02/01/2025", "end": "01/01/2025"}
    )

    assert response.status_code == 422
    assert response.context["form"].errors["end"]
