"""Two-person integrity: a witness re-authenticates at the moment of the action
(rxdesk.core.services.witness_confirm) — a second person of the same pharmacy, allowed to
witness, with their password and, where enrolled, their authenticator's code."""

from __future__ import annotations

import pytest
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from rxdesk.core.choices import Role
from rxdesk.core.errors import Conflict, Invalid
from rxdesk.core.models import AuditEvent
from rxdesk.core.services import WITNESS_ATTEMPTS, witness_confirm
from tests.factories import PASSWORD, UserFactory

ACTION = "cs.destruction.recorded"


def code_for(device: TOTPDevice) -> str:
    token = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift).token()
    return f"{token:0{device.digits}d}"


def given(username: str, password: str = PASSWORD, otp: str = "") -> dict[str, str]:
    return {"username": username, "password": password, "otp": otp}


def failures() -> int:
    return AuditEvent.objects.filter(action="auth.witness_failed").count()


@pytest.fixture
def rph2(site):
    return UserFactory(site=site, role=Role.PHARMACIST, username="rph2")


def test_a_second_pharmacist_with_the_right_password_witnesses(pharmacist, rph2):
    witness = witness_confirm(actor=pharmacist, given=given("rph2"), action=ACTION)

    assert witness.user == rph2
    assert witness.factors == "password"
    assert witness.name == "rph2"


def test_a_technician_may_witness(pharmacist, technician):
    assert witness_confirm(actor=pharmacist, given=given("tech"), action=ACTION).user == technician


def test_the_witness_cannot_be_the_person_doing_it(pharmacist):
    with pytest.raises(Invalid) as caught:
        witness_confirm(actor=pharmacist, given=given(pharmacist.username), action=ACTION)

    assert caught.value.field == "witness.username"
    assert "second person" in caught.value.message


def test_the_second_witness_must_differ_from_the_first(pharmacist, rph2):
    first = witness_confirm(actor=pharmacist, given=given("rph2"), action=ACTION)

    with pytest.raises(Invalid) as caught:
        witness_confirm(
            actor=pharmacist,
            given=given("rph2"),
            action=ACTION,
            field="witnesses.1",
            not_also=(first.user,),
        )

    assert caught.value.field == "witnesses.1.username"


@pytest.mark.parametrize("role", [Role.TECHNICIAN_IN_TRAINING, Role.ADMIN, Role.AUDITOR])
def test_a_role_without_the_witness_capability_cannot_witness(site, pharmacist, role):
    UserFactory(site=site, role=role, username="nowitness")

    with pytest.raises(Invalid) as caught:
        witness_confirm(actor=pharmacist, given=given("nowitness"), action=ACTION)

    assert caught.value.field == "witness.username"
    assert "may not witness" in caught.value.message


def test_a_witness_whose_licence_expired_cannot_witness(site, pharmacist):
    import datetime as dt

    UserFactory(
        site=site,
        role=Role.PHARMACIST,
        username="lapsed",
        pharmacist_license_expires=dt.date(2020, 1, 1),
    )

    with pytest.raises(Invalid) as caught:
        witness_confirm(actor=pharmacist, given=given("lapsed"), action=ACTION)

    assert caught.value.field == "witness.username"


def test_staff_of_another_pharmacy_cannot_witness(pharmacist, outsider):
    with pytest.raises(Invalid) as caught:
        witness_confirm(actor=pharmacist, given=given(outsider.username), action=ACTION)

    assert caught.value.field == "witness.username"


def test_an_inactive_account_cannot_witness(pharmacist, rph2):
    rph2.is_active = False
    rph2.save(update_fields=["is_active"])

    with pytest.raises(Invalid):
        witness_confirm(actor=pharmacist, given=given("rph2"), action=ACTION)


def test_a_missing_user_name_is_named(pharmacist):
    with pytest.raises(Invalid) as caught:
        witness_confirm(actor=pharmacist, given={"password": PASSWORD}, action=ACTION)

    assert caught.value.field == "witness.username"


def test_a_wrong_password_is_refused_and_recorded(pharmacist, rph2):
    with pytest.raises(Invalid) as caught:
        witness_confirm(actor=pharmacist, given=given("rph2", "not-it"), action=ACTION)

    assert caught.value.field == "witness.password"
    event = AuditEvent.objects.get(action="auth.witness_failed")
    assert event.object_id == str(rph2.pk)
    assert event.actor_id == pharmacist.pk
    assert "not-it" not in event.data


def test_an_enrolled_witness_must_give_the_code_too(pharmacist, rph2):
    device = TOTPDevice.objects.create(user=rph2, name="phone", confirmed=True)

    with pytest.raises(Invalid) as missing:
        witness_confirm(actor=pharmacist, given=given("rph2"), action=ACTION)
    with pytest.raises(Invalid) as wrong:
        witness_confirm(actor=pharmacist, given=given("rph2", otp="000000"), action=ACTION)
    # django-otp throttles a device after a wrong code; the next try comes later in life.
    device.refresh_from_db()
    device.throttle_reset()
    witness = witness_confirm(
        actor=pharmacist, given=given("rph2", otp=code_for(device)), action=ACTION
    )

    assert missing.value.field == "witness.otp"
    assert wrong.value.field == "witness.otp" or code_for(device) == "000000"
    assert witness.factors == "password+totp"


def test_a_right_code_with_a_wrong_password_is_still_refused(pharmacist, rph2):
    device = TOTPDevice.objects.create(user=rph2, name="phone", confirmed=True)

    with pytest.raises(Invalid) as caught:
        witness_confirm(
            actor=pharmacist, given=given("rph2", "wrong", code_for(device)), action=ACTION
        )

    assert caught.value.field == "witness.password"


def test_a_pharmacy_that_requires_a_second_factor_refuses_an_unenrolled_witness(
    site, pharmacist, rph2
):
    site.mfa_required = True
    site.save(update_fields=["mfa_required"])

    with pytest.raises(Invalid) as caught:
        witness_confirm(actor=pharmacist, given=given("rph2"), action=ACTION)

    assert caught.value.field == "witness.otp"


def test_repeated_failures_lock_the_witness_out_for_a_while(pharmacist, rph2):
    for _ in range(WITNESS_ATTEMPTS):
        with pytest.raises(Invalid):
            witness_confirm(actor=pharmacist, given=given("rph2", "guess"), action=ACTION)

    with pytest.raises(Conflict) as caught:
        witness_confirm(actor=pharmacist, given=given("rph2"), action=ACTION)

    assert failures() == WITNESS_ATTEMPTS
    assert "Too many" in caught.value.message
