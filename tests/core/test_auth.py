"""Signing in through the real middleware stack: CSRF, session rotation, time limits,
sign-in throttling, password rules and the second factor."""

from __future__ import annotations

import datetime as dt
import json
from importlib import import_module
from urllib.parse import quote

import pytest
import time_machine
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from rxdesk.core.errors import Invalid
from rxdesk.core.models import AuditEvent, User
from rxdesk.core.services import staff_create, staff_set_password
from tests.factories import PASSWORD

START = dt.datetime(2026, 3, 2, 14, 0, tzinfo=dt.UTC)
LOGIN = "/signin/"


def sign_in(client: Client, username: str, password: str = PASSWORD, **extra):
    return client.post(LOGIN, {"username": username, "password": password}, **extra)


def signed_in_user_id(client: Client) -> str | None:
    return client.session.get("_auth_user_id")


def events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("seq"))


def code_for(device: TOTPDevice) -> str:
    token = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift).token()
    return f"{token:0{device.digits}d}"


# --- CSRF -------------------------------------------------------------------------------------


def test_it_refuses_a_sign_in_post_without_the_csrf_token(technician):
    client = Client(enforce_csrf_checks=True)
    response = sign_in(client, "tech")
    assert response.status_code == 403
    assert signed_in_user_id(client) is None
    assert events("auth.signed_in") == []


def test_it_signs_in_with_the_csrf_token_from_the_form(technician):
    client = Client(enforce_csrf_checks=True)
    client.get(LOGIN)
    token = client.cookies["csrftoken"].value
    response = client.post(
        LOGIN, {"username": "tech", "password": PASSWORD, "csrfmiddlewaretoken": token}
    )
    assert response.status_code == 302
    assert signed_in_user_id(client) == str(technician.pk)


def test_it_refuses_a_session_api_write_without_the_csrf_token(site, pic):
    client = Client(enforce_csrf_checks=True)
    client.force_login(pic)
    client.get("/")  # any page sets the csrftoken cookie (the sign-out form carries it)
    body = json.dumps({"city": "Springfield"})

    refused = client.patch("/api/v1/site", body, content_type="application/json")
    assert refused.status_code == 403
    assert refused["Content-Type"] == "application/problem+json"
    assert refused.json()["type"] == "/problems/csrf"
    site.refresh_from_db()
    assert site.city == ""

    allowed = client.patch(
        "/api/v1/site",
        body,
        content_type="application/json",
        headers={"X-CSRFToken": client.cookies["csrftoken"].value},
    )
    assert allowed.status_code == 200
    site.refresh_from_db()
    assert site.city == "Springfield"


# --- sessions ---------------------------------------------------------------------------------


def test_signing_in_rotates_the_session_key(technician):
    client = Client()
    before = client.session.session_key
    assert before

    response = sign_in(client, "tech")

    assert response.status_code == 302
    after = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert after != before
    store = import_module(settings.SESSION_ENGINE).SessionStore
    assert not store().exists(before)  # the pre-sign-in session is gone, not just left behind
    assert signed_in_user_id(client) == str(technician.pk)
    [event] = events("auth.signed_in")
    assert (event.actor_name, event.object_id) == ("tech", str(technician.pk))


def test_signing_out_is_recorded_and_ends_the_session(technician):
    client = Client()
    sign_in(client, "tech")
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert signed_in_user_id(client) is None
    assert [e.actor_name for e in events("auth.signed_out")] == ["tech"]


@pytest.mark.parametrize("idle_minutes", [15, 5])
def test_an_idle_session_ends_after_the_sites_idle_minutes(site, technician, idle_minutes):
    site.session_idle_minutes = idle_minutes
    site.save()
    client = Client()
    with time_machine.travel(START, tick=False) as clock:
        sign_in(client, "tech")
        # Given activity just inside the limit keeps the session alive
        clock.shift(dt.timedelta(minutes=idle_minutes - 1))
        assert client.get("/").status_code == 200
        clock.shift(dt.timedelta(minutes=idle_minutes - 1))
        assert client.get("/").status_code == 200

        # When the workstation then sits idle past the limit
        clock.shift(dt.timedelta(minutes=idle_minutes, seconds=1))
        response = client.get("/site/")

    # Then the user is sent to sign in again, and the timeout is in the log
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next=%2Fsite%2F"
    assert signed_in_user_id(client) is None
    [event] = events("auth.session_expired")
    assert (event.actor_name, event.reason) == (
        "tech",
        f"You were signed out after {idle_minutes} idle minutes.",
    )
    assert events("auth.signed_out") == []  # the timeout event replaces a sign-out event
    page = client.get(response["Location"])
    assert f"You were signed out after {idle_minutes} idle minutes." in page.content.decode()


def test_a_busy_session_still_ends_twelve_hours_after_sign_in(technician):
    client = Client()
    with time_machine.travel(START, tick=False) as clock:
        sign_in(client, "tech")
        for _ in range(12 * 6):  # a request every 10 minutes for 12 hours
            clock.shift(dt.timedelta(minutes=10))
            assert client.get("/").status_code == 200
        clock.shift(dt.timedelta(minutes=1))
        response = client.get("/")

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next=%2F"
    [event] = events("auth.session_expired")
    assert event.reason == "You were signed out: sessions end 12 hours after sign-in."


def test_an_expired_api_session_gets_a_401_problem(technician):
    client = Client()
    with time_machine.travel(START, tick=False) as clock:
        sign_in(client, "tech")
        assert client.get("/api/v1/me").status_code == 200
        clock.shift(dt.timedelta(minutes=16))
        response = client.get("/api/v1/me")

    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    assert response.json() == {
        "type": "about:blank",
        "title": "Session expired",
        "status": 401,
        "detail": "You were signed out after 15 idle minutes.",
    }
    assert [e.actor_name for e in events("auth.session_expired")] == ["tech"]
    assert client.get("/api/v1/me").status_code == 401  # and it stays signed out


# --- throttling -------------------------------------------------------------------------------


def test_five_failures_lock_the_account_even_against_the_right_password(technician):
    client = Client()
    with time_machine.travel(START, tick=False) as clock:
        for _ in range(4):
            assert sign_in(client, "tech", "wrong-password").status_code == 200
        assert sign_in(client, "tech", "wrong-password").status_code == 429

        # When the right password follows
        locked = sign_in(client, "tech")

        # Then it is refused too, and nobody is signed in
        assert locked.status_code == 429
        assert signed_in_user_id(client) is None
        assert events("auth.signed_in") == []
        # five wrong passwords and the locked-out right one
        assert [e.actor_name for e in events("auth.sign_in_failed")] == ["failed:tech"] * 6

        # The lock is for this user name from this address...
        other_desk = Client()
        assert sign_in(other_desk, "tech", REMOTE_ADDR="10.0.0.9").status_code == 302
        # ...and lifts after the 15-minute cool-off
        clock.shift(dt.timedelta(minutes=16))
        assert sign_in(client, "tech").status_code == 302
        assert signed_in_user_id(client) == str(technician.pk)


# --- password rules (NIST SP 800-63B) ---------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("Ab3$xyz", "This password is too short. It must contain at least 8 characters."),
        ("password123", "This password is too common."),
        ("qwertyuiop", "This password is too common."),
    ],
)
def test_it_refuses_short_or_common_passwords(site, pic, technician, password, message):
    with pytest.raises(Invalid) as created:
        staff_create(actor=pic, site=site, username="newbie", role="technician", password=password)
    assert {"field": "password", "message": message} in created.value.errors
    assert not User.objects.filter(username="newbie").exists()

    with pytest.raises(Invalid) as changed:
        staff_set_password(actor=technician, user=technician, password=password)
    assert {"field": "password", "message": message} in changed.value.errors
    assert User.objects.get(pk=technician.pk).check_password(PASSWORD)


def test_it_refuses_a_password_too_like_the_users_own_details(pic, technician):
    with pytest.raises(Invalid) as raised:
        staff_set_password(actor=pic, user=technician, password=technician.last_name.lower() + "1")
    assert [e["field"] for e in raised.value.errors] == ["password"]


def test_it_accepts_a_long_passphrase_without_digits_or_symbols(site, pic):
    # NIST: length and a blocklist, no composition rules
    user = staff_create(
        actor=pic,
        site=site,
        username="newbie",
        role="technician",
        password="correct horse battery staple",
    )
    assert user.check_password("correct horse battery staple")
    client = Client()
    assert sign_in(client, "newbie", "correct horse battery staple").status_code == 302


# --- second factor ----------------------------------------------------------------------------


def test_enrolling_and_then_passing_the_second_factor(pharmacist):
    client = Client()
    with time_machine.travel(START, tick=False) as clock:
        sign_in(client, "rph")

        # Given the pharmacist enrols an authenticator
        assert client.get(reverse("mfa_enroll")).status_code == 200
        device = TOTPDevice.objects.get(user=pharmacist)
        assert device.confirmed is False
        wrong = client.post(reverse("mfa_enroll"), {"code": "12345"})
        assert wrong.status_code == 422
        assert TOTPDevice.objects.get(pk=device.pk).confirmed is False
        enrolled = client.post(reverse("mfa_enroll"), {"code": code_for(device), "next": "/site/"})
        assert enrolled.status_code == 302 and enrolled["Location"] == "/site/"
        assert TOTPDevice.objects.get(pk=device.pk).confirmed is True
        assert [e.actor_name for e in events("auth.mfa_enrolled")] == ["rph"]

        # When they sign out and in again, the password alone is not enough
        client.post(reverse("logout"))
        clock.shift(dt.timedelta(minutes=1))
        signed_in = sign_in(client, "rph")
        assert signed_in.status_code == 302
        assert signed_in["Location"].startswith(reverse("mfa_verify"))
        gated = client.get("/site/")
        assert (gated.status_code, gated["Location"]) == (
            302,
            f"{reverse('mfa_verify')}?next=%2Fsite%2F",
        )
        assert client.get("/api/v1/me").status_code == 401

        # A wrong code is refused and logged
        device.refresh_from_db()
        right = code_for(device)
        wrong_code = f"{(int(right) + 1) % 10**6:06d}"
        refused = client.post(reverse("mfa_verify"), {"code": wrong_code})
        assert refused.status_code == 422
        assert [e.actor_name for e in events("auth.mfa_failed")] == ["rph"]
        assert client.get("/").status_code == 302

        # The right code lets them in (after django-otp's one-second throttle on a failure)
        clock.shift(dt.timedelta(seconds=5))
        device.refresh_from_db()
        right = code_for(device)
        passed = client.post(reverse("mfa_verify"), {"code": right, "next": "/site/"})
        assert (passed.status_code, passed["Location"]) == (302, "/site/")
        assert client.get("/").status_code == 200
        assert client.get("/api/v1/me").status_code == 200
        assert [e.actor_name for e in events("auth.mfa_verified")] == ["rph"]


def test_a_used_code_cannot_be_replayed(pharmacist):
    device = TOTPDevice.objects.create(user=pharmacist, name="phone", confirmed=True)
    client = Client()
    with time_machine.travel(START, tick=False):
        code = code_for(device)
        sign_in(client, "rph")
        assert client.post(reverse("mfa_verify"), {"code": code}).status_code == 302
        client.post(reverse("logout"))
        sign_in(client, "rph")
        assert client.post(reverse("mfa_verify"), {"code": code}).status_code == 422
    assert client.get("/").status_code == 302


def test_a_site_requiring_mfa_sends_a_pharmacist_without_a_device_to_enrol(
    site, pharmacist, auditor
):
    site.mfa_required = True
    site.save()
    client = Client()

    signed_in = sign_in(client, "rph")

    assert signed_in.status_code == 302
    assert signed_in["Location"].startswith(reverse("mfa_enroll"))
    for path in ("/", "/site/", "/patients/"):
        response = client.get(path)
        assert (response.status_code, response["Location"]) == (
            302,
            f"{reverse('mfa_enroll')}?next={quote(path, safe='')}",
        )
    api = client.get("/api/v1/me")
    assert api.status_code == 401
    assert api["Content-Type"] == "application/problem+json"
    assert api.json()["title"] == "Second factor required"
    assert client.get(reverse("mfa_enroll")).status_code == 200

    # an auditor handles no controlled substances: not forced
    other = Client()
    sign_in(other, "auditor")
    assert other.get("/").status_code == 200


def test_mfa_enrolment_is_confirmed_and_audited_in_one_step(site, pharmacist, technician):
    from django_otp.oath import TOTP
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from rxdesk.core.errors import Conflict
    from rxdesk.core.models import AuditEvent
    from rxdesk.core.services import mfa_enrolment_confirm, mfa_enrolment_start

    device = mfa_enrolment_start(user=pharmacist)
    assert mfa_enrolment_start(user=pharmacist).pk == device.pk  # one pending device
    before = AuditEvent.objects.count()

    # a wrong code confirms nothing and records nothing
    assert mfa_enrolment_confirm(user=pharmacist, device=device, token="abc123") is False
    assert mfa_enrolment_confirm(user=pharmacist, device=device, token="12345") is False
    assert AuditEvent.objects.count() == before
    # nobody confirms another person's authenticator
    with pytest.raises(Conflict):
        mfa_enrolment_confirm(user=technician, device=device, token="000000")
    assert not TOTPDevice.objects.get(pk=device.pk).confirmed

    code = f"{TOTP(device.bin_key, device.step, device.t0, device.digits).token():06d}"
    assert mfa_enrolment_confirm(user=pharmacist, device=device, token=code) is True
    assert TOTPDevice.objects.get(pk=device.pk).confirmed
    event = AuditEvent.objects.order_by("-id").first()
    assert (event.action, event.actor_name) == ("auth.mfa_enrolled", pharmacist.username)
    assert AuditEvent.objects.count() == before + 1
