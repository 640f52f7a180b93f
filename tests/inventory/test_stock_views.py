"""The stock screens: the on-hand list (search, scan, filters, htmx partial, held lots
marked), a lot with its history and the forms that act on it, a package's lots with the
running total, storage locations, opening balances and found stock (filled from a 2D
scan), and transfers. Each form shows a broken rule beside its field and writes nothing; a
role that may not act gets a 403 and writes nothing; list pages cost a fixed number of
queries."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
from collections.abc import Iterator
from decimal import Decimal
from urllib.parse import quote

import pytest
from django.test import Client
from django.urls import reverse

from rxdesk.catalog.ndc import ndc_to_gtin14
from rxdesk.core.models import AuditEvent, Organization, User
from rxdesk.inventory.choices import LotStatus, TransferStatus
from rxdesk.inventory.models import (
    Lot,
    StockBalance,
    StockMove,
    StockTransfer,
    StorageLocation,
)
from rxdesk.inventory.services.stock import stock_status_set, stock_transfer_send
from tests.factories import SiteFactory, UserFactory
from tests.inventory.factories import package, stock

pytestmark = pytest.mark.django_db

WRITES = (StockMove, StockBalance, Lot, StorageLocation, StockTransfer)


@pytest.fixture(autouse=True)
def _plain_http(settings):
    settings.SECURE_SSL_REDIRECT = False


def client_of(user: User) -> Client:
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


def _counts() -> dict[str, int]:
    counts = {t.__name__: t.objects.count() for t in WRITES}
    counts["events"] = AuditEvent.objects.exclude(action__startswith="auth.").count()
    return counts


@contextlib.contextmanager
def nothing_written() -> Iterator[None]:
    before = _counts()
    yield
    assert _counts() == before


def last_event() -> AuditEvent:
    event = AuditEvent.objects.exclude(action__startswith="auth.").order_by("-id").first()
    assert event is not None
    return event


def text_of(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def error_beside(response, field: str) -> str:
    """The error shown under ``field`` (the form's field-error paragraph)."""
    found = re.search(rf'id="id_{field}_error"[^>]*>([^<]*)<', response.content.decode())
    assert found, f"no error beside {field}"
    return found.group(1)


@pytest.fixture
def lot(site):
    bay = StorageLocation.objects.create(site=site, code="A-1", name="Aisle 1")
    return stock(site, package(), "PZ1", 100, expiry=dt.date(2030, 12, 31), location=bay)


# --- On hand -------------------------------------------------------------------------------


def test_the_on_hand_list_shows_each_lot(technician, lot):
    response = client_of(technician).get(reverse("inventory_stock"))

    assert response.status_code == 200
    page = text_of(response)
    assert f'href="/inventory/stock/{lot.pk}/"' in page
    assert f'href="/inventory/packages/{lot.package_id}/"' in page
    assert "<strong>100</strong> EA" in page
    assert "PZ1" in page
    assert "12/31/2030" in page
    assert '<span class="mono">A-1</span>' in page
    assert 'accesskey="i"' in page  # the main menu's Inventory link


def test_held_expired_and_recalled_lots_are_marked(technician, pharmacist, site, lot):
    held = stock(site, lot.package, "HELD", 5)
    stock(site, lot.package, "OLD", 5, expiry=site.today() - dt.timedelta(days=2))
    stock_status_set(actor=pharmacist, balance=held, status=LotStatus.QUARANTINED, reason="crushed")

    page = text_of(client_of(technician).get(reverse("inventory_stock")))

    assert page.count('class="lot-quarantined held"') == 1
    assert page.count('class="lot-available lot-expired held"') == 1
    assert page.count('class="lot-available"') == 1
    assert 'title="crushed">quarantined</span>' in page
    assert '<span class="badge danger lot-badge">expired</span>' in page


def test_search_refreshes_only_the_results_for_htmx(technician, site, lot):
    stock(site, package("0093-5060-01", name="Hydroxyzine"), "HX1", 10)

    response = client_of(technician).get(
        reverse("inventory_stock"), {"q": "pz1"}, HTTP_HX_REQUEST="true"
    )

    assert response.status_code == 200
    assert response.templates[0].name == "inventory/stock/_stock_results.html"
    page = text_of(response)
    assert "PZ1" in page and "HX1" not in page
    assert "<html" not in page


def test_a_scan_in_the_search_box_finds_the_lot(technician, site, lot):
    stock(site, lot.package, "PZ2", 10)
    gtin = ndc_to_gtin14("0002-3227-30")

    page = text_of(
        client_of(technician).get(reverse("inventory_stock"), {"q": f"01{gtin}1730123110PZ2"})
    )

    assert "PZ2" in page and "PZ1" not in page


def test_a_bad_filter_is_shown_beside_it(technician, lot):
    response = client_of(technician).get(
        reverse("inventory_stock"), {"expiring_within_days": "soon"}
    )

    assert response.status_code == 422
    assert error_beside(response, "expiring_within_days") == "Enter a whole number."


def test_the_on_hand_list_costs_a_fixed_number_of_queries(
    technician, site, django_assert_max_num_queries
):
    bay = StorageLocation.objects.create(site=site, code="A-1", name="Aisle 1")
    for n in range(25):
        stock(site, package(), f"N{n:02}", n + 1, location=bay)
    client = client_of(technician)

    # Signing in and the session's idle timer cost 7 queries on every page; the list 2.
    with django_assert_max_num_queries(9):
        response = client.get(reverse("inventory_stock"))

    assert text_of(response).count("data-result") == 25


def test_a_role_without_inventory_view_is_refused(admin_user, lot):
    assert client_of(admin_user).get(reverse("inventory_stock")).status_code == 403
    assert client_of(admin_user).get(reverse("inventory_balance", args=[lot.pk])).status_code == (
        403
    )


# --- A lot ---------------------------------------------------------------------------------


def test_a_lot_shows_its_moves_with_the_balance_after(pharmacist, lot):
    client = client_of(pharmacist)
    client.post(
        reverse("inventory_balance_adjust", args=[lot.pk]),
        {"quantity": "-4", "reason": "broken", "note": "dropped"},
    )

    response = client.get(reverse("inventory_balance", args=[lot.pk]))

    page = text_of(response)
    assert response.status_code == 200
    assert "Waste or damage" in page and "Broken or spilled" in page
    assert '<td class="num mono out">-4</td> <td class="num mono">96</td>' in page
    assert '<td class="num mono in">+100</td> <td class="num mono">100</td>' in page
    assert "Times are America/Chicago" in page
    assert "Package total" not in page


def test_another_sites_lot_is_not_found(outsider, lot):
    assert client_of(outsider).get(reverse("inventory_balance", args=[lot.pk])).status_code == 404


def test_adjusting_a_lot(pharmacist, lot):
    response = client_of(pharmacist).post(
        reverse("inventory_balance_adjust", args=[lot.pk]),
        {"quantity": "-2", "reason": "data_entry", "note": "miscount"},
    )

    assert response.status_code == 302
    assert response["Location"] == f"/inventory/stock/{lot.pk}/"
    lot.refresh_from_db()
    assert lot.on_hand == Decimal("98")
    event = last_event()
    assert event.action == "inventory.stock.adjusted"
    assert json.loads(event.data)["quantity"] == "-2.000"


@pytest.mark.parametrize(
    ("form", "status", "field", "message"),
    [
        (
            {"quantity": "-101", "reason": "data_entry"},
            409,
            "quantity",
            "Only 100 EA of lot PZ1 on hand; cannot take 101.",
        ),
        ({"quantity": "0", "reason": "data_entry"}, 422, "quantity", ""),
        ({"quantity": "-1", "reason": "other"}, 422, "note", "Explain the adjustment."),
        ({"quantity": "", "reason": "data_entry"}, 422, "quantity", "This field is required."),
    ],
)
def test_a_bad_adjustment_is_shown_beside_its_field(pharmacist, lot, form, status, field, message):
    with nothing_written():
        response = client_of(pharmacist).post(
            reverse("inventory_balance_adjust", args=[lot.pk]), form
        )

    assert response.status_code == status
    shown = error_beside(response, field)
    assert shown == message or (not message and shown)


def test_a_technician_may_not_adjust(technician, lot):
    client = client_of(technician)
    url = reverse("inventory_balance_adjust", args=[lot.pk])

    assert client.get(url).status_code == 403
    with nothing_written():
        assert client.post(url, {"quantity": "-1", "reason": "data_entry"}).status_code == 403


def test_release_is_offered_only_to_approvers(pharmacist, inventory, lot):
    url = reverse("inventory_balance_status", args=[lot.pk])

    for_rph = text_of(client_of(pharmacist).get(url))
    for_inventory = text_of(client_of(inventory).get(url))

    assert 'value="available">Release to available stock' in for_rph
    assert "Release" not in for_inventory
    assert 'value="quarantined">Quarantine' in for_inventory


def test_quarantine_and_release(pharmacist, inventory, lot):
    url = reverse("inventory_balance_status", args=[lot.pk])

    held = client_of(inventory).post(url, {"status": "quarantined", "reason": "box wet"})
    with nothing_written():
        refused = client_of(inventory).post(url, {"status": "available", "reason": "dry now"})
    released = client_of(pharmacist).post(url, {"status": "available", "reason": "dry now"})

    assert held.status_code == 302
    assert refused.status_code == 422
    assert "Select a valid choice" in error_beside(refused, "status")
    assert released.status_code == 302
    lot.refresh_from_db()
    assert lot.status == LotStatus.AVAILABLE
    assert json.loads(last_event().data) == {"lot": "PZ1", "status": ["quarantined", "available"]}


def test_an_expired_lot_cannot_be_released(pharmacist, site):
    old = stock(site, package(), "OLD", 3, expiry=site.today() - dt.timedelta(days=1))
    stock_status_set(actor=pharmacist, balance=old, status=LotStatus.ON_HOLD, reason="x")

    with nothing_written():
        response = client_of(pharmacist).post(
            reverse("inventory_balance_status", args=[old.pk]),
            {"status": "available", "reason": "looks fine"},
        )

    assert response.status_code == 409
    assert error_beside(response, "status") == "Lot OLD has expired; it cannot be released."


def test_relocating_a_lot(technician, site, lot):
    StorageLocation.objects.create(site=site, code="F-1", name="Fridge 1")
    StorageLocation.objects.create(site=site, code="OLD", name="Retired", active=False)
    url = reverse("inventory_balance_relocate", args=[lot.pk])

    form = text_of(client_of(technician).get(url))
    response = client_of(technician).post(url, {"location": "F-1"})

    assert 'value="F-1">F-1 · Fridge 1' in form and 'value="OLD"' not in form
    assert response.status_code == 302
    lot.refresh_from_db()
    assert lot.location.code == "F-1"


def test_a_trainee_may_not_relocate(trainee, lot):
    with nothing_written():
        response = client_of(trainee).post(
            reverse("inventory_balance_relocate", args=[lot.pk]), {"location": "A-1"}
        )
    assert response.status_code == 403


# --- A package -----------------------------------------------------------------------------


def test_the_package_page_shows_lots_totals_and_the_running_total(
    pharmacist, site, lot, django_assert_max_num_queries
):
    second = stock(site, lot.package, "PZ2", 50, expiry=dt.date(2031, 3, 31))
    client = client_of(pharmacist)
    client.post(
        reverse("inventory_balance_status", args=[second.pk]),
        {"status": "on_hold", "reason": "check"},
    )
    client.post(
        reverse("inventory_balance_adjust", args=[lot.pk]),
        {"quantity": "-10", "reason": "data_entry"},
    )

    with django_assert_max_num_queries(10):
        response = client.get(reverse("inventory_package_stock", args=[lot.package_id]))

    page = text_of(response)
    assert "<strong>140 EA</strong> on hand" in page
    assert "<strong>90 EA</strong> dispensable today" in page
    totals = re.findall(r'<td class="num mono"><strong>([\d.]+)</strong></td>', page)
    assert totals == ["140", "150", "100"]


# --- Opening balance and found stock -------------------------------------------------------


def test_a_scan_fills_the_ndc_lot_and_expiry(technician, lot):
    gtin = ndc_to_gtin14("0002-3227-30")
    scan = f"01{gtin}17310131" + "10NEW5"

    response = client_of(technician).get(reverse("inventory_stock_receive"), {"scan": scan})

    page = text_of(response)
    assert response.status_code == 200
    assert 'name="ndc" value="0002-3227-30"' in page
    assert 'name="lot_number" value="NEW5"' in page
    assert 'name="expiry" value="01/31/2031"' in page
    assert re.search(r'name="quantity"[^>]*autofocus', page)


def test_an_unreadable_scan_is_shown_beside_the_box(technician, lot):
    response = client_of(technician).get(
        reverse("inventory_stock_receive"), {"scan": "(01)12345678901234"}
    )

    assert response.status_code == 422
    assert 'id="scan-error"' in text_of(response)


def test_found_stock_goes_on_the_shelf(technician, lot):
    response = client_of(technician).post(
        reverse("inventory_stock_receive"),
        {
            "ndc": "00002322730",
            "lot_number": "new5",
            "expiry": "01/31/2031",
            "quantity": "12",
            "location": "A-1",
            "note": "found in returns bin",
        },
    )

    balance = StockBalance.objects.get(lot__number="NEW5")
    assert response.status_code == 302
    assert response["Location"] == f"/inventory/stock/{balance.pk}/"
    assert (balance.on_hand, balance.location.code) == (Decimal("12"), "A-1")
    move = StockMove.objects.get(lot=balance.lot)
    assert (move.reason, move.note) == ("receive", "found in returns bin")
    assert last_event().action == "inventory.stock.received"


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"expiry": ""}, "expiry", "Enter the expiry date printed on the package."),
        ({"expiry": "01/31/2020"}, "expiry", None),
        ({"ndc": "99999-9999-99"}, "ndc", "NDC 99999-9999-99 is not in the drug catalog."),
        ({"quantity": "-1"}, "quantity", "The quantity must be more than zero."),
        ({"unit": "ML"}, "unit", "NDC 0002-3227-30 is counted in EA, not ML."),
    ],
)
def test_bad_found_stock_is_shown_beside_its_field(technician, lot, changes, field, message):
    form = {"ndc": "0002-3227-30", "lot_number": "N1", "expiry": "01/31/2031", "quantity": "1"}
    with nothing_written():
        response = client_of(technician).post(
            reverse("inventory_stock_receive"), {**form, **changes}
        )

    assert response.status_code == 422
    shown = error_beside(response, field)
    assert shown == message if message else shown.startswith("This lot expired on 01/31/2020")


def test_a_trainee_may_not_put_stock_on_the_shelf(trainee):
    client = client_of(trainee)
    assert client.get(reverse("inventory_stock_receive")).status_code == 403
    with nothing_written():
        response = client.post(
            reverse("inventory_stock_receive"),
            {"ndc": "0002-3227-30", "lot_number": "N1", "expiry": "01/31/2031", "quantity": "1"},
        )
    assert response.status_code == 403


# --- Storage locations --------------------------------------------------------------------


def test_locations_are_listed_added_and_changed(inventory, technician, lot):
    client = client_of(inventory)

    added = client.post(
        reverse("inventory_location_create"),
        {
            "code": "F-2",
            "name": "Fridge 2",
            "kind": "refrigerator",
            "temperature_min_c": "2",
            "temperature_max_c": "8",
        },
    )
    place = StorageLocation.objects.get(code="F-2")
    edit_url = reverse("inventory_location_edit", args=[place.pk])
    edited = client.post(
        edit_url,
        {
            "code": "F-2",
            "name": "Vaccine fridge",
            "kind": "refrigerator",
            "temperature_min_c": "2.0",
            "temperature_max_c": "8.0",
            "active": "on",
        },
    )
    listed = text_of(client_of(technician).get(reverse("inventory_locations")))

    assert added.status_code == 302 and edited.status_code == 302
    assert last_event().action == "inventory.location.updated"
    assert json.loads(last_event().data) == {"changes": {"name": ["Fridge 2", "Vaccine fridge"]}}
    assert "Vaccine fridge" in listed and "2.0 to 8.0" in listed
    assert edit_url not in listed  # a technician cannot edit locations


def test_a_fridge_without_its_range_is_refused(inventory):
    with nothing_written():
        response = client_of(inventory).post(
            reverse("inventory_location_create"),
            {"code": "F-3", "name": "Fridge 3", "kind": "refrigerator"},
        )

    assert response.status_code == 422
    assert error_beside(response, "temperature_min_c") == (
        "A refrigerator or freezer needs its allowed temperature range."
    )


def test_a_technician_may_not_add_locations(technician):
    with nothing_written():
        response = client_of(technician).post(
            reverse("inventory_location_create"), {"code": "Z", "name": "Z", "kind": "shelf"}
        )
    assert response.status_code == 403


def test_the_locations_list_costs_a_fixed_number_of_queries(
    technician, site, django_assert_max_num_queries
):
    for n in range(20):
        place = StorageLocation.objects.create(site=site, code=f"S-{n:02}", name=f"Shelf {n}")
        stock(site, package(), f"L{n}", 1, location=place)
    client = client_of(technician)

    with django_assert_max_num_queries(8):
        response = client.get(reverse("inventory_locations"))

    assert text_of(response).count("data-result") == 20


# --- Transfers ----------------------------------------------------------------------------


@pytest.fixture
def downtown(site):
    org = Organization.objects.create(name="River Group")
    site.organization = org
    site.save(update_fields=["organization"])
    return SiteFactory(name="Downtown", ncpdp_id="3334445", organization=org)


def test_sending_stock_to_a_sister_site(technician, site, lot, downtown):
    client = client_of(technician)
    url = reverse("inventory_transfer_create")

    form = text_of(client.get(url))
    response = client.post(
        url, {"to_site": str(downtown.pk), f"qty_{lot.pk}": "6", "note": "they ran out"}
    )

    transfer = StockTransfer.objects.get()
    assert f'<option value="{downtown.pk}">Downtown</option>' in form
    assert f'name="qty_{lot.pk}"' in form
    assert response.status_code == 302
    assert response["Location"] == f"/inventory/transfers/{transfer.pk}/"
    assert (transfer.to_site, transfer.note) == (downtown, "they ran out")
    lot.refresh_from_db()
    assert lot.on_hand == Decimal("94")
    assert last_event().action == "inventory.transfer.sent"


def test_a_transfer_with_too_much_shows_the_error_beside_the_lot(technician, lot, downtown):
    with nothing_written():
        response = client_of(technician).post(
            reverse("inventory_transfer_create"),
            {"to_site": str(downtown.pk), f"qty_{lot.pk}": "0"},
        )

    assert response.status_code == 422
    assert error_beside(response, f"qty_{lot.pk}") == "The quantity must be more than zero."


def test_a_transfer_with_no_lines_is_refused(technician, lot, downtown):
    with nothing_written():
        response = client_of(technician).post(
            reverse("inventory_transfer_create"), {"to_site": str(downtown.pk)}
        )

    assert response.status_code == 422
    assert "Type the quantity of at least one lot." in text_of(response)


def test_the_receiving_site_checks_a_transfer_in(technician, site, lot, downtown):
    there = UserFactory(site=downtown, role="technician", username="downtown-tech")
    StorageLocation.objects.create(site=downtown, code="R-1", name="Receiving")
    transfer = stock_transfer_send(
        actor=technician, to_site=downtown, lines=[{"balance": lot.pk, "quantity": "5"}]
    )
    detail = reverse("inventory_transfer_detail", args=[transfer.pk])

    at_sender = text_of(client_of(technician).get(detail))
    at_receiver = text_of(client_of(there).get(detail))
    listed = text_of(client_of(there).get(reverse("inventory_transfers") + "?direction=in"))
    response = client_of(there).post(
        reverse("inventory_transfer_receive", args=[transfer.pk]), {"location": "R-1"}
    )
    again = client_of(there).post(reverse("inventory_transfer_receive", args=[transfer.pk]), {})

    assert "Receive into stock" not in at_sender
    assert "Receive into stock" in at_receiver and 'value="R-1"' in at_receiver
    assert "to receive" in listed
    assert response.status_code == 302 and again.status_code == 302
    transfer.refresh_from_db()
    assert transfer.status == TransferStatus.RECEIVED
    arrived = StockBalance.objects.get(site=downtown, lot=lot.lot)
    assert (arrived.on_hand, arrived.location.code) == (Decimal("5"), "R-1")
    assert StockMove.objects.filter(site=downtown).count() == 1


def test_the_sender_cannot_receive_its_own_transfer(technician, lot, downtown):
    transfer = stock_transfer_send(
        actor=technician, to_site=downtown, lines=[{"balance": lot.pk, "quantity": "5"}]
    )
    with nothing_written():
        response = client_of(technician).post(
            reverse("inventory_transfer_receive", args=[transfer.pk]), {}
        )
    assert response.status_code == 403


def test_the_transfer_list_costs_a_fixed_number_of_queries(
    technician, site, lot, downtown, django_assert_max_num_queries
):
    for _ in range(10):
        stock_transfer_send(
            actor=technician, to_site=downtown, lines=[{"balance": lot.pk, "quantity": "1"}]
        )
    client = client_of(technician)

    with django_assert_max_num_queries(8):
        response = client.get(reverse("inventory_transfers"))

    assert text_of(response).count("data-result") == 10
    assert quote("in") in text_of(response)
