"""Resolving cabinet discrepancies: the rules (open only, a known cause, an explanation, the
nurse, a re-authenticated witness for a controlled pocket), the Form 106 pointer for
suspected diversion of a controlled drug, the late flag, the audit event; nothing written
when refused; no stock moved."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.utils import timezone

from rxdesk.core.errors import Conflict, Forbidden, Invalid, NotFound
from rxdesk.core.models import AuditEvent
from rxdesk.institutional import queries_discrepancies as queries
from rxdesk.institutional import services_discrepancies as services
from rxdesk.institutional.choices import DiscrepancyStatus
from rxdesk.institutional.models import CabinetDiscrepancy, CabinetMove, Pocket
from tests.conftest import PASSWORD
from tests.institutional.factories import pocket_stock
from tests.institutional.matrix_discrepancies import counted_short, new_pocket, oxycodone

pytestmark = pytest.mark.django_db

EXPLAINED = "Recounted with the nurse: two tablets given, not documented."


def _events() -> int:
    return AuditEvent.objects.exclude(action__startswith="auth.").count()


def _resolve(actor, d, **over):
    values = {
        "cause": "undocumented_removal",
        "explanation": EXPLAINED,
        "nurse_name": "Dana Ruiz RN",
    }
    values.update(over)
    return services.discrepancy_resolve(actor=actor, discrepancy=d, **values)


def _unchanged(d: CabinetDiscrepancy) -> None:
    d.refresh_from_db()
    assert d.status == DiscrepancyStatus.OPEN
    assert (d.cause, d.explanation, d.nurse_name) == ("", "", "")
    assert d.resolved_by_id is None and d.resolved_at is None and d.witness_id is None


def test_it_resolves_an_open_discrepancy_and_records_who_and_when(site, pharmacist):
    d = counted_short(site)
    moves, on_hand = CabinetMove.objects.count(), Pocket.objects.get(pk=d.pocket_id).on_hand

    done = _resolve(pharmacist, d, explanation="  Recounted   with the nurse:  8 found. ")

    assert done.status == DiscrepancyStatus.RESOLVED
    assert done.cause == "undocumented_removal"
    assert done.explanation == "Recounted with the nurse: 8 found."
    assert done.nurse_name == "Dana Ruiz RN"
    assert done.resolved_by == pharmacist
    assert done.resolved_at is not None and done.witness is None
    # Resolution moves no stock: the count already set the pocket to 8.
    assert CabinetMove.objects.count() == moves
    assert Pocket.objects.get(pk=d.pocket_id).on_hand == on_hand == Decimal(8)
    event = AuditEvent.objects.order_by("-id").first()
    assert event.action == "institutional.discrepancy.resolved"
    assert event.object_id == str(d.pk)
    assert json.loads(event.data)["after"]["status"] == "resolved"
    assert json.loads(event.data)["after"]["cause"] == "undocumented_removal"
    assert json.loads(event.data)["after"]["late"] is False
    assert EXPLAINED[:20] not in event.data and "8 found" not in event.data  # no free text


def test_an_already_resolved_discrepancy_is_refused(site, pharmacist, pic):
    d = counted_short(site)
    _resolve(pharmacist, d)
    before = _events()

    with pytest.raises(Conflict) as caught:
        _resolve(pic, d, cause="miscount")

    assert "already resolved" in caught.value.message
    d.refresh_from_db()
    assert d.cause == "undocumented_removal" and d.resolved_by == pharmacist
    assert _events() == before


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"explanation": "recount"}, "explanation"),
        ({"explanation": "   "}, "explanation"),
        ({"explanation": "x" * 501}, "explanation"),
        ({"cause": "lost it"}, "cause"),
        ({"cause": ""}, "cause"),
        ({"nurse_name": " "}, "nurse_name"),
        ({"nurse_name": "N" * 81}, "nurse_name"),
    ],
)
def test_a_broken_rule_names_the_field_and_changes_nothing(site, pharmacist, over, field):
    d = counted_short(site)
    before = _events()

    with pytest.raises(Invalid) as caught:
        _resolve(pharmacist, d, **over)

    assert caught.value.errors[0]["field"] == field
    _unchanged(d)
    assert _events() == before


def test_the_explanation_asks_for_ten_characters(site, pharmacist):
    d = counted_short(site)
    with pytest.raises(Invalid) as caught:
        _resolve(pharmacist, d, explanation="miscount")
    assert caught.value.message == (
        "Explain what happened in at least 10 characters (what nursing and pharmacy found)."
    )


def test_every_missing_field_is_named_at_once(site, pharmacist):
    d = counted_short(site)
    with pytest.raises(Invalid) as caught:
        _resolve(pharmacist, d, cause="", explanation="", nurse_name="")
    assert [e["field"] for e in caught.value.errors] == ["cause", "explanation", "nurse_name"]
    _unchanged(d)


def test_a_controlled_pocket_needs_a_witness(site, pharmacist):
    d = counted_short(site, controlled=True)

    with pytest.raises(Invalid) as caught:
        _resolve(pharmacist, d)

    assert caught.value.field == "witness.username"
    assert caught.value.message == "Enter the witness's user name."
    _unchanged(d)


def test_a_scheduled_drug_needs_a_witness_even_in_a_pocket_not_flagged(site, pharmacist):
    bin_ = pocket_stock(new_pocket(site, pkg=oxycodone()), quantity=5)
    assert not bin_.controlled
    d = counted_short(site, controlled=False)
    CabinetDiscrepancy.objects.filter(pk=d.pk).update(package=bin_.package)
    d.refresh_from_db()

    with pytest.raises(Invalid) as caught:
        _resolve(pharmacist, d)
    assert caught.value.field == "witness.username"


def test_a_witness_with_a_wrong_password_changes_nothing(site, pharmacist, technician):
    d = counted_short(site, controlled=True)
    before = _events()

    with pytest.raises(Invalid) as caught:
        _resolve(pharmacist, d, witness={"username": technician.username, "password": "nope"})

    assert caught.value.field == "witness.password"
    assert caught.value.message == "The witness's password is not right."
    _unchanged(d)
    assert _events() == before  # only the failed witness sign-in (an auth.* event)
    assert AuditEvent.objects.filter(action="auth.witness_failed").count() == 1


def test_the_witness_cannot_be_the_one_resolving(site, pharmacist):
    d = counted_short(site, controlled=True)

    with pytest.raises(Invalid) as caught:
        _resolve(pharmacist, d, witness={"username": pharmacist.username, "password": PASSWORD})

    assert caught.value.field == "witness.username"
    assert "second person" in caught.value.message
    _unchanged(d)


def test_a_role_that_may_not_witness_is_refused_as_witness(site, pharmacist, inventory):
    d = counted_short(site, controlled=True)
    with pytest.raises(Invalid) as caught:
        _resolve(pharmacist, d, witness={"username": inventory.username, "password": PASSWORD})
    assert caught.value.field == "witness.username"
    _unchanged(d)


def test_a_controlled_pocket_is_resolved_with_a_witness(site, pharmacist, technician):
    d = counted_short(site, controlled=True)

    done = _resolve(pharmacist, d, witness={"username": technician.username, "password": PASSWORD})

    assert done.witness == technician
    event = AuditEvent.objects.filter(action="institutional.discrepancy.resolved").get()
    assert json.loads(event.data)["after"]["witness"] == technician.username
    assert json.loads(event.data)["controlled"] is True


def test_suspected_diversion_of_a_controlled_drug_points_to_form_106(site, pic, technician):
    d = counted_short(site, controlled=True)

    done = _resolve(
        pic,
        d,
        cause="diversion_suspected",
        witness={"username": technician.username, "password": PASSWORD},
    )

    step = services.follow_up(done)
    assert step is not None
    assert step.url_name == "cs_loss_create"
    assert step.message.startswith(
        "Diversion is suspected on a controlled drug: open a theft/loss report (DEA Form 106)."
    )


def test_other_causes_and_drugs_call_for_no_form_106(site, pharmacist, technician):
    plain = _resolve(pharmacist, counted_short(site), cause="diversion_suspected")
    controlled = _resolve(
        pharmacist,
        counted_short(site, controlled=True),
        cause="miscount",
        witness={"username": technician.username, "password": PASSWORD},
    )
    assert services.follow_up(plain) is None
    assert services.follow_up(controlled) is None
    assert services.follow_up(counted_short(site)) is None  # still open


def test_a_resolution_after_the_shift_is_flagged_late(site, pharmacist):
    opened = timezone.now() - dt.timedelta(hours=13)  # due 12 h later: an hour ago
    late = counted_short(site, opened_at=opened)
    on_time = counted_short(site)

    _resolve(pharmacist, late)
    _resolve(pharmacist, on_time)

    rows = {r.d.pk: r for r in queries.discrepancies(actor=pharmacist, site=site, status="all")}
    assert rows[late.pk].late is True
    assert rows[on_time.pk].late is False
    events = AuditEvent.objects.filter(action="institutional.discrepancy.resolved")
    assert [json.loads(e.data)["after"]["late"] for e in events.order_by("id")] == [True, False]


@pytest.mark.parametrize("who", ["technician", "trainee", "inventory", "auditor"])
def test_roles_without_adc_resolve_are_refused(site, who, request):
    actor = request.getfixturevalue(who)
    d = counted_short(site)
    before = _events()

    with pytest.raises(Forbidden):
        _resolve(actor, d)

    _unchanged(d)
    assert _events() == before


def test_another_pharmacys_discrepancy_does_not_exist(site, other_site, pharmacist):
    d = counted_short(other_site)
    with pytest.raises(NotFound):
        _resolve(pharmacist, d)
    _unchanged(d)
