"""Demo operations records for the Riverside demo pharmacy, made through the services: the
state ratio (1:3, technicians in training counted), the pharmacist and a technician on
duty, a trainee who signed on before the pharmacist for opening tasks (flagged), a cleaning
schedule with today's counter wipe done, a sealed sharps container and a hazardous-waste
pick-up, and the counting robot with its last maintenance and a downtime with a vendor
ticket."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal

from django.utils import timezone

from rxdesk.core.models import Site, User
from rxdesk.operations.models import CleaningTask
from rxdesk.operations.services_duty import duty_sign_on, ops_settings_set
from rxdesk.operations.services_logs import (
    cleaning_record,
    cleaning_task_create,
    equipment_create,
    equipment_event_end,
    equipment_event_record,
    waste_record,
)
from rxdesk.rx.models import DispensingDevice

SCHEDULE = [
    ("counter", "Wipe the counter and pickup area", "shift", "Quaternary disinfectant wipes"),
    ("counting_trays", "Clean counting trays and spatulas", "daily", "70% isopropyl alcohol"),
    ("fill_station", "Clean the fill stations", "daily", "70% isopropyl alcohol"),
    ("refrigerator", "Wipe refrigerator shelves, check seals", "weekly", "Mild detergent"),
    ("shelves", "Dust shelves and bins", "monthly", ""),
    ("restroom", "Clean the staff restroom", "daily", "Bleach-based cleaner"),
]


def load(site: Site, users: Mapping[str, User] | None = None) -> None:
    """Load the demo rows once (nothing if the site already has a cleaning schedule)."""
    if CleaningTask.objects.filter(site=site).exists():
        return
    staff = dict(users) if users else {u.username: u for u in User.objects.filter(site=site)}
    pic, rph, tech = staff.get("pic"), staff.get("pharmacist"), staff.get("tech")
    trainee = staff.get("trainee")
    if pic is None or rph is None or tech is None:
        return
    ops_settings_set(
        actor=pic,
        max_technicians_per_pharmacist=3,
        trainees_count=True,
        citation="State board rule on technician ratio (enter the rule number)",
    )
    if trainee is not None:
        duty_sign_on(actor=trainee, acknowledge_over_ratio=True, reason="Opening tasks")
    duty_sign_on(actor=rph)
    duty_sign_on(actor=tech)

    tasks = [
        cleaning_task_create(actor=pic, area=a, name=n, frequency=f, agent=g)
        for a, n, f, g in SCHEDULE
    ]
    cleaning_record(actor=tech, task=tasks[0], agent_lot="QW-2291")
    cleaning_record(actor=tech, task=tasks[1])

    now = timezone.now()
    waste_record(
        actor=tech,
        kind="sharps",
        quantity=Decimal("1"),
        unit="container",
        container_id="SC-1042",
        sealed_at=now - dt.timedelta(hours=3),
        witness=rph,
    )
    waste_record(
        actor=tech,
        kind="rcra_hazardous",
        quantity=Decimal("4.250"),
        unit="lb",
        container_id="HW-0007",
        hauler="Demo Environmental Services",
        manifest_number="DEMO-MAN-55817",
        sealed_at=now - dt.timedelta(days=2),
        picked_up_at=now - dt.timedelta(hours=1),
        witness=rph,
    )

    device = DispensingDevice.objects.filter(site=site).order_by("pk").first()
    robot = equipment_create(
        actor=pic,
        name="Counting robot",
        kind="robot",
        vendor="Demo Automation",
        model="CR-200",
        serial="CR200-00417",
        maintenance_days=90,
        device=device,
    )
    equipment_create(
        actor=pic, name="Label printer 1", kind="label_printer", vendor="Zebra", model="ZD421"
    )
    equipment_create(
        actor=pic, name="Vaccine refrigerator", kind="refrigerator", maintenance_days=365
    )
    equipment_event_record(
        actor=tech,
        equipment=robot,
        kind="maintenance",
        started_at=now - dt.timedelta(days=6),
        vendor_ticket="PM-3391",
        description="Quarterly preventive maintenance",
    )
    down = equipment_event_record(
        actor=tech,
        equipment=robot,
        kind="downtime",
        started_at=now - dt.timedelta(days=2, hours=3),
        description="Canister 14 jammed; counting by hand",
    )
    equipment_event_end(
        actor=rph,
        event=down,
        ended_at=now - dt.timedelta(days=2, hours=1),
        vendor_ticket="CASE-88120",
    )
