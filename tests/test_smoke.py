"""The app boots, the demo loads through the services, and its audit chain verifies."""

from rxdesk.core.audit import audit_verify
from rxdesk.core.models import User
from rxdesk.demo import DEMO_USERS, demo_load
from rxdesk.patients.models import Patient, Prescriber


def test_it_loads_the_demo_pharmacy_with_one_sign_in_per_role(db, cli_context):
    site = demo_load()
    assert User.objects.filter(site=site).count() == len(DEMO_USERS) == 7
    assert sorted(User.objects.values_list("role", flat=True)) == sorted(
        u.role.value for u in DEMO_USERS
    )
    assert Patient.objects.filter(site=site).count() == 10
    assert Prescriber.objects.filter(site=site).count() == 8
    [report] = audit_verify()
    assert report.intact and report.events > 50
    # loading twice changes nothing
    assert demo_load().pk == site.pk
    assert Patient.objects.count() == 10
