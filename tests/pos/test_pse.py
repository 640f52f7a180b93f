"""Pseudoephedrine/ephedrine sales (CMEA): the purchaser's ID, the limits counted over the
logbook, the logbook itself and its export, through the services, the API, the screens and
the CLI; and the catalog's CMEA flag."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import io
import json
import threading
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection, models, transaction
from django.test import Client
from django.urls import reverse

from rxdesk.catalog import services as catalog_services
from rxdesk.catalog.models import PackagePrice, Product
from rxdesk.core.errors import Conflict, Forbidden, Invalid, NotFound
from rxdesk.core.models import AuditEvent
from rxdesk.pos.choices import LineKind
from rxdesk.pos.models import PosSettings, PseEntry, Sale, SaleLine
from rxdesk.pos.services import pse
from rxdesk.pos.services.pse import Purchaser
from tests.conftest import last_event
from tests.factories import UserFactory
from tests.pos.factories import cmea_package, otc_package, signature
from tests.pos.matrix_pse import btc_package

D = Decimal
SIG = signature()


def person(site, **over) -> Purchaser:
    values = {
        "first_name": "Dana",
        "last_name": "Reyes",
        "date_of_birth": dt.date(1985, 3, 14),
        "address_line1": "12 Elm St",
        "address_line2": "",
        "city": "Springfield",
        "state": "IL",
        "postal_code": "62704",
        "id_type": "drivers_license",
        "id_number": "R123-4567-8901",
        "id_state": "IL",
        "id_expiry": site.today() + dt.timedelta(days=400),
    }
    values.update(over)
    return Purchaser(**values)


def new_sale(user) -> Sale:
    return Sale.objects.create(site=user.site, started_by=user)


def sell(user, package, packages=1, sale=None, **over):
    mail = over.pop("mail_order", False)
    return pse.pse_add(
        actor=user,
        sale=sale or new_sale(user),
        code=package.ndc10,
        packages=packages,
        purchaser=person(user.site, **over),
        signature=SIG,
        mail_order=mail,
    )


def counts() -> tuple[int, int, int]:
    return PseEntry.objects.count(), SaleLine.objects.count(), AuditEvent.objects.count()


def backdate(line: SaleLine, days: int, hour: int = 12) -> None:
    site = line.sale.site
    day = site.today() - dt.timedelta(days=days)
    when = dt.datetime.combine(day, dt.time(hour), tzinfo=site.tz)
    # Test set-up only: the plain QuerySet.update gets past the logbook's guard.
    models.QuerySet.update(PseEntry.objects.filter(line=line), sold_at=when)


@pytest.fixture
def pse30(db):
    """PSE HCl 30 mg, 24 tablets: 24.579 mg base a tablet, 589.896 mg a package."""
    return btc_package(strength="30", count="24", retail="7.49")


# --- The purchaser ---------------------------------------------------------------------------


def test_a_complete_purchaser_has_no_problems(site):
    assert pse.purchaser_problems(person(site), site.today()) == []


def test_it_names_every_missing_field(site):
    blank = Purchaser(**{f.name: "" for f in dataclasses.fields(Purchaser)})
    fields = [p["field"] for p in pse.purchaser_problems(blank, site.today())]
    assert fields == [
        "first_name",
        "last_name",
        "date_of_birth",
        "address_line1",
        "city",
        "state",
        "postal_code",
        "id_type",
        "id_number",
        "id_expiry",
    ]


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"state": "XX"}, "state"),
        ({"postal_code": "6270"}, "postal_code"),
        ({"id_type": "library_card"}, "id_type"),
        ({"id_state": ""}, "id_state"),
        ({"id_state": "ZZ"}, "id_state"),
        ({"id_number": "R12<script>"}, "id_number"),
        ({"first_name": "A" * 61}, "first_name"),
    ],
)
def test_it_refuses_a_bad_detail(site, over, field):
    problems = pse.purchaser_problems(person(site, **over), site.today())
    assert [p["field"] for p in problems] == [field]


def test_it_refuses_an_expired_id_but_not_one_expiring_today(site):
    today = site.today()
    expired = pse.purchaser_problems(person(site, id_expiry=today - dt.timedelta(days=1)), today)
    assert [p["field"] for p in expired] == ["id_expiry"]
    assert "expired" in expired[0]["message"]
    assert pse.purchaser_problems(person(site, id_expiry=today), today) == []


def test_a_passport_needs_no_state(site):
    assert pse.purchaser_problems(person(site, id_type="passport", id_state=""), site.today()) == []


def test_it_applies_the_states_minimum_age(site):
    today = site.today()
    seventeen = today.replace(year=today.year - 18) + dt.timedelta(days=1)
    eighteen = today.replace(year=today.year - 18)
    too_young = pse.purchaser_problems(person(site, date_of_birth=seventeen), today, minimum_age=18)
    assert [p["field"] for p in too_young] == ["date_of_birth"]
    assert pse.purchaser_problems(person(site, date_of_birth=eighteen), today, minimum_age=18) == []
    assert pse.purchaser_problems(person(site, date_of_birth=seventeen), today) == []


def test_keys_ignore_case_spaces_and_dashes():
    assert pse.id_key("il", "r123 4567-8901") == "IL:R12345678901"
    assert pse.name_key("Dana", "O'Brien") == "OBRIEN|DANA"
    assert pse.id_key("IL", "") == ""


# --- Selling ---------------------------------------------------------------------------------


def test_it_sells_and_writes_the_line_and_every_logbook_field(technician, pse30):
    sale = new_sale(technician)
    line = sell(technician, pse30, packages=2, sale=sale)

    assert (line.kind, line.package_id, line.quantity, line.unit_price, line.amount) == (
        LineKind.PSE,
        pse30.pk,
        D(2),
        D("7.49"),
        D("14.98"),
    )
    assert (line.taxable, line.fsa_eligible, line.pse_base_mg) == (True, True, D("1179.80"))
    sale.refresh_from_db()
    assert sale.total == D("14.98")
    entry = PseEntry.objects.get()
    p = person(technician.site)
    assert {f: getattr(entry, f) for f in ("first_name", "last_name", "date_of_birth", "city")} == {
        "first_name": "Dana",
        "last_name": "Reyes",
        "date_of_birth": p.date_of_birth,
        "city": "Springfield",
    }
    assert (entry.address_line1, entry.state, entry.postal_code) == ("12 Elm St", "IL", "62704")
    assert (entry.id_type, entry.id_number, entry.id_state, entry.id_expiry) == (
        "drivers_license",
        "R123-4567-8901",
        "IL",
        p.id_expiry,
    )
    assert (entry.id_key, entry.name_key) == ("IL:R12345678901", "REYES|DANA")
    assert (entry.site, entry.sale, entry.line, entry.sold_by) == (
        technician.site,
        sale,
        line,
        technician,
    )
    assert (entry.package, entry.ndc11, entry.packages) == (pse30, pse30.ndc11, 2)
    assert (entry.dosage_units, entry.base_mg, entry.mail_order) == (D(48), D("1179.80"), False)
    assert bytes(entry.signature) == SIG and len(entry.signature_sha256) == 64
    assert entry.product_name.startswith("Sudafed 30")


def test_it_audits_the_sale_without_the_id_or_the_name(technician, pse30):
    line = sell(technician, pse30)
    event = last_event()
    data = json.loads(event.data)
    assert (event.action, event.object_type, event.object_id) == (
        "pos.pse.sold",
        "pos.sale",
        str(line.sale_id),
    )
    assert data["line"] == line.pk and data["packages"] == 1 and data["base_mg"] == "589.90"
    assert "R123" not in event.data and "Reyes" not in event.data and "signature" not in event.data


@pytest.mark.parametrize("role", ["trainee", "auditor", "inventory", "admin_user"])
def test_roles_without_pse_sell_cannot_sell(request, technician, pse30, role):
    sale = new_sale(technician)
    before = counts()
    with pytest.raises(Forbidden):
        sell(request.getfixturevalue(role), pse30, sale=sale)
    assert counts() == before


def test_another_pharmacys_sale_does_not_exist(technician, outsider, pse30):
    sale = new_sale(outsider)
    with pytest.raises(NotFound):
        sell(technician, pse30, sale=sale)
    assert PseEntry.objects.count() == 0


@pytest.mark.parametrize("packages", [0, 21, -1, True, "2"])
def test_it_refuses_a_bad_package_count(technician, pse30, packages):
    sale = new_sale(technician)
    before = counts()
    with pytest.raises(Invalid) as exc:
        sell(technician, pse30, packages=packages, sale=sale)
    assert exc.value.field == "packages" and counts() == before


def test_it_refuses_bad_purchaser_details_naming_each_field(technician, pse30):
    sale = new_sale(technician)
    before = counts()
    with pytest.raises(Invalid) as exc:
        sell(technician, pse30, sale=sale, state="", id_expiry=dt.date(2000, 1, 1))
    assert [e["field"] for e in exc.value.errors] == ["state", "id_expiry"]
    assert counts() == before


@pytest.mark.parametrize("sig", [None, b"GIF89a" + bytes(200), "not base64!"])
def test_it_needs_a_drawn_signature(technician, pse30, sig):
    before = counts()
    with pytest.raises(Invalid) as exc:
        pse.pse_add(
            actor=technician,
            sale=new_sale(technician),
            code=pse30.ndc10,
            packages=1,
            purchaser=person(technician.site),
            signature=sig,
        )
    assert exc.value.field == "signature" and counts() == before


def test_it_takes_a_canvas_data_url(technician, pse30):
    url = "data:image/png;base64," + base64.b64encode(SIG).decode()
    line = pse.pse_add(
        actor=technician,
        sale=new_sale(technician),
        code=pse30.ndc11,
        packages=1,
        purchaser=person(technician.site),
        signature=url,
    )
    assert bytes(line.pse_entry.signature) == SIG


def test_an_ordinary_otc_item_is_not_sold_as_pse(technician):
    package = otc_package()
    sale = new_sale(technician)
    before = counts()
    with pytest.raises(Conflict) as exc:
        sell(technician, package, sale=sale)
    assert exc.value.field == "code" and "ordinary item" in exc.value.message
    assert counts() == before


def test_a_cmea_product_without_a_base_cannot_be_sold(technician):
    package = cmea_package()
    Product.objects.filter(pk=package.product_id).update(cmea=True, cmea_base_mg=None)
    with pytest.raises(Conflict) as exc:
        sell(technician, package)
    assert exc.value.field == "code" and "base amount" in exc.value.message
    assert PseEntry.objects.count() == 0


def test_a_product_without_a_price_cannot_be_sold(technician, pse30):
    PackagePrice.objects.filter(package=pse30).delete()
    with pytest.raises(Conflict) as exc:
        sell(technician, pse30)
    assert exc.value.field == "code" and "no shelf price" in exc.value.message


def test_a_completed_sale_takes_no_more_lines(technician, pse30):
    sale = new_sale(technician)
    Sale.objects.filter(pk=sale.pk).update(status="completed")
    with pytest.raises(Conflict) as exc:
        sell(technician, pse30, sale=sale)
    assert exc.value.field == "sale" and PseEntry.objects.count() == 0


# --- The limits, at their boundaries, with real strengths -------------------------------------


@pytest.mark.parametrize(
    ("salt", "mg", "daily"),
    [
        ("PSEUDOEPHEDRINE HYDROCHLORIDE", "30", 146),
        ("PSEUDOEPHEDRINE HYDROCHLORIDE", "60", 73),
        ("PSEUDOEPHEDRINE HYDROCHLORIDE", "120", 36),
        ("PSEUDOEPHEDRINE SULFATE", "120", 38),
        ("EPHEDRINE SULFATE", "25", 186),
    ],
)
def test_it_sells_exactly_the_daily_count_and_refuses_one_tablet_more(technician, salt, mg, daily):
    at_limit = btc_package(salt=salt, strength=mg, count=str(daily))
    one_more = btc_package(salt=salt, strength=mg, count=str(daily + 1))
    with pytest.raises(Conflict) as exc:
        sell(technician, one_more)
    assert exc.value.field == "packages"
    assert exc.value.extra["limit"] == "daily" and exc.value.extra["max_units"] == daily
    assert PseEntry.objects.count() == 0
    line = sell(technician, at_limit)
    assert line.pse_base_mg <= D(3600)


def test_the_refusal_says_grams_the_limit_and_what_is_still_allowed(technician, pse30):
    sell(technician, pse30, packages=6)  # 3539.376 mg: 3.539 g of base today
    with pytest.raises(Conflict) as exc:
        sell(technician, pse30, packages=1)
    assert exc.value.message == (
        "Over the pseudoephedrine/ephedrine limit: this sale would make 4.129 g of base today; "
        "the limit is 3.6 g a day. Nothing more can be sold to this purchaser now "
        "(at most 2 tablets or capsules)."
    )


def test_it_counts_lines_already_on_the_same_sale(technician, pse30):
    sale = new_sale(technician)
    sell(technician, pse30, packages=6, sale=sale)
    with pytest.raises(Conflict):
        sell(technician, pse30, packages=1, sale=sale)
    assert SaleLine.objects.filter(sale=sale).count() == 1


def test_it_matches_the_purchaser_by_id_or_by_name_and_birth_date(technician, pse30):
    sell(technician, pse30, packages=6)
    # Another ID, same name and birth date.
    with pytest.raises(Conflict):
        sell(technician, pse30, id_type="passport", id_state="", id_number="X99")
    # The same ID, the name spelled another way.
    with pytest.raises(Conflict):
        sell(
            technician, pse30, first_name="DANA ", last_name="Reyes-Cruz", id_number="r12345678901"
        )
    # Someone else entirely.
    assert sell(
        technician, pse30, first_name="Ana", id_number="Z1", date_of_birth=dt.date(1990, 1, 1)
    )


def test_yesterdays_purchases_free_the_day_but_count_in_30_days(technician, pse30):
    for days in (1, 2, 3):
        backdate(sell(technician, pse30, packages=5), days)  # 2949.48 mg each: 8848.44
    standing = pse.pse_limits(actor=technician, purchaser=person(technician.site))
    assert (standing.today_mg, standing.thirty_day_mg) == (D(0), D("8848.44"))
    assert standing.left_thirty_day_mg == D("151.56")
    with pytest.raises(Conflict) as exc:
        sell(technician, pse30, packages=1)
    assert exc.value.extra["limit"] == "30-day" and exc.value.extra["max_units"] == 6


def test_the_30_days_include_today_and_the_29_days_before(technician, pse30):
    backdate(sell(technician, pse30, packages=6), 29, hour=0)
    backdate(sell(technician, pse30, packages=6), 30, hour=23)
    standing = pse.pse_limits(actor=technician, purchaser=person(technician.site))
    assert standing.thirty_day_mg == D("3539.38")


def test_voided_entries_do_not_count(technician, pse30):
    line = sell(technician, pse30, packages=6)
    assert pse.pse_entries_void(sale=line.sale, reason="cancelled", actor=technician) == 1
    assert sell(technician, pse30, packages=6)
    entry = PseEntry.objects.get(line=line)
    assert (entry.void_reason, entry.voided_at is not None) == ("cancelled", True)


def test_other_pharmacies_logbooks_do_not_count(technician, outsider, pse30):
    outsider_pharmacist = UserFactory(site=outsider.site, role="pharmacist", username="rph2")
    sell(outsider_pharmacist, pse30, packages=6)
    assert sell(technician, pse30, packages=6)


def test_mail_orders_stop_at_7_5_grams(technician, pse30):
    for days in (1, 2):
        backdate(sell(technician, pse30, packages=6, mail_order=True), days)  # 7078.75
    with pytest.raises(Conflict) as exc:
        sell(technician, pse30, packages=1, mail_order=True)
    assert exc.value.extra["limit"] == "mail"
    assert sell(technician, pse30, packages=1)  # at the counter the 9 g still applies


def test_a_states_lower_limit_applies(technician, pse30):
    PosSettings.objects.create(site=technician.site, pse_daily_mg=D("1000"))
    with pytest.raises(Conflict) as exc:
        sell(technician, pse30, packages=2)
    assert "the limit is 1 g a day" in exc.value.message
    assert sell(technician, pse30, packages=1)


def test_the_standing_needs_pse_sell_and_an_identity(technician, trainee):
    with pytest.raises(Forbidden):
        pse.pse_limits(actor=trainee, purchaser=person(trainee.site))
    nobody = person(technician.site, id_number="", date_of_birth=None)
    with pytest.raises(Invalid) as exc:
        pse.pse_limits(actor=technician, purchaser=nobody)
    assert exc.value.errors[0]["field"] == "id_number"


# --- The logbook is append-only ---------------------------------------------------------------


def test_an_entry_is_never_deleted_or_edited(technician, pse30):
    line = sell(technician, pse30)
    entry = PseEntry.objects.get(line=line)
    with pytest.raises(Conflict), transaction.atomic():
        entry.delete()
    with pytest.raises(Conflict), transaction.atomic():
        PseEntry.objects.filter(pk=entry.pk).delete()
    entry.last_name = "Smith"
    with pytest.raises(Conflict), transaction.atomic():
        entry.save()
    with pytest.raises(Conflict), transaction.atomic():
        PseEntry.objects.filter(pk=entry.pk).update(last_name="Smith")
    assert PseEntry.objects.get().last_name == "Reyes"


def test_an_entry_is_voided_once(technician, pse30):
    line = sell(technician, pse30)
    assert pse.pse_entries_void(sale=line.sale, reason="voided", actor=technician) == 1
    assert pse.pse_entries_void(sale=line.sale, reason="again", actor=technician) == 0
    entry = PseEntry.objects.get()
    assert entry.void_reason == "voided"
    entry.voided_at, entry.void_reason = None, ""
    with pytest.raises(Conflict), transaction.atomic():
        entry.save()


def test_only_the_named_lines_are_voided(technician, pse30):
    sale = new_sale(technician)
    first = sell(technician, pse30, sale=sale)
    sell(technician, pse30, sale=sale)
    assert pse.pse_entries_void(sale=sale, reason="refund", actor=technician, lines=[first.pk]) == 1
    assert PseEntry.objects.filter(voided_at__isnull=True).count() == 1


# --- The logbook ------------------------------------------------------------------------------


def test_the_log_lists_the_days_asked_and_logs_the_look(technician, pharmacist, pse30):
    kept = sell(technician, pse30)
    backdate(sell(technician, pse30), 10)
    today = technician.site.today()
    entries = pse.pse_log(actor=pharmacist, start=today - dt.timedelta(days=2), end=today)
    assert [e.line_id for e in entries] == [kept.pk]
    event = last_event()
    assert event.action == "pos.pse.log_viewed" and event.actor_name == "rph"
    assert json.loads(event.data)["entries"] == 1 and "Reyes" not in event.data


def test_the_log_searches_names_and_ndcs(technician, auditor, pse30):
    sell(technician, pse30)
    sell(technician, pse30, first_name="Ana", last_name="Lima", id_number="Z1")
    today = technician.site.today()
    by_name = pse.pse_log(actor=auditor, start=today, end=today, q="lima")
    assert [e.last_name for e in by_name] == ["Lima"]
    by_ndc = pse.pse_log(actor=auditor, start=today, end=today, q=pse30.ndc11)
    assert len(by_ndc) == 2


def test_the_log_is_for_pharmacists_and_auditors(technician, site):
    before = AuditEvent.objects.count()
    with pytest.raises(Forbidden):
        pse.pse_log(actor=technician, start=site.today(), end=site.today())
    assert AuditEvent.objects.count() == before


def test_the_log_refuses_dates_in_the_wrong_order(pharmacist, site):
    with pytest.raises(Invalid) as exc:
        pse.pse_log(actor=pharmacist, start=site.today(), end=site.today() - dt.timedelta(days=1))
    assert exc.value.field == "end"


def test_the_csv_holds_every_logbook_column(technician, pharmacist, pse30):
    line = sell(technician, pse30, address_line2="=HYPERLINK(1)")
    pse.pse_entries_void(sale=line.sale, reason="wrong purchaser", actor=technician)
    today = technician.site.today()
    text = pse.pse_log_csv(pse.pse_log(actor=pharmacist, start=today, end=today))
    rows = [r.split(",") for r in text.strip().split("\r\n")]
    assert rows[0] == list(pse.LOG_COLUMNS)
    row = dict(zip(rows[0], rows[1], strict=True))
    assert (row["last_name"], row["first_name"], row["date_of_birth"]) == (
        "Reyes",
        "Dana",
        "1985-03-14",
    )
    assert (row["id_number"], row["id_state"], row["packages"], row["dosage_units"]) == (
        "R123-4567-8901",
        "IL",
        "1",
        "24",
    )
    assert (row["base_mg"], row["ndc"], row["seller"]) == ("589.90", pse30.ndc11, "tech")
    assert row["address_line2"] == "'=HYPERLINK(1)"
    assert row["void_reason"] == "wrong purchaser" and row["voided_at"]
    assert row["sold_at"].startswith(today.isoformat())


def test_it_keeps_two_years(site):
    today = site.today()
    since = pse.pse_log_retained_since(site)
    assert since.year == today.year - 2 and (today - since).days in (730, 731)


# --- The catalog's CMEA flag ------------------------------------------------------------------


def test_the_pic_flags_a_product_cmea_with_its_base(pic):
    product = cmea_package().product
    catalog_services.product_flags_update(
        actor=pic, product=product, cmea=True, cmea_base_mg="24.579"
    )
    product.refresh_from_db()
    assert (product.cmea, product.cmea_base_mg) == (True, D("24.579"))
    data = json.loads(last_event().data)
    assert data["after"] == {"cmea": True, "cmea_base_mg": "24.5790"}


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"cmea": True}, "cmea_base_mg"),
        ({"cmea": True, "cmea_base_mg": "0"}, "cmea_base_mg"),
        ({"cmea": True, "cmea_base_mg": "1000.5"}, "cmea_base_mg"),
        ({"cmea": True, "cmea_base_mg": "abc"}, "cmea_base_mg"),
        ({"cmea": True, "cmea_base_mg": "1.00001"}, "cmea_base_mg"),
        ({"cmea": "yes", "cmea_base_mg": "20"}, "cmea"),
    ],
)
def test_it_refuses_a_cmea_flag_without_a_sound_base(pic, values, field):
    product = cmea_package().product
    before = AuditEvent.objects.count()
    with pytest.raises(Invalid) as exc:
        catalog_services.product_flags_update(actor=pic, product=product, **values)
    assert field in [e["field"] for e in exc.value.errors]
    product.refresh_from_db()
    assert (product.cmea, product.cmea_base_mg, AuditEvent.objects.count()) == (False, None, before)


def test_a_technician_cannot_flag_cmea(technician):
    product = cmea_package().product
    with pytest.raises(Forbidden):
        catalog_services.product_flags_update(
            actor=technician, product=product, cmea=True, cmea_base_mg="24.579"
        )


FDA = Path("/work/shared/data/fda-ndc")


def _fda_lines(name: str, product_ndcs: set[str]) -> str:
    with (FDA / name).open(encoding="latin-1") as fh:
        header = fh.readline()
        lines = [line for line in fh if line.split("\t")[1] in product_ndcs]
    return header + "".join(lines)


@pytest.mark.skipif(not FDA.exists(), reason="the FDA NDC directory is not on this machine")
def test_the_importer_flags_otc_pse_products_and_not_rx_ones(tmp_path, pic):
    wanted = {"0113-0401", "0536-1850", "0085-1322", "0002-3227"}
    (tmp_path / "product.txt").write_text(_fda_lines("product.txt", wanted), encoding="utf-8")
    (tmp_path / "package.txt").write_text(_fda_lines("package.txt", wanted), encoding="utf-8")
    catalog_services.catalog_import_ndc(
        actor=pic, product_file=tmp_path / "product.txt", package_file=tmp_path / "package.txt"
    )
    flags = {p.product_ndc: (p.cmea, p.cmea_base_mg) for p in Product.objects.all()}
    assert flags["0113-0401"] == (True, D("24.579"))  # Zephrex D, PSE HCl 30 mg
    assert flags["0536-1850"] == (True, D("4.9158"))  # PSE HCl 30 mg/5 mL, per mL
    assert flags["0085-1322"] == (False, None)  # a prescription PSE product is not CMEA


# --- API --------------------------------------------------------------------------------------


def api(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def body(site, package, **over):
    from tests.pos.matrix_pse import purchaser

    return {
        "code": package.ndc10,
        "packages": 1,
        "purchaser": purchaser(site),
        "signature": base64.b64encode(SIG).decode(),
        **over,
    }


def test_the_api_sells_and_answers_the_line(technician, pse30):
    sale = new_sale(technician)
    response = api(technician).post(
        f"/api/v1/pos/sales/{sale.pk}/pse",
        body(technician.site, pse30, packages=2),
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    line = SaleLine.objects.get()
    assert response.json() == {
        "id": line.pk,
        "sale_id": sale.pk,
        "description": line.description,
        "packages": 2,
        "unit_price": "7.49",
        "amount": "14.98",
        "tax": "0.00",
        "base_mg": "1179.80",
        "sale_total": "14.98",
    }


def test_the_api_answers_409_naming_packages_over_the_limit(technician, pse30):
    sale = new_sale(technician)
    response = api(technician).post(
        f"/api/v1/pos/sales/{sale.pk}/pse",
        body(technician.site, pse30, packages=7),
        content_type="application/json",
    )
    assert response.status_code == 409
    problem = response.json()
    assert problem["errors"][0]["field"] == "packages" and problem["max_units"] == 146
    assert PseEntry.objects.count() == 0


def test_the_api_answers_422_for_bad_input(technician, pse30):
    sale = new_sale(technician)
    client = api(technician)
    bad = body(technician.site, pse30, packages=0)
    response = client.post(f"/api/v1/pos/sales/{sale.pk}/pse", bad, content_type="application/json")
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "packages"
    expired = body(technician.site, pse30)
    expired["purchaser"]["id_expiry"] = "2001-01-01"
    response = client.post(
        f"/api/v1/pos/sales/{sale.pk}/pse", expired, content_type="application/json"
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "id_expiry"
    assert PseEntry.objects.count() == 0


def test_the_api_gives_the_standing(technician, pse30):
    from tests.pos.matrix_pse import purchaser

    sell(technician, pse30)
    response = api(technician).post(
        "/api/v1/pos/pse/limits",
        {"purchaser": purchaser(technician.site)},
        content_type="application/json",
    )
    assert response.status_code == 200
    assert response.json() == {
        "today_mg": "589.90",
        "thirty_day_mg": "589.90",
        "mail_thirty_day_mg": "0.00",
        "left_today_mg": "3010.10",
        "left_thirty_day_mg": "8410.10",
        "daily_limit_mg": "3600",
        "thirty_day_limit_mg": "9000",
        "mail_thirty_day_limit_mg": "7500",
        "mail_order": False,
    }


def test_the_api_gives_the_log_as_json_and_csv(technician, pharmacist, pse30):
    sell(technician, pse30)
    today = technician.site.today()
    client = api(pharmacist)
    response = client.get(f"/api/v1/pos/pse/log?start={today}&end={today}")
    assert response.status_code == 200
    assert [e["last_name"] for e in response.json()["entries"]] == ["Reyes"]
    csv_response = client.get(f"/api/v1/pos/pse/log?start={today}&end={today}&format=csv")
    assert csv_response.status_code == 200 and csv_response["Content-Type"].startswith("text/csv")
    assert csv_response.content.decode().count("\r\n") == 2


# --- Screens ----------------------------------------------------------------------------------


def form_data(site, package, **over):
    p = person(site)
    data = {
        "code": package.ndc10,
        "packages": "1",
        "first_name": p.first_name,
        "last_name": p.last_name,
        "date_of_birth": "03/14/1985",
        "address_line1": p.address_line1,
        "city": p.city,
        "state": p.state,
        "postal_code": p.postal_code,
        "id_type": p.id_type,
        "id_number": p.id_number,
        "id_state": p.id_state,
        "id_expiry": p.id_expiry.strftime("%m/%d/%Y"),
        "signature": "data:image/png;base64," + base64.b64encode(SIG).decode(),
    }
    data.update(over)
    return data


def test_the_form_sells_and_goes_back_to_the_sale(technician, pse30):
    sale = new_sale(technician)
    client = api(technician)
    url = reverse("pse_sale", kwargs={"pk": sale.pk})
    page = client.get(url)
    assert page.status_code == 200 and b"data-signature-for" in page.content
    assert b"Section 1001" in page.content
    response = client.post(url, form_data(technician.site, pse30))
    assert response.status_code == 302
    assert response["Location"] == reverse("counter_pay", kwargs={"pk": sale.pk})
    assert PseEntry.objects.filter(sale=sale).count() == 1


def test_the_form_shows_the_refusal_in_words(technician, pse30):
    sale = new_sale(technician)
    response = api(technician).post(
        reverse("pse_sale", kwargs={"pk": sale.pk}), form_data(technician.site, pse30, packages="7")
    )
    assert response.status_code == 409
    assert b"the limit is 3.6 g a day" in response.content
    assert PseEntry.objects.count() == 0


def test_the_form_checks_the_limits_without_selling(technician, pse30):
    sell(technician, pse30)
    sale = new_sale(technician)
    data = form_data(technician.site, pse30, check="1")
    response = api(technician).post(reverse("pse_sale", kwargs={"pk": sale.pk}), data)
    assert response.status_code == 200 and b"589.90 mg" in response.content
    assert PseEntry.objects.count() == 1


def test_the_log_page_and_its_csv(technician, pharmacist, pse30):
    sell(technician, pse30)
    client = api(pharmacist)
    page = client.get(reverse("pse_log"))
    assert page.status_code == 200
    assert b"Reyes" in page.content and b"Section 1001" in page.content
    assert b"kept two years" in page.content
    csv_page = client.get(reverse("pse_log") + "?format=csv")
    assert csv_page.status_code == 200 and b"Reyes" in csv_page.content
    bad = client.get(reverse("pse_log") + "?start=02/01/2025&end=01/01/2025")
    assert bad.status_code == 422


# --- CLI --------------------------------------------------------------------------------------


def test_the_cli_writes_the_log(technician, pse30, tmp_path):
    sell(technician, pse30)
    today = technician.site.today().isoformat()
    out = io.StringIO()
    target = tmp_path / "log.csv"
    call_command(
        "pos", "pse-log", "--site", str(technician.site_id), "--from", today, "--to", today,
        "--out", str(target), stdout=out,
    )  # fmt: skip
    assert "1 logbook entry written" in out.getvalue()
    assert target.read_text().splitlines()[0].startswith("entry,sold_at")
    event = last_event()
    assert (event.action, event.actor_kind) == ("pos.pse.log_viewed", "system")


# --- Concurrency (PostgreSQL) -----------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_counters_cannot_both_pass_the_limit(site, pse30):
    tech1 = UserFactory(site=site, role="technician", username="counter1")
    tech2 = UserFactory(site=site, role="technician", username="counter2")
    sales = [new_sale(tech1), new_sale(tech2)]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def run(user, sale):
        try:
            barrier.wait()
            sell(user, pse30, packages=4, sale=sale)  # 2.36 g each: only one fits in 3.6 g
            outcomes.append("sold")
        except Conflict:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [
        threading.Thread(target=run, args=(u, s))
        for u, s in zip((tech1, tech2), sales, strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["refused", "sold"]
    assert PseEntry.objects.count() == 1
