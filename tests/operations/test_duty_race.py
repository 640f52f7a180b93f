"""Two technicians signing on at the same moment must not both slip under the ratio: the
per-site duty lock serializes count-and-insert (needs PostgreSQL's real concurrency)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from rxdesk.core import context
from rxdesk.core.choices import Role
from rxdesk.operations import services_duty as services
from rxdesk.operations.models import DutyShift
from tests.operations.factories import on_duty, rule, staff


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_two_technicians_racing_for_the_last_place(site, pharmacist):
    rule(site, 1)
    on_duty(pharmacist)
    techs = [staff(site, Role.TECHNICIAN, f"race{n}") for n in range(2)]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def sign_on(user):
        with context.using(
            context.RequestInfo(request_id="race", client_addr="127.0.0.1", channel="web")
        ):
            barrier.wait()
            try:
                services.duty_sign_on(actor=user)
                outcomes.append("on")
            except services.OverRatio:
                outcomes.append("over_ratio")
            finally:
                connection.close()

    threads = [threading.Thread(target=sign_on, args=(u,)) for u in techs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["on", "over_ratio"]
    assert DutyShift.objects.filter(role=Role.TECHNICIAN, ended_at__isnull=True).count() == 1
