"""Staff competency through the service, the queries, the API and the pages: recording an
evaluation (a fingertip sample's verdict from its count; broken rules change nothing; a
technician is refused; another pharmacy's person is 404), the board of staff × evaluations
with lapsed ones marked in words, and a person's history and standing."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from rxdesk.compounding import competency
from rxdesk.compounding.models import CompetencyResult
from rxdesk.compounding.queries_competency import board, lapses_for, person_standing
from rxdesk.compounding.services_competency import competency_record
from rxdesk.core.choices import Role
from rxdesk.core.errors import Forbidden, Invalid, NotFound
from rxdesk.core.models import AuditEvent
from tests.compounding.factories import competent
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

P = "/api/v1/compounding"


@pytest.fixture
def tech2(site):
    return UserFactory(
        site=site, role=Role.TECHNICIAN, username="tess", first_name="Tess", last_name="Nguyen"
    )


def _kept() -> tuple[int, int]:
    return (
        CompetencyResult.objects.count(),
        AuditEvent.objects.exclude(action__startswith="auth.").count(),
    )


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _result(person, evaluator, kind, on, passed=True, *, cfu=None, initial=False):
    return CompetencyResult.objects.create(
        site=person.site,
        person=person,
        kind=kind,
        performed_on=on,
        passed=passed,
        cfu=cfu,
        initial=initial,
        evaluator=evaluator,
        evaluator_name=evaluator.username,
    )


# --- The service -----------------------------------------------------------------------------


def test_a_pharmacist_records_a_passed_training_audited(site, pharmacist, tech2):
    today = site.today()

    made = competency_record(
        actor=pharmacist,
        person=tech2,
        kind=competency.DIDACTIC_STERILE,
        performed_on=today,
        passed=True,
        note="  Annual module 4, score 92 %  ",
    )

    row = CompetencyResult.objects.get()
    assert row.pk == made.pk
    assert (row.site_id, row.person_id, row.kind, row.performed_on) == (
        site.pk,
        tech2.pk,
        "didactic_sterile",
        today,
    )
    assert (row.passed, row.initial, row.cfu, row.note) == (
        True,
        False,
        None,
        "Annual module 4, score 92 %",
    )
    assert (row.evaluator_id, row.evaluator_name) == (pharmacist.pk, pharmacist.display_name)
    event = AuditEvent.objects.order_by("-id").first()
    assert event.action == "compounding.competency.recorded"
    assert (event.object_id, event.actor_id) == (str(row.pk), pharmacist.pk)
    assert json.loads(event.data) == {
        "person_id": tech2.pk,
        "person": "tess",
        "kind": "didactic_sterile",
        "performed_on": today.isoformat(),
        "passed": True,
        "cfu": None,
        "initial": False,
    }
    assert "score" not in event.data  # free text stays out of the audit log


@pytest.mark.parametrize(
    ("cfu", "initial", "passed"),
    [(0, True, True), (1, True, False), (3, False, True), (4, False, False)],
)
def test_a_fingertip_samples_verdict_comes_from_its_count(pic, tech2, cfu, initial, passed):
    made = competency_record(
        actor=pic,
        person=tech2,
        kind=competency.GARBING_GFT,
        performed_on=pic.site.today(),
        cfu=cfu,
        initial=initial,
    )
    assert (made.passed, made.cfu, made.initial) == (passed, cfu, initial)


def test_a_verdict_that_agrees_with_the_count_is_accepted(pic, tech2):
    made = competency_record(
        actor=pic,
        person=tech2,
        kind=competency.GARBING_GFT,
        performed_on=pic.site.today(),
        cfu=2,
        passed=True,
    )
    assert made.passed is True


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"kind": "garbing_gft", "cfu": 1, "initial": True, "passed": True}, "passed"),
        ({"kind": "garbing_gft", "cfu": 5, "passed": True}, "passed"),
        ({"kind": "garbing_gft"}, "cfu"),
        ({"kind": "garbing_gft", "cfu": -1}, "cfu"),
        ({"kind": "garbing_gft", "cfu": 10_000}, "cfu"),
        ({"kind": "garbing_gft", "cfu": True}, "cfu"),
        ({"kind": "media_fill"}, "passed"),
        ({"kind": "media_fill", "passed": "yes"}, "passed"),
        ({"kind": "media_fill", "passed": True, "cfu": 0}, "cfu"),
        ({"kind": "didactic_sterile", "passed": True, "initial": True}, "initial"),
        ({"kind": "swimming", "passed": True}, "kind"),
        ({"kind": "didactic_sterile", "passed": True, "performed_on": "tomorrow"}, "performed_on"),
        (
            {"kind": "didactic_sterile", "passed": True, "performed_on": dt.date(1999, 12, 31)},
            "performed_on",
        ),
        ({"kind": "didactic_sterile", "passed": True, "note": "x" * 501}, "note"),
        (
            {"kind": "didactic_sterile", "passed": True, "performed_on": "2026-01-05"},
            "performed_on",
        ),
    ],
)
def test_broken_rules_name_the_field_and_change_nothing(site, pic, tech2, values, field):
    values = dict(values)
    if values.get("performed_on") == "tomorrow":
        values["performed_on"] = site.today() + dt.timedelta(days=1)
    values.setdefault("performed_on", site.today())
    before = _kept()

    with pytest.raises(Invalid) as refused:
        competency_record(actor=pic, person=tech2, **values)

    assert field in [e["field"] for e in refused.value.errors]
    assert refused.value.errors[0]["message"]
    assert _kept() == before


def test_the_evaluator_cannot_evaluate_themselves(pharmacist):
    before = _kept()

    with pytest.raises(Invalid) as refused:
        competency_record(
            actor=pharmacist,
            person=pharmacist,
            kind=competency.MEDIA_FILL,
            performed_on=pharmacist.site.today(),
            passed=True,
        )

    assert refused.value.errors[0]["field"] == "person"
    assert _kept() == before


@pytest.mark.parametrize("role", ["technician", "trainee", "auditor", "inventory", "admin_user"])
def test_only_pharmacists_record_evaluations(request, tech2, role):
    actor = request.getfixturevalue(role)
    before = _kept()

    with pytest.raises(Forbidden):
        competency_record(
            actor=actor,
            person=tech2,
            kind=competency.DIDACTIC_STERILE,
            performed_on=tech2.site.today(),
            passed=True,
        )

    assert _kept() == before


def test_another_pharmacys_person_or_an_inactive_one_is_not_found(pharmacist, outsider, tech2):
    tech2.is_active = False
    tech2.save()
    before = _kept()

    for person in (outsider, tech2, None):
        with pytest.raises(NotFound):
            competency_record(
                actor=pharmacist,
                person=person,
                kind=competency.DIDACTIC_STERILE,
                performed_on=pharmacist.site.today(),
                passed=True,
            )

    assert _kept() == before


def test_a_failed_media_fill_lapses_a_competent_person(site, pharmacist, tech2):
    today = site.today()
    competent(tech2, "2", evaluator=pharmacist, on=today)
    assert lapses_for(tech2, "2", today=today) == []

    competency_record(
        actor=pharmacist,
        person=tech2,
        kind=competency.MEDIA_FILL,
        performed_on=today,
        passed=False,
    )

    assert lapses_for(tech2, "2", today=today) == [
        f"failed the last media-fill test on {today:%m/%d/%Y}"
    ]
    assert lapses_for(tech2, "immediate-use", today=today) == []


# --- The board -------------------------------------------------------------------------------


def test_the_board_lists_the_staff_who_compound_with_states_and_clearances(
    site, pharmacist, pic, technician, trainee, auditor, outsider, tech2
):
    today = site.today()
    competent(tech2, "3", evaluator=pharmacist, on=today)
    _result(technician, pharmacist, competency.GARBING_GFT, today - dt.timedelta(days=200))
    UserFactory(site=site, role=Role.TECHNICIAN, username="gone", is_active=False)

    found = board(actor=auditor, category="2")

    names = [row.person.username for row in found.rows]
    assert sorted(names) == ["pic", "rph", "tech", "tess"]
    assert found.category == "2" and found.today == today
    assert [k.kind for k in found.kinds] == list(competency.KINDS)
    assert [k.months for k in found.kinds] == [12, 6, 6, 12, 12, 12, 12]
    row = {r.person.username: r for r in found.rows}
    gft_index = list(competency.KINDS).index(competency.GARBING_GFT)
    assert row["tech"].cells[gft_index].state == "lapsed"
    assert row["tech"].lapsed is True
    assert row["tess"].cells[gft_index].state == "current"
    assert row["tess"].lapsed is False
    assert {c.category: c.ok for c in row["tess"].clearances} == {
        "nonsterile": False,
        "immediate-use": True,
        "1": True,
        "2": True,
        "3": True,
    }
    assert row["rph"].cells[gft_index].state == "never"
    assert all(not c.ok for c in row["rph"].clearances)


def test_the_boards_category_sets_the_due_dates(site, pharmacist, tech2):
    done = site.today() - dt.timedelta(days=100)
    _result(tech2, pharmacist, competency.GARBING_GFT, done)

    by_2 = board(actor=pharmacist, category="2")
    by_3 = board(actor=pharmacist, category="3")

    index = list(competency.KINDS).index(competency.GARBING_GFT)
    (cell_2,) = [r.cells[index] for r in by_2.rows if r.person == tech2]
    (cell_3,) = [r.cells[index] for r in by_3.rows if r.person == tech2]
    assert cell_2.due_on == competency.add_months(done, 6) and cell_2.ok
    assert cell_3.due_on == competency.add_months(done, 3) and cell_3.state == "lapsed"


def test_the_board_takes_two_queries_whatever_the_staff(
    site, pharmacist, tech2, django_assert_num_queries
):
    for n in range(6):
        person = UserFactory(site=site, role=Role.TECHNICIAN, username=f"t{n}")
        competent(person, "2", evaluator=pharmacist)
    actor = type(pharmacist).objects.select_related("site").get(pk=pharmacist.pk)

    with django_assert_num_queries(2):
        found = board(actor=actor)

    assert len(found.rows) == 8


def test_an_unknown_category_is_refused(pharmacist):
    with pytest.raises(Invalid) as refused:
        board(actor=pharmacist, category="4")
    assert refused.value.field == "category"


def test_the_board_is_refused_to_a_trainee(trainee):
    with pytest.raises(Forbidden):
        board(actor=trainee)


def test_a_persons_standing_shows_history_newest_first_and_hd_training(site, pharmacist, tech2):
    today = site.today()
    competent(tech2, "2", evaluator=pharmacist, on=today)

    found = person_standing(actor=pharmacist, person=tech2)

    dates = [r.performed_on for r in found.history]
    assert dates == sorted(dates, reverse=True) and len(dates) == 6
    assert found.initially_qualified is True
    assert found.hazardous.state == "never"
    assert [c.category for c in found.clearances] == list(competency.CATEGORIES)


# --- API -------------------------------------------------------------------------------------


def test_api_board(site, pharmacist, technician, tech2):
    competent(tech2, "2", evaluator=pharmacist)

    response = _client(technician).get(f"{P}/competency?category=3")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["category"] == "3"
    assert [k["months"] for k in body["kinds"]] == [12, 3, 3, 12, 12, 12, 12]
    tess = next(p for p in body["staff"] if p["username"] == "tess")
    assert tess["name"] == "Tess Nguyen" and tess["role"] == "technician"
    assert [c["category"] for c in tess["categories"]] == list(competency.CATEGORIES)
    assert {c["category"]: c["may_compound"] for c in tess["categories"]}["2"] is True
    gft = next(e for e in tess["evaluations"] if e["kind"] == "garbing_gft")
    assert set(gft) == {"kind", "label", "months", "last_on", "last_passed", "due_on", "state"}


@pytest.mark.parametrize("query", ["?category=4", "?category=", "?category=two"])
def test_api_board_refuses_an_unknown_category(pharmacist, query):
    response = _client(pharmacist).get(f"{P}/competency{query}")

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "category"


def test_api_person(site, pharmacist, tech2):
    competent(tech2, "nonsterile", evaluator=pharmacist)

    body = _client(pharmacist).get(f"{P}/competency/people/{tech2.pk}").json()

    assert body["id"] == tech2.pk and body["active"] is True
    assert body["initially_qualified"] is False
    by_category = {c["category"]: c for c in body["categories"]}
    assert by_category["nonsterile"]["may_compound"] is True
    assert by_category["2"]["may_compound"] is False
    assert by_category["2"]["reasons"][0].startswith("has not completed the initial garbing")
    assert [r["kind"] for r in by_category["2"]["requirements"]] == [
        "didactic_sterile",
        "garbing_gft",
        "media_fill",
    ]
    assert len(body["history"]) == 2
    assert body["hazardous_training"]["state"] == "never"


@pytest.mark.parametrize("which", ["outsider", "huge", "zero"])
def test_api_person_of_another_pharmacy_is_not_found(pharmacist, outsider, which):
    user_id = {"outsider": outsider.pk, "huge": 2**70, "zero": 0}[which]

    response = _client(pharmacist).get(f"{P}/competency/people/{user_id}")

    assert response.status_code == 404


def _post(client: Client, body: Any) -> Any:
    return client.post(
        f"{P}/competency/results", data=json.dumps(body), content_type="application/json"
    )


def test_api_records_a_fingertip_sample(site, pic, tech2):
    response = _post(
        _client(pic),
        {
            "person_id": tech2.pk,
            "kind": "garbing_gft",
            "performed_on": site.today().isoformat(),
            "cfu": 1,
            "initial": True,
        },
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["passed"], body["cfu"], body["initial"], body["person_id"]) == (
        False,
        1,
        True,
        tech2.pk,
    )
    assert body["evaluator"] == pic.display_name
    assert CompetencyResult.objects.get().passed is False


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"cfu": 1, "initial": True, "passed": True}, "passed"),
        ({"kind": "media_fill", "passed": None}, "passed"),
        ({"kind": "driving"}, "kind"),
        ({"performed_on": "2026-02-30"}, "performed_on"),
        ({"performed_on": "1999-12-31"}, "performed_on"),
        ({"cfu": -1}, "cfu"),
        ({"cfu": "none"}, "cfu"),
        ({"initial": "yes"}, "initial"),
        ({"person_id": None}, "person_id"),
        ({"person_id": 2**70}, "person_id"),
        ({"evaluator_id": 1}, "evaluator_id"),
        ({"note": "x" * 501}, "note"),
    ],
)
def test_api_refusals_name_the_field_and_change_nothing(site, pic, tech2, changes, field):
    client = _client(pic)
    before = _kept()
    body = {
        "person_id": tech2.pk,
        "kind": "garbing_gft",
        "performed_on": site.today().isoformat(),
        "cfu": 0,
        **changes,
    }

    response = _post(client, body)

    assert response.status_code == 422, response.content
    assert field in [e["field"] for e in response.json()["errors"]]
    assert _kept() == before


def test_api_recording_is_refused_to_a_technician_and_for_another_pharmacy(
    site, technician, pharmacist, outsider, tech2
):
    tech_client, rph_client = _client(technician), _client(pharmacist)
    before = _kept()
    body = {
        "person_id": tech2.pk,
        "kind": "didactic_sterile",
        "performed_on": site.today().isoformat(),
        "passed": True,
    }

    refused = _post(tech_client, body)
    elsewhere = _post(rph_client, {**body, "person_id": outsider.pk})
    myself = _post(rph_client, {**body, "person_id": pharmacist.pk})

    assert refused.status_code == 403
    assert elsewhere.status_code == 404
    assert myself.status_code == 422 and myself.json()["errors"][0]["field"] == "person"
    assert _kept() == before


# --- Pages -----------------------------------------------------------------------------------


def test_the_board_marks_a_lapsed_person_in_words(site, pharmacist, technician, tech2):
    competent(tech2, "2", evaluator=pharmacist)
    _result(technician, pharmacist, competency.MEDIA_FILL, site.today() - dt.timedelta(days=400))

    html = _client(technician).get(reverse("compounding_competency")).content.decode()

    def row_of(user) -> str:
        return html.split(f'id="person-{user.pk}"')[1].split("</tr>")[0]

    assert '<span class="badge danger">Lapsed</span>' in row_of(technician)
    assert "Lapsed" not in row_of(tech2)
    assert "Category 2: yes" in row_of(tech2) and "Category 2: no" in row_of(technician)
    assert reverse("compounding_competency_person", args=[tech2.pk]) in html
    assert "every 6 mo" in html


def test_the_boards_category_filter(site, technician):
    client = _client(technician)

    cat3 = client.get(reverse("compounding_competency"), {"category": "3"}).content.decode()
    bad = client.get(reverse("compounding_competency"), {"category": "9"})

    assert "every 3 mo" in cat3 and "Due dates for Category 3" in cat3
    assert bad.status_code == 200 and "Due dates for Category 2" in bad.content.decode()


def test_a_pharmacist_records_from_the_persons_page(site, pharmacist, tech2):
    client = _client(pharmacist)
    url = reverse("compounding_competency_person", args=[tech2.pk])

    page = client.get(url).content.decode()
    response = client.post(
        url,
        {
            "kind": "garbing_gft",
            "performed_on": site.today().strftime("%m/%d/%Y"),
            "cfu": "0",
            "initial_sample": "on",
        },
    )

    assert "Record an evaluation" in page and "<kbd>Enter</kbd> Record" in page
    assert response.status_code == 302 and response["Location"] == url
    row = CompetencyResult.objects.get()
    assert (row.kind, row.passed, row.initial, row.cfu) == ("garbing_gft", True, True, 0)
    after = client.get(url).content.decode()
    assert f'id="result-{row.pk}"' in after and "Passed" in after


def test_a_contradicting_verdict_is_shown_beside_the_result(site, pharmacist, tech2):
    url = reverse("compounding_competency_person", args=[tech2.pk])

    response = _client(pharmacist).post(
        url,
        {
            "kind": "garbing_gft",
            "performed_on": site.today().strftime("%m/%d/%Y"),
            "cfu": "4",
            "verdict": "passed",
        },
    )

    html = response.content.decode()
    assert response.status_code == 422
    assert 'id="id_verdict_error"' in html and "With 4 CFU a garbing sample fails" in html
    assert CompetencyResult.objects.count() == 0


def test_a_technician_sees_the_page_without_the_form_and_cannot_post(site, technician, tech2):
    client = _client(technician)
    url = reverse("compounding_competency_person", args=[tech2.pk])

    page = client.get(url)
    refused = client.post(url, {"kind": "cleaning", "verdict": "passed"})

    assert page.status_code == 200 and "Record an evaluation" not in page.content.decode()
    assert refused.status_code == 403
    assert CompetencyResult.objects.count() == 0


def test_a_pharmacist_has_no_form_on_their_own_page(pharmacist):
    page = _client(pharmacist).get(reverse("compounding_competency_person", args=[pharmacist.pk]))
    assert page.status_code == 200 and "Record an evaluation" not in page.content.decode()


def test_another_pharmacys_person_page_is_not_found(pharmacist, outsider):
    response = _client(pharmacist).get(reverse("compounding_competency_person", args=[outsider.pk]))
    assert response.status_code == 404
