"""Override removals (ISMP: review every removal taken without a verified order): reviewed
once, a follow-up needs a note, only override removals; the list waiting for review and
reviewed; forbidden roles; the API and the page with its inline review form."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.test import Client
from django.urls import reverse

from rxdesk.core.errors import Conflict, Forbidden, Invalid, NotFound
from rxdesk.core.models import AuditEvent, User
from rxdesk.institutional import queries_discrepancies as queries
from rxdesk.institutional import services_discrepancies as services
from rxdesk.institutional.choices import CabinetEvent
from rxdesk.institutional.models import OverrideReview
from tests.factories import PatientFactory
from tests.institutional.factories import pocket_stock
from tests.institutional.matrix_discrepancies import cabinet_event, new_pocket, override_removal

pytestmark = pytest.mark.django_db

API = "/api/v1/institutional/cabinet-overrides"


def _events() -> int:
    return AuditEvent.objects.exclude(action__startswith="auth.").count()


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_it_reviews_an_override_removal_once(site, pharmacist, pic):
    patient = PatientFactory(site=site)
    move = override_removal(site, patient=patient)

    review = services.override_review(actor=pharmacist, move=move, outcome="appropriate")

    assert review.move == move and review.reviewed_by == pharmacist
    assert review.outcome == "appropriate" and review.note == ""
    event = AuditEvent.objects.order_by("-id").first()
    assert event.action == "institutional.override.reviewed"
    assert event.patient_id == patient.pk
    assert json.loads(event.data)["after"] == {"outcome": "appropriate", "with_note": False}
    before = _events()

    with pytest.raises(Conflict) as caught:
        services.override_review(actor=pic, move=move, outcome="follow_up", note="Ask 3W")

    assert caught.value.message == "This override removal has already been reviewed."
    assert OverrideReview.objects.get().outcome == "appropriate"
    assert _events() == before


def test_a_follow_up_needs_a_note(site, pharmacist):
    move = override_removal(site)

    with pytest.raises(Invalid) as caught:
        services.override_review(actor=pharmacist, move=move, outcome="follow_up", note="  ")

    assert caught.value.field == "note"
    assert not OverrideReview.objects.exists()
    review = services.override_review(
        actor=pharmacist, move=move, outcome="follow_up", note="No order for the second dose."
    )
    assert review.note == "No order for the second dose."
    # The note is free text: it stays out of the audit log.
    assert "second dose" not in AuditEvent.objects.order_by("-id").first().data


def test_an_unknown_outcome_is_refused(site, pharmacist):
    move = override_removal(site)
    with pytest.raises(Invalid) as caught:
        services.override_review(actor=pharmacist, move=move, outcome="fine")
    assert caught.value.field == "outcome"
    assert not OverrideReview.objects.exists()


def test_only_override_removals_are_reviewed(site, pharmacist):
    bin_ = pocket_stock(new_pocket(site), quantity=10)
    ordinary = cabinet_event(bin_, CabinetEvent.REMOVAL, 1)[0]
    waste = cabinet_event(bin_, CabinetEvent.WASTE, 1)[0]
    before = _events()

    for move in (ordinary, waste):
        with pytest.raises(Invalid) as caught:
            services.override_review(actor=pharmacist, move=move, outcome="appropriate")
        assert caught.value.field == "move"

    assert not OverrideReview.objects.exists()
    assert _events() == before


@pytest.mark.parametrize("who", ["technician", "inventory", "auditor"])
def test_roles_without_adc_resolve_may_not_review_or_list(site, who, request):
    actor = request.getfixturevalue(who)
    move = override_removal(site)
    before = _events()

    with pytest.raises(Forbidden):
        services.override_review(actor=actor, move=move, outcome="appropriate")
    with pytest.raises(Forbidden):
        queries.overrides(actor=actor, site=site, start=site.today(), end=site.today())

    assert not OverrideReview.objects.exists()
    assert _events() == before


def test_another_pharmacys_removal_does_not_exist(site, other_site, pharmacist):
    move = override_removal(other_site)
    with pytest.raises(NotFound):
        services.override_review(actor=pharmacist, move=move, outcome="appropriate")
    with pytest.raises(NotFound):
        queries.override_get(actor=pharmacist, move_id=move.pk)


def test_the_list_shows_waiting_reviewed_or_all(site, pharmacist):
    today = site.today()
    first = override_removal(site)
    second = override_removal(site)
    services.override_review(actor=pharmacist, move=second, outcome="appropriate")
    bin_ = pocket_stock(new_pocket(site), quantity=10)
    cabinet_event(bin_, CabinetEvent.REMOVAL, 1)  # not an override: never listed

    def ids(reviewed: bool | None) -> list[int]:
        rows = queries.overrides(
            actor=pharmacist, site=site, start=today, end=today, reviewed=reviewed
        )
        return [r.move.pk for r in rows]

    assert ids(False) == [first.pk]
    assert ids(True) == [second.pk]
    assert set(ids(None)) == {first.pk, second.pk}
    row = queries.overrides(actor=pharmacist, site=site, start=today, end=today, reviewed=True)[0]
    assert row.review is not None and row.quantity == 2


def test_the_list_window_is_checked(site, pharmacist):
    today = site.today()
    with pytest.raises(Invalid) as caught:
        queries.overrides(actor=pharmacist, site=site, start=today, end=today - dt.timedelta(1))
    assert caught.value.field == "end"
    with pytest.raises(Invalid):
        queries.overrides(actor=pharmacist, site=site, start=dt.date(1, 1, 1), end=dt.date(1, 1, 2))


# --- API -------------------------------------------------------------------------------------


def test_the_api_lists_and_reviews(site, pharmacist):
    patient = PatientFactory(site=site, first_name="Margaret", last_name="Oduya")
    move = override_removal(site, patient=patient)
    client = signed_in(pharmacist)

    listed = client.get(API).json()
    assert [r["move_id"] for r in listed] == [move.pk]
    assert "Oduya" in listed[0]["patient"] and listed[0]["review"] is None

    answer = client.post(
        f"{API}/{move.pk}/review",
        {"outcome": "follow_up", "note": "Ask 3 West about the order."},
        content_type="application/json",
    )
    assert answer.status_code == 201, answer.content
    body = answer.json()
    assert body["review"]["outcome"] == "follow_up"
    assert body["review"]["reviewed_by"] == pharmacist.display_name

    again = client.post(
        f"{API}/{move.pk}/review", {"outcome": "appropriate"}, content_type="application/json"
    )
    assert again.status_code == 409
    assert client.get(API).json() == []
    assert [r["move_id"] for r in client.get(API, {"reviewed": "true"}).json()] == [move.pk]


def test_the_api_names_the_bad_field(site, pharmacist):
    move = override_removal(site)
    client = signed_in(pharmacist)

    no_note = client.post(
        f"{API}/{move.pk}/review", {"outcome": "follow_up"}, content_type="application/json"
    )
    unknown = client.post(
        f"{API}/{move.pk}/review",
        {"outcome": "appropriate", "extra": 1},
        content_type="application/json",
    )
    missing = client.post(
        f"{API}/{2**70}/review", {"outcome": "x"}, content_type="application/json"
    )
    bad_dates = client.get(API, {"start": "2025-02-30"})
    nul = client.post(
        f"{API}/{move.pk}/review",
        {"outcome": "follow_up", "note": "call\x00back"},
        content_type="application/json",
    )

    assert no_note.status_code == 422 and no_note.json()["errors"][0]["field"] == "note"
    assert unknown.status_code == 422
    assert missing.status_code in (404, 422)
    assert bad_dates.status_code == 422
    assert nul.status_code == 422 and nul.json()["errors"][0]["field"] == "note"
    assert not OverrideReview.objects.exists()


# --- Page ------------------------------------------------------------------------------------


def test_the_page_lists_and_reviews_inline(site, pharmacist):
    move = override_removal(site, cabinet_user="JSMITH")
    client = signed_in(pharmacist)

    html = client.get(reverse("adc_overrides")).content.decode()
    assert "JSMITH" in html
    assert reverse("adc_override_review", kwargs={"pk": move.pk}) in html

    refused = client.post(
        reverse("adc_override_review", kwargs={"pk": move.pk}),
        {"outcome": "follow_up", "note": ""},
    )
    assert refused.status_code == 422
    text = refused.content.decode()
    assert "Say what nursing needs to follow up." in text
    assert 'value="follow_up" selected' in text  # the typed choice is kept

    done = client.post(
        reverse("adc_override_review", kwargs={"pk": move.pk}), {"outcome": "appropriate"}
    )
    assert done.status_code == 302
    assert OverrideReview.objects.get().outcome == "appropriate"
    page = client.get(reverse("adc_overrides") + "?reviewed=true").content.decode()
    assert "Appropriate (emergency or order followed)" in page


def test_the_page_is_refused_to_a_technician(site, technician):
    assert signed_in(technician).get(reverse("adc_overrides")).status_code == 403
