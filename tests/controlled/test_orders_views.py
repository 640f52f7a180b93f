"""The order-form screens: record a form by typing its numbered lines (an error shown beside
the row it came from), read it, void it; the receipts list and its CSV; the list's queries
do not grow with the number of forms."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from rxdesk.controlled import services_orders
from rxdesk.controlled.models import Form222Line, Form222Order
from rxdesk.inventory.services import receiving
from tests.controlled.factories import alprazolam, oxycodone
from tests.controlled.matrix_orders import deliver, supplier

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def form_data(site, **rows: str) -> dict[str, str]:
    data = {
        "form": "222",
        "direction": "purchase",
        "number": "221234567",
        "executed_on": site.today().strftime("%m/%d/%Y"),
        "supplier": str(supplier(site).pk),
    }
    data.update(rows)
    return data


def test_a_form_is_recorded_from_its_rows_and_shown(site, pharmacist):
    oxycodone()
    supplier(site)
    client = client_for(pharmacist)
    page = client.get(reverse("cs_order_create"))
    assert page.status_code == 200
    assert b"Matrix CII Wholesale \xc2\xb7 DEA PM1234563" in page.content

    # Rows 1 and 2 blank, row 3 filled: it is the form's first line.
    response = client.post(
        reverse("cs_order_create"),
        form_data(site, **{"lines.2.ndc": "0406-0552-01", "lines.2.packages": "4"}),
    )

    order = Form222Order.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("cs_order_detail", kwargs={"pk": order.pk})
    assert list(order.lines.values_list("line_no", "packages_ordered")) == [(1, 4)]
    detail = client.get(response["Location"])
    assert detail.status_code == 200
    assert b"221234567" in detail.content and b"0406-0552-01" in detail.content


def test_a_refused_line_is_shown_beside_its_row(site, pharmacist):
    oxycodone()
    alprazolam()
    response = client_for(pharmacist).post(
        reverse("cs_order_create"),
        form_data(
            site,
            **{
                "lines.0.ndc": "0406-0552-01",
                "lines.0.packages": "1",
                "lines.3.ndc": "0228-2029-96",
                "lines.3.packages": "1",
            },
        ),
    )
    assert response.status_code == 422
    assert response.context["form"].errors["lines.3.ndc"] == [
        "NDC 0228-2029-96 is Schedule IV: order Schedule III–V on an ordinary purchase order."
    ]
    assert (Form222Order.objects.count(), Form222Line.objects.count()) == (0, 0)


def test_a_form_is_voided_from_its_page(site, pharmacist, technician):
    order = services_orders.form222_create(
        actor=pharmacist,
        number="221234567",
        supplier=supplier(site),
        executed_on=site.today(),
        lines=[{"ndc": oxycodone().ndc10, "packages": 1}],
    )
    assert (
        b"Void (unaccepted"
        not in client_for(technician)
        .get(reverse("cs_order_detail", kwargs={"pk": order.pk}))
        .content
    )
    client = client_for(pharmacist)
    url = reverse("cs_order_void", kwargs={"pk": order.pk})
    assert client.post(url, {"reason": ""}).status_code == 422
    response = client.post(url, {"reason": "Supplier returned it: erasure"})
    assert response.status_code == 302
    order.refresh_from_db()
    assert (order.status, order.void_reason) == ("void", "Supplier returned it: erasure")


def test_the_receipts_page_lists_and_downloads(site, pharmacist, technician):
    order = services_orders.form222_create(
        actor=pharmacist,
        number="221234567",
        supplier=supplier(site),
        executed_on=site.today(),
        lines=[{"ndc": oxycodone().ndc10, "packages": 1}],
    )
    receiving.receipt_post(actor=technician, receipt=deliver(site, technician, "221234567"))
    receiving.receipt_post(
        actor=technician, receipt=deliver(site, technician, "", pkg=alprazolam(), invoice="")
    )
    client = client_for(technician)
    detail = client.get(reverse("cs_order_detail", kwargs={"pk": order.pk})).content.decode()
    assert "Complete" in detail and "invoice INV-1" in detail
    page = client.get(reverse("cs_receipts"))
    assert page.status_code == 200
    assert b"1 without invoice" in page.content and b"221234567" in page.content
    csv = client.get(reverse("cs_receipts"), {"format": "csv", "group": "III-V"})
    assert csv["Content-Type"] == "text/csv; charset=utf-8"
    rows = csv.content.decode().splitlines()
    assert len(rows) == 2 and ",CIV," in rows[1]
    bad = client.get(reverse("cs_receipts"), {"start": "02/02/2026", "end": "02/01/2026"})
    assert bad.status_code == 422
    assert "The last day comes on or after the first." in bad.content.decode()


def test_the_list_reads_the_same_queries_for_one_form_or_five(site, pharmacist, technician):
    client = client_for(technician)

    def record(n: int) -> None:
        services_orders.form222_create(
            actor=pharmacist,
            number=f"22000000{n}",
            supplier=supplier(site),
            executed_on=site.today(),
            lines=[{"ndc": oxycodone().ndc10, "packages": 1}],
        )

    record(0)
    client.get(reverse("cs_orders"))  # the session and the site are loaded once
    with CaptureQueriesContext(connection) as one:
        assert client.get(reverse("cs_orders")).status_code == 200
    for n in range(1, 5):
        record(n)
    with CaptureQueriesContext(connection) as five:
        page = client.get(reverse("cs_orders"))
    assert page.content.count(b"data-queue-open") == 5
    assert len(five.captured_queries) == len(one.captured_queries)
