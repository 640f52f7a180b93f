"""Demo people-and-training records for the demo pharmacy, made through the services: the
skills catalog, an onboarding plan for the technician in training (one skill passed, one
still to do), the technician's assessments (one passed, one needing retraining), precepting
hours (one signed), CE toward the technician's PTCB recertification, and the trainee's
registration expiring within the alert window."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from rxdesk.core.models import Site, User
from rxdesk.core.services import staff_update
from rxdesk.people.services import (
    ce_record,
    competency_record,
    preceptorship_log,
    preceptorship_sign,
    skill_create,
    training_plan_create,
)

SKILLS = [
    ("sterile", "Sterile compounding: aseptic technique", "sterile", 6),
    ("nonsterile", "Non-sterile compounding", "nonsterile", 12),
    ("hd", "Hazardous drug handling (USP <800>)", "hazardous", 12),
    ("robot", "Counting robot: load and calibrate", "automation", 12),
    ("cs-vault", "Controlled substances: receipt and count", "controlled", 12),
    ("pos", "Register and signature capture", "pos", 0),
    ("imm", "Immunization: injection technique", "immunization", 24),
]


def load(site: Site, users: dict[str, User]) -> None:
    pic, rph = users["pic"], users["pharmacist"]
    tech, trainee = users["tech"], users["trainee"]
    today = site.today()
    skills = {
        code: skill_create(actor=pic, code=code, name=name, category=category, renew_months=months)
        for code, name, category, months in SKILLS
    }
    training_plan_create(
        actor=rph,
        trainee=trainee,
        title="Technician onboarding",
        started_on=today - dt.timedelta(days=21),
        due_on=today + dt.timedelta(days=20),
        skills=[skills["pos"], skills["robot"], skills["cs-vault"]],
    )
    competency_record(
        actor=rph,
        person=trainee,
        skill=skills["pos"],
        assessed_on=today - dt.timedelta(days=7),
        method="demonstration",
        result="pass",
        notes="Handled a split tender and a refund without help.",
    )
    training_plan_create(
        actor=pic,
        trainee=tech,
        title="Annual competencies",
        started_on=today - dt.timedelta(days=330),
        due_on=today - dt.timedelta(days=300),
        skills=[skills["robot"], skills["cs-vault"]],
    )
    competency_record(
        actor=pic,
        person=tech,
        skill=skills["robot"],
        assessed_on=today - dt.timedelta(days=320),
        method="observation",
        result="pass",
    )
    competency_record(
        actor=pic,
        person=tech,
        skill=skills["cs-vault"],
        assessed_on=today - dt.timedelta(days=3),
        method="written",
        result="retrain",
        score=Decimal("72"),
        notes="Review the CII receipt steps (Form 222) and retest.",
    )
    entry = preceptorship_log(
        actor=trainee,
        trainee=trainee,
        preceptor=rph,
        on=today - dt.timedelta(days=2),
        hours=Decimal("6.5"),
        activities="Data entry of new prescriptions, sig codes, DUR messages.",
    )
    preceptorship_sign(actor=rph, entry=entry)
    preceptorship_log(
        actor=trainee,
        trainee=trainee,
        preceptor=rph,
        on=today - dt.timedelta(days=1),
        hours=Decimal("4"),
        activities="Filling and the counting robot under supervision.",
    )
    for uan, title, hours, days in (
        ("0197-0000-24-118-H03-T", "Federal pharmacy law for technicians", "1.5", 200),
        ("0197-0000-24-131-H05-T", "Look-alike, sound-alike errors", "1", 120),
        ("0798-0000-25-007-L04-T", "Sterile compounding refresher", "3", 40),
    ):
        ce_record(
            actor=tech,
            provider="Power-Pak C.E.",
            title=title,
            uan=uan,
            completed_on=today - dt.timedelta(days=days),
            hours=Decimal(hours),
        )
    staff_update(
        actor=pic, user=trainee, technician_registration_expires=today + dt.timedelta(days=40)
    )
