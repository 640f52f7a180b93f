"""Rows the people-and-training tests and permission matrices share."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from rxdesk.core.choices import Role
from rxdesk.core.models import Site, User
from rxdesk.people.models import ContinuingEducation, PreceptorshipEntry, Skill
from tests.factories import UserFactory


def skill(site: Site, code: str = "cs-vault", months: int = 12) -> Skill:
    found = Skill.objects.filter(site=site, code=code).first()
    return found or Skill.objects.create(
        site=site, code=code, name=f"Skill {code}", category="controlled", renew_months=months
    )


def staff(site: Site, role: Role, username: str) -> User:
    return UserFactory(site=site, role=role, username=username)


def precepting(site: Site) -> PreceptorshipEntry:
    found = PreceptorshipEntry.objects.filter(site=site).first()
    if found:
        return found
    trainee = staff(site, Role.TECHNICIAN_IN_TRAINING, "fx-trainee")
    preceptor = staff(site, Role.PHARMACIST, "fx-preceptor")
    return PreceptorshipEntry.objects.create(
        site=site,
        trainee=trainee,
        preceptor=preceptor,
        on=site.today() - dt.timedelta(days=1),
        hours=Decimal("4.00"),
        activities="Counting tray, label checks",
        logged_by=trainee,
    )


def ce(site: Site) -> ContinuingEducation:
    found = ContinuingEducation.objects.filter(site=site).first()
    if found:
        return found
    person = staff(site, Role.TECHNICIAN, "fx-ce-tech")
    return ContinuingEducation.objects.create(
        site=site,
        person=person,
        provider="Power-Pak C.E.",
        title="Pharmacy law update",
        uan="0197-0000-23-104-H03-T",
        topic="03",
        completed_on=site.today() - dt.timedelta(days=10),
        hours=Decimal("1.00"),
    )
