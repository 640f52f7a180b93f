"""Working at more than one pharmacy of the chain: assignments and the pharmacy switch."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from rxdesk.core import services
from rxdesk.core.choices import Role
from rxdesk.core.errors import Conflict, Forbidden, Invalid, NotFound
from rxdesk.core.models import AuditEvent, Organization, SiteAssignment, User
from rxdesk.patients.models import Patient
from tests.factories import PatientFactory, SiteFactory, UserFactory


@pytest.fixture
def chain(db):
    org = Organization.objects.create(name="Main Street Drug")
    return SiteFactory(name="Main St", organization=org), SiteFactory(
        name="Lakeside", organization=org
    )


@pytest.fixture
def tech(chain):
    return UserFactory(site=chain[0], role=Role.TECHNICIAN, username="floater")


@pytest.fixture
def lakeside_pic(chain):
    return UserFactory(site=chain[1], role=Role.PHARMACIST_IN_CHARGE, username="lake-pic")


def _events(site, action):
    return list(AuditEvent.objects.filter(site=site, action=action))


def test_it_grants_the_pics_own_pharmacy(chain, tech, lakeside_pic):
    assignment = services.site_assignment_grant(actor=lakeside_pic, user=tech)

    assert (assignment.user, assignment.site, assignment.granted_by) == (
        tech,
        chain[1],
        lakeside_pic,
    )
    tech.refresh_from_db()
    assert tech.home_site == chain[0]
    [event] = _events(chain[1], "site_assignment.granted")
    assert event.actor_name == "lake-pic"
    assert services.user_sites(tech) == [chain[0], chain[1]]


def test_a_technician_cannot_assign(chain, tech):
    other_tech = UserFactory(site=chain[1], role=Role.TECHNICIAN, username="lake-tech")
    before = AuditEvent.objects.count()

    with pytest.raises(Forbidden):
        services.site_assignment_grant(actor=other_tech, user=tech)

    assert SiteAssignment.objects.count() == 0
    assert AuditEvent.objects.count() == before


def test_it_refuses_a_person_of_another_business(chain, lakeside_pic):
    stranger = UserFactory(site=SiteFactory(name="Elsewhere"), role=Role.TECHNICIAN)

    with pytest.raises(Invalid) as exc:
        services.site_assignment_grant(actor=lakeside_pic, user=stranger)

    assert exc.value.field == "user"
    assert SiteAssignment.objects.count() == 0


def test_granting_twice_is_a_conflict(chain, tech, lakeside_pic):
    services.site_assignment_grant(actor=lakeside_pic, user=tech)

    with pytest.raises(Conflict):
        services.site_assignment_grant(actor=lakeside_pic, user=tech)

    assert SiteAssignment.objects.count() == 1


def test_it_switches_to_an_assigned_pharmacy_logging_at_both(chain, tech, lakeside_pic):
    services.site_assignment_grant(actor=lakeside_pic, user=tech)

    services.user_switch_site(actor=tech, site=chain[1])

    tech.refresh_from_db()
    assert (tech.site, tech.home) == (chain[1], chain[0])
    for site in chain:
        [event] = _events(site, "staff.site_switched")
        assert event.data == f'{{"from_site":{chain[0].pk},"to_site":{chain[1].pk}}}'


def test_switching_to_an_unassigned_pharmacy_is_refused(chain, tech):
    before = AuditEvent.objects.count()

    with pytest.raises(Invalid) as exc:
        services.user_switch_site(actor=tech, site=chain[1])

    assert exc.value.field == "site"
    tech.refresh_from_db()
    assert tech.site == chain[0]
    assert AuditEvent.objects.count() == before


def test_after_switching_only_the_new_pharmacys_patients_are_seen(chain, tech, lakeside_pic):
    PatientFactory(site=chain[0], last_name="Homer")
    lake = PatientFactory(site=chain[1], last_name="Holloway")
    services.site_assignment_grant(actor=lakeside_pic, user=tech)
    client = Client()
    client.force_login(tech)

    response = client.post(reverse("site_switch"), {"site": chain[1].pk})
    assert response.status_code == 302
    found = client.get("/api/v1/patients?q=ho").json()

    assert [p["id"] for p in found] == [lake.pk]
    assert Patient.objects.count() == 2


def test_the_switch_page_refuses_an_unlisted_pharmacy(chain, tech):
    client = Client()
    client.force_login(tech)

    response = client.post(reverse("site_switch"), {"site": chain[1].pk})

    assert response.status_code == 422
    assert b"Choose one of the pharmacies listed." in response.content
    assert User.objects.get(pk=tech.pk).site == chain[0]


def test_the_header_offers_the_switch_only_to_assigned_people(chain, tech, lakeside_pic):
    client = Client()
    client.force_login(tech)
    assert b"Switch pharmacy" not in client.get(reverse("account")).content

    services.site_assignment_grant(actor=lakeside_pic, user=tech)

    assert b"Switch pharmacy" in client.get(reverse("account")).content


def test_revoking_sends_a_person_working_there_home(chain, tech, lakeside_pic):
    assignment = services.site_assignment_grant(actor=lakeside_pic, user=tech)
    services.user_switch_site(actor=tech, site=chain[1])

    services.site_assignment_revoke(actor=lakeside_pic, assignment=assignment)

    tech.refresh_from_db()
    assert tech.site == chain[0]
    assert SiteAssignment.objects.count() == 0
    assert len(_events(chain[1], "site_assignment.revoked")) == 1


def test_a_pic_cannot_revoke_another_pharmacys_assignment(chain, tech, lakeside_pic):
    assignment = services.site_assignment_grant(actor=lakeside_pic, user=tech)
    home_pic = UserFactory(site=chain[0], role=Role.PHARMACIST_IN_CHARGE, username="home-pic")

    with pytest.raises(NotFound):
        services.site_assignment_revoke(actor=home_pic, assignment=assignment)

    assert SiteAssignment.objects.count() == 1


# --- The screen where the pharmacist-in-charge lets people in ---------------------------------

SCREEN = "/staff/visiting/"


def _signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_pic_lets_a_chain_colleague_in_and_removes_them(chain, tech, lakeside_pic):
    outsider_org = Organization.objects.create(name="Other Drug Co")
    stranger = UserFactory(
        site=SiteFactory(name="Elsewhere", organization=outsider_org), username="stranger"
    )
    client = _signed_in(lakeside_pic)

    page = client.get(SCREEN)
    assert page.status_code == 200
    assert "Nobody from another pharmacy may work here." in page.content.decode()
    options = page.content.decode()
    assert f'<option value="{tech.pk}">' in options
    assert f'<option value="{stranger.pk}">' not in options  # another business
    assert f'<option value="{lakeside_pic.pk}">' not in options  # already works here

    done = client.post(SCREEN, {"action": "grant", "user": str(tech.pk)}, follow=True)
    assert done.status_code == 200
    assert "may now work at Lakeside" in done.content.decode()
    assignment = SiteAssignment.objects.get(user=tech)
    assert assignment.site == chain[1]
    assert f'value="{assignment.pk}"' in done.content.decode()
    assert _events(chain[1], "site_assignment.granted")

    removed = client.post(
        SCREEN, {"action": "revoke", "assignment": str(assignment.pk)}, follow=True
    )
    assert "may no longer work here" in removed.content.decode()
    assert not SiteAssignment.objects.filter(user=tech).exists()


def test_someone_of_another_business_cannot_be_let_in_by_posting_their_id(chain, lakeside_pic):
    stranger = UserFactory(
        site=SiteFactory(
            name="Elsewhere", organization=Organization.objects.create(name="Other Drug Co")
        ),
        username="stranger",
    )
    client = _signed_in(lakeside_pic)
    before = AuditEvent.objects.count()

    answer = client.post(SCREEN, {"action": "grant", "user": str(stranger.pk)})
    odd = client.post(SCREEN, {"action": "grant", "user": "²"})  # a digit int() refuses

    assert odd.status_code == 422
    assert answer.status_code == 422
    assert "Choose a person from the list." in answer.content.decode()
    assert not SiteAssignment.objects.exists()
    assert AuditEvent.objects.count() == before


def test_another_pharmacys_assignment_cannot_be_removed_from_here(chain, tech, lakeside_pic):
    main_pic = UserFactory(site=chain[0], role=Role.PHARMACIST_IN_CHARGE, username="main-pic")
    lake_tech = UserFactory(site=chain[1], role=Role.TECHNICIAN, username="lake-tech")
    theirs = services.site_assignment_grant(actor=main_pic, user=lake_tech)

    answer = _signed_in(lakeside_pic).post(
        SCREEN, {"action": "revoke", "assignment": str(theirs.pk)}
    )

    assert answer.status_code == 422
    assert SiteAssignment.objects.filter(pk=theirs.pk).exists()


def test_a_technician_is_refused_the_screen(chain, tech):
    assert _signed_in(tech).get(SCREEN).status_code == 403
    assert _signed_in(tech).post(SCREEN, {"action": "grant", "user": "1"}).status_code == 403
    assert not SiteAssignment.objects.exists()


def test_a_pharmacy_of_no_chain_shares_nobody(db):
    alone, also_alone = SiteFactory(name="Corner Drug"), SiteFactory(name="Other Corner")
    pic = UserFactory(site=alone, role=Role.PHARMACIST_IN_CHARGE, username="corner-pic")
    other = UserFactory(site=also_alone, role=Role.TECHNICIAN, username="other-tech")

    with pytest.raises(Invalid) as refused:
        services.site_assignment_grant(actor=pic, user=other)
    assert refused.value.field == "user"
    assert "no chain" in refused.value.message

    page = _signed_in(pic).get(SCREEN)
    assert "belongs to no chain" in page.content.decode()
    assert f'<option value="{other.pk}">' not in page.content.decode()
