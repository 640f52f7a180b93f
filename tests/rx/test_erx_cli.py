"""The command line: `rxdesk erx pickup FOLDER --site N` (the drop folder) and
`rxdesk rx auto-refill --site N`."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from rxdesk.interop import script
from rxdesk.rx import services
from rxdesk.rx.choices import ErxStatus, FillSource, FillStatus
from rxdesk.rx.models import ErxMessage, Fill, Prescription
from tests.rx.factories import dispense, first_fill, make_rx
from tests.rx.test_erx import BOMB, cancel_xml, newrx

pytestmark = pytest.mark.django_db

STRANGER = dt.date(1990, 5, 5)  # a birth date no patient on file has


def pickup(folder: Path, site) -> str:
    out = io.StringIO()
    call_command("erx", "pickup", str(folder), "--site", str(site.pk), stdout=out)
    return out.getvalue()


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


@pytest.fixture
def inbox(tmp_path, site):
    folder = tmp_path / "inbox"
    folder.mkdir()
    (folder / "01-newrx.xml").write_bytes(newrx(site, dob=STRANGER))
    (folder / "02-bomb.xml").write_bytes(BOMB)
    (folder / "03-cancel.xml").write_bytes(cancel_xml(site, pon="ORD-NOPE"))
    (folder / "04-again.xml").write_bytes(newrx(site, dob=STRANGER))  # the same message
    (folder / "readme.txt").write_text("not a message")
    return folder


def test_pickup_sorts_every_message_into_processed_or_rejected(inbox, site, settings, tmp_path):
    settings.RXDESK_ERX_OUTBOX = str(tmp_path / "outbox")
    text = pickup(inbox, site)

    assert names(inbox) == ["processed", "readme.txt", "rejected"]
    assert names(inbox / "processed") == ["01-newrx.xml", "03-cancel.xml", "04-again.xml"]
    assert names(inbox / "rejected") == ["02-bomb.xml", "02-bomb.xml.txt"]
    why = (inbox / "rejected" / "02-bomb.xml.txt").read_text()
    assert why.startswith("This message was not accepted: The message uses a DTD")
    assert "Nothing was stored." in why

    assert "[1/4] 01-newrx.xml: NewRx NEWRX-0001: needs matching by a technician." in text
    assert "[2/4] 02-bomb.xml: rejected: The message uses a DTD" in text
    assert "[3/4] 03-cancel.xml: CancelRx CANCEL-0001: Denied (AE)." in text
    assert (
        "[4/4] 04-again.xml: NewRx NEWRX-0001 was already received; nothing new (replay)." in text
    )
    assert text.strip().splitlines()[-1] == (
        "4 messages read: 0 new prescriptions queued, 1 needs matching, 1 cancel or renewal "
        f"answer applied, 1 replay, 1 rejected (see {inbox / 'rejected'}/)."
    )
    assert ErxMessage.objects.filter(direction="in").count() == 2
    assert ErxMessage.objects.get(message_id="NEWRX-0001").status == ErxStatus.NEEDS_MATCH

    # The answers went to the outbox for the gateway: Status for the NewRx, the cancel's answer.
    sent = {script.parse(p.read_bytes()).message_type for p in (tmp_path / "outbox").iterdir()}
    assert sent == {script.MessageType.STATUS, script.MessageType.CANCEL_RX_RESPONSE}


def test_pickup_twice_counts_replays_and_duplicates_nothing(inbox, site):
    pickup(inbox, site)
    again = pickup(inbox, site)
    assert again.strip() == (
        "0 messages read: 0 new prescriptions queued, 0 need matching, 0 replays, 0 rejected."
    )

    # The gateway drops the same files once more.
    for name in ("01-newrx.xml", "03-cancel.xml"):
        (inbox / name).write_bytes((inbox / "processed" / name).read_bytes())
    third = pickup(inbox, site)
    assert third.strip().splitlines()[-1] == (
        "2 messages read: 0 new prescriptions queued, 0 need matching, 2 replays, 0 rejected."
    )
    assert names(inbox / "processed") == [
        "01-newrx-2.xml",
        "01-newrx.xml",
        "03-cancel-2.xml",
        "03-cancel.xml",
        "04-again.xml",
    ]
    assert ErxMessage.objects.filter(direction="in").count() == 2


def test_a_conflicting_message_is_rejected_with_the_reason(tmp_path, site):
    folder = tmp_path / "inbox"
    folder.mkdir()
    (folder / "a.xml").write_bytes(newrx(site, dob=STRANGER))
    (folder / "b.xml").write_bytes(newrx(site, dob=STRANGER, quantity="60"))
    text = pickup(folder, site)
    assert "1 needs matching" in text and "1 rejected" in text
    why = (folder / "rejected" / "b.xml.txt").read_text()
    assert "MessageID NEWRX-0001 was already received" in why


def test_an_invalid_message_lists_every_field(tmp_path, site):
    folder = tmp_path / "inbox"
    folder.mkdir()
    (folder / "bad.xml").write_bytes(newrx(site, quantity="0", written=dt.date(2099, 1, 1)))
    pickup(folder, site)
    why = (folder / "rejected" / "bad.xml.txt").read_text()
    assert "  MedicationPrescribed.Quantity.Value: The quantity must be more than zero." in why
    assert "  MedicationPrescribed.WrittenDate: The date written is in the future." in why
    assert Prescription.objects.count() == 0


def test_pickup_queues_matched_prescriptions(tmp_path, site, technician):
    rx = make_rx(technician)  # Jane Doe's prescriber and drug are on file
    patient = rx.patient
    folder = tmp_path / "inbox"
    folder.mkdir()
    (folder / "new.xml").write_bytes(
        newrx(
            site,
            first=patient.first_name,
            last=patient.last_name,
            dob=patient.date_of_birth,
            ndc=rx.package.ndc11,
            dea=rx.prescriber.dea_number,
        )
    )
    text = pickup(folder, site)
    assert "1 new prescription queued" in text
    assert Prescription.objects.count() == 2


def test_pickup_needs_a_site_and_a_folder(tmp_path, site):
    with pytest.raises(CommandError, match="No site 999"):
        call_command("erx", "pickup", str(tmp_path), "--site", "999", stdout=io.StringIO())
    with pytest.raises(CommandError, match="is not a folder"):
        pickup(tmp_path / "missing", site)


# --- rx auto-refill --------------------------------------------------------------------------


def test_auto_refill_queues_what_is_due(technician, site):
    rx = make_rx(technician)
    dispense(first_fill(rx), site.today() - dt.timedelta(days=28))
    services.auto_refill_set(actor=technician, prescription=rx, enrolled=True)
    out = io.StringIO()
    call_command("rx", "auto-refill", "--site", str(site.pk), "--lead-days", "3", stdout=out)
    text = out.getvalue()
    assert f"Rx {rx.number}: refill 1 queued." in text
    assert text.strip().endswith(
        "1 automatic refill(s) queued; 0 could not be refilled (renewal needed or not fillable)."
    )
    fill = Fill.objects.get(prescription=rx, number=1)
    assert (fill.source, fill.status) == (FillSource.AUTO, FillStatus.QUEUED)


def test_auto_refill_refuses_a_bad_lead_time(site):
    with pytest.raises(CommandError, match="Look ahead 0 to 14 days"):
        call_command("rx", "auto-refill", "--site", str(site.pk), "--lead-days", "30")
    with pytest.raises(CommandError, match="No site"):
        call_command("rx", "auto-refill", "--site", "0")
