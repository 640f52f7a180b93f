"""Med paks (customized patient medication packages) through the services: two or more of
the patient's filled tablets or capsules, the slots, the totals against what was filled,
the lots and their expiries from the fills' stock moves, the description on file or typed,
the beyond-use date (the site's days, at most 60, never past the earliest expiry), no stock
moved, the pharmacist's check by a second person, audit with the patient, forbidden roles."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from rxdesk.core.errors import Conflict, Forbidden, Invalid, NotFound
from rxdesk.core.models import AuditEvent
from rxdesk.institutional import services_packaging as services
from rxdesk.institutional.choices import PackagingStatus, RepackRule
from rxdesk.institutional.models import Appearance, MedPak, MedPakItem
from rxdesk.inventory.models import StockMove
from tests.conftest import audit_count, last_event
from tests.factories import PatientFactory
from tests.institutional.factories import resident
from tests.institutional.matrix_packaging import (
    checker_of,
    filled,
    maker_of,
    pak_values,
    two_fills,
    with_looks,
)

pytestmark = pytest.mark.django_db


def _make(site, actor=None, **over):
    patient, a, b = two_fills(site)
    return services.med_pak_create(
        actor=actor or maker_of(site), **pak_values(site, patient, a, b, **over)
    )


def _refused(site, field, **over):
    patient, a, b = two_fills(site)
    values = pak_values(site, patient, a, b)
    for key, value in over.items():
        values[key] = value(a, b) if callable(value) else value
    before = (MedPak.objects.count(), audit_count())
    with pytest.raises(Invalid) as caught:
        services.med_pak_create(actor=maker_of(site), **values)
    assert caught.value.field == field, caught.value.message
    assert (MedPak.objects.count(), audit_count()) == before
    return caught.value


def test_a_med_pak_is_prepared_from_two_filled_fills(site):
    patient, a, b = two_fills(site)
    moves = StockMove.objects.count()
    today = site.today()

    pak = services.med_pak_create(actor=maker_of(site), **pak_values(site, patient, a, b))

    assert pak.number == f"MP{today:%y%m%d}-001"
    assert pak.status == PackagingStatus.MADE
    assert pak.slots == ["morning", "bedtime"]
    assert pak.bud == today + dt.timedelta(days=60)
    assert pak.bud_rule == f"60 days from preparation ({pak.bud:%m/%d/%Y})"
    items = list(pak.items.order_by("id"))
    assert [i.fill_id for i in items] == [a.pk, b.pk]
    assert [i.lot.number for i in items] == ["FA1", "FB1"]
    assert items[0].per_slot == {"morning": "1"}
    assert items[0].total_quantity == Decimal("7")
    assert items[0].description == "green oblong capsule, imprint DISTA 3105"
    assert StockMove.objects.count() == moves  # the fills already took the stock
    event = last_event()
    assert event.action == "institutional.med_pak.created"
    assert event.patient_id == patient.pk


def test_one_drug_is_refused(site):
    error = _refused(
        site, "items", items=lambda a, b: [{"fill_id": a.pk, "per_slot": {"morning": "1"}}]
    )
    assert "two or more" in error.message


def test_another_patients_fill_is_refused(site):
    stranger = filled(site, PatientFactory(site=site), lot="FX1")
    error = _refused(
        site,
        "items[1].fill_id",
        items=lambda a, b: [
            {"fill_id": a.pk, "per_slot": {"morning": "1"}},
            {"fill_id": stranger.pk, "per_slot": {"morning": "1"}},
        ],
    )
    assert "another patient's" in error.message


def test_an_unfilled_fill_is_refused(site):
    def queued(a, b):
        b.status = "to_fill"
        b.save(update_fields=["status"])
        return [
            {"fill_id": a.pk, "per_slot": {"morning": "1"}},
            {"fill_id": b.pk, "per_slot": {"bedtime": "1"}},
        ]

    error = _refused(site, "items[1].fill_id", items=queued)
    assert "only a filled fill" in error.message


def test_a_fill_of_another_pharmacy_is_not_found(site, other_site):
    theirs = filled(other_site, PatientFactory(site=other_site), lot="FO1")
    _refused(
        site,
        "items[0].fill_id",
        items=lambda a, b: [
            {"fill_id": theirs.pk, "per_slot": {"morning": "1"}},
            {"fill_id": b.pk, "per_slot": {"bedtime": "1"}},
        ],
    )


def test_more_than_the_fill_holds_is_refused(site):
    # 30 capsules filled: 3 a day for 14 days is 42.
    error = _refused(
        site,
        "items[0].per_slot",
        days=14,
        items=lambda a, b: [
            {"fill_id": a.pk, "per_slot": {"morning": "2", "bedtime": "1"}},
            {"fill_id": b.pk, "per_slot": {"bedtime": "1"}},
        ],
    )
    assert "need 42" in error.message and "holds 30" in error.message


def test_the_total_may_use_the_whole_fill(site):
    patient, a, b = two_fills(site)
    values = pak_values(
        site,
        patient,
        a,
        b,
        days=15,
        items=[
            {"fill_id": a.pk, "per_slot": {"morning": "1", "bedtime": "1"}},
            {"fill_id": b.pk, "per_slot": {"bedtime": "0.5"}},
        ],
    )
    pak = services.med_pak_create(actor=maker_of(site), **values)
    totals = [i.total_quantity for i in pak.items.order_by("id")]
    assert totals == [Decimal("30"), Decimal("7.5")]


def test_a_slot_not_on_the_card_is_refused(site):
    _refused(
        site,
        "items[1].per_slot",
        items=lambda a, b: [
            {"fill_id": a.pk, "per_slot": {"morning": "1"}},
            {"fill_id": b.pk, "per_slot": {"noon": "1"}},
        ],
    )


@pytest.mark.parametrize("qty", ["-1", "abc", "0.3", "25"])
def test_bad_quantities_per_slot_are_refused(site, qty):
    _refused(
        site,
        "items[0].per_slot",
        items=lambda a, b: [
            {"fill_id": a.pk, "per_slot": {"morning": qty}},
            {"fill_id": b.pk, "per_slot": {"bedtime": "1"}},
        ],
    )


def test_a_liquid_is_refused(site):
    def to_liquid(a, b):
        from tests.institutional.matrix_packaging import liquid

        b.package = liquid()
        b.save(update_fields=["package"])
        return [
            {"fill_id": a.pk, "per_slot": {"morning": "1"}},
            {"fill_id": b.pk, "per_slot": {"bedtime": "1"}},
        ]

    error = _refused(site, "items[1]", items=to_liquid)
    assert "only tablets and capsules" in error.message


def test_a_description_is_required_when_none_is_on_file(site):
    def bare(a, b):
        Appearance.objects.filter(product=b.package.product).delete()
        return [
            {"fill_id": a.pk, "per_slot": {"morning": "1"}},
            {"fill_id": b.pk, "per_slot": {"bedtime": "1"}},
        ]

    _refused(site, "items[1].description", items=bare)


def test_a_typed_description_is_kept(site):
    patient, a, b = two_fills(site)
    values = pak_values(site, patient, a, b)
    values["items"][1]["description"] = "white round, imprint 54 411"
    pak = services.med_pak_create(actor=maker_of(site), **values)
    assert pak.items.order_by("id").last().description == "white round, imprint 54 411"


def test_the_earliest_expiry_limits_the_bud_and_the_card(site):
    patient = PatientFactory(site=site)
    today = site.today()
    soon = today + dt.timedelta(days=20)
    a = with_looks(filled(site, patient, lot="FS1", expiry=soon))
    b = with_looks(filled(site, patient, lot="FL1"))
    pak = services.med_pak_create(actor=maker_of(site), **pak_values(site, patient, a, b, days=7))
    assert pak.bud == soon
    assert "the earliest manufacturer's expiry" in pak.bud_rule
    with pytest.raises(Invalid) as caught:
        services.med_pak_create(
            actor=maker_of(site),
            **pak_values(site, patient, a, b, days=21, start_on=today + dt.timedelta(days=1)),
        )
    assert caught.value.field == "days"
    assert "past its beyond-use date" in caught.value.message


def test_the_sites_days_apply_and_never_exceed_60(site, pic):
    services.packaging_settings_save(
        actor=pic,
        repack_rule=RepackRule.STATE_12_MONTHS,
        repack_months=12,
        med_pak_days=10,
        discrepancy_hours=12,
    )
    pak = _make(site, days=7)
    assert pak.bud == site.today() + dt.timedelta(days=10)
    with pytest.raises(Invalid) as caught:
        _make(site, days=14)
    assert caught.value.field == "days"


@pytest.mark.parametrize(
    ("field", "over"),
    [
        ("days", {"days": 0}),
        ("days", {"days": 36}),
        ("slots", {"slots": []}),
        ("slots", {"slots": ["brunch"]}),
        ("design", {"design": " "}),
        ("consent_by", {"consent_by": ""}),
        ("container_class", {"container_class": "C"}),
        ("start_on", {"start_on": dt.date(2000, 1, 1)}),
    ],
)
def test_the_card_fields_are_checked(site, field, over):
    _refused(site, field, **over)


def test_the_same_prescription_twice_is_refused(site):
    _refused(
        site,
        "items[1].fill_id",
        items=lambda a, b: [
            {"fill_id": a.pk, "per_slot": {"morning": "1"}},
            {"fill_id": a.pk, "per_slot": {"bedtime": "1"}},
        ],
    )


def test_a_resident_must_be_the_patient(site):
    patient, a, b = two_fills(site)
    someone = resident(site)
    with pytest.raises(Invalid) as caught:
        services.med_pak_create(
            actor=maker_of(site), resident=someone, **pak_values(site, patient, a, b)
        )
    assert caught.value.field == "resident"
    mine = resident(site, patient=patient, room="102")
    pak = services.med_pak_create(
        actor=maker_of(site), resident=mine, **pak_values(site, patient, a, b)
    )
    assert pak.resident == mine


def test_roles_that_do_not_package_are_refused(site, trainee, auditor):
    patient, a, b = two_fills(site)
    before = (MedPak.objects.count(), MedPakItem.objects.count(), audit_count())
    for who in (trainee, auditor):
        with pytest.raises(Forbidden):
            services.med_pak_create(actor=who, **pak_values(site, patient, a, b))
    assert (MedPak.objects.count(), MedPakItem.objects.count(), audit_count()) == before


def test_another_pharmacys_patient_is_not_found(site, other_site):
    patient, a, b = two_fills(site)
    with pytest.raises(NotFound):
        services.med_pak_create(actor=maker_of(other_site), **pak_values(site, patient, a, b))


def test_the_check_is_by_a_second_pharmacist(site):
    pharmacist = checker_of(site)
    own = _make(site, actor=pharmacist)
    with pytest.raises(Conflict):
        services.med_pak_check(actor=pharmacist, pak=own)
    pak = _make(site)
    with pytest.raises(Forbidden):
        services.med_pak_check(actor=maker_of(site), pak=pak)
    done = services.med_pak_check(actor=pharmacist, pak=pak)
    assert done.status == PackagingStatus.CHECKED and done.checked_by == pharmacist
    event = AuditEvent.objects.order_by("-id").first()
    assert event.action == "institutional.med_pak.checked"
    assert event.patient_id == pak.patient_id
    with pytest.raises(Conflict):
        services.med_pak_check(actor=pharmacist, pak=done)
