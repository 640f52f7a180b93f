"""``rxdesk erx pickup FOLDER --site N`` takes in the NCPDP SCRIPT messages a gateway drops
in a folder (every ``*.xml``, in name order), as the e-prescription inbox does.

Each file is moved when done: to ``FOLDER/processed/`` when it was received (or was a
replay of one already received), to ``FOLDER/rejected/`` with a ``.txt`` beside it saying
why when it was refused. Running it again is safe: a message already received is counted
as a replay and nothing is created twice. When ``RXDESK_ERX_OUTBOX`` is set, the answer to
each new message (Status, CancelRxResponse) is written there as ``<MessageID>.xml``."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser

from rxdesk.core.errors import DomainError
from rxdesk.core.management.base import RxCommand
from rxdesk.core.models import Site
from rxdesk.rx.choices import ErxStatus
from rxdesk.rx.services.erx import ErxReceipt, erx_receive, write_outbox


def plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else (many or one + 's')}"


@dataclass
class Tally:
    read: int = 0
    queued: int = 0
    needs_match: int = 0
    applied: int = 0
    recorded: int = 0
    replays: int = 0
    rejected: int = 0
    unreadable: list[str] = field(default_factory=list)

    def summary(self, folder: Path) -> str:
        parts = [
            plural(self.queued, "new prescription") + " queued",
            f"{self.needs_match} need{'s' if self.needs_match == 1 else ''} matching",
        ]
        if self.applied:
            parts.append(plural(self.applied, "cancel or renewal answer") + " applied")
        if self.recorded:
            parts.append(plural(self.recorded, "acknowledgement") + " recorded")
        parts.append(plural(self.replays, "replay"))
        rejected = f"{self.rejected} rejected"
        if self.rejected:
            rejected += f" (see {folder / 'rejected'}/)"
        parts.append(rejected)
        text = f"{plural(self.read, 'message')} read: " + ", ".join(parts) + "."
        if self.unreadable:
            text += (
                f" {plural(len(self.unreadable), 'file')} could not be opened and "
                f"{'was' if len(self.unreadable) == 1 else 'were'} left in place: "
                + ", ".join(self.unreadable)
                + "."
            )
        return text


def _free_name(folder: Path, name: str) -> Path:
    """``folder/name``, or ``name-2``, ``name-3``… when a file of that name is already there."""
    target = folder / name
    stem, suffix = Path(name).stem, Path(name).suffix
    n = 2
    while target.exists():
        target = folder / f"{stem}-{n}{suffix}"
        n += 1
    return target


def _move(path: Path, folder: Path) -> Path:
    folder.mkdir(exist_ok=True)
    target = _free_name(folder, path.name)
    shutil.move(str(path), str(target))
    return target


def _why(exc: DomainError) -> str:
    lines = [f"This message was not accepted: {exc.message}"]
    for error in exc.errors:
        if error.get("field") and error.get("message") and error["message"] != exc.message:
            lines.append(f"  {error['field']}: {error['message']}")
    lines.append(
        "Nothing was stored. Ask the sender for a corrected message (a replay of the same "
        "file will be refused the same way)."
    )
    return "\n".join(lines) + "\n"


class Command(RxCommand):
    help = "E-prescriptions: `erx pickup FOLDER --site N` takes in SCRIPT messages from a folder."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        pickup = sub.add_parser(
            "pickup", help="Receive every *.xml SCRIPT message in FOLDER (in name order)"
        )
        pickup.add_argument("folder", help="The folder the gateway drops messages in")
        pickup.add_argument("--site", type=int, required=True, help="Site id")

    def handle(self, *args: Any, **options: Any) -> None:
        site_id = options["site"]
        site = Site.objects.filter(pk=site_id).first() if 0 < site_id < 2**63 else None
        if site is None:
            raise CommandError(f"No site {site_id}.")
        folder = Path(options["folder"]).expanduser()
        if not folder.is_dir():
            raise CommandError(f"{folder} is not a folder.")
        self._pickup(site, folder)

    def _pickup(self, site: Site, folder: Path) -> None:
        files = sorted(
            (p for p in folder.iterdir() if p.is_file() and p.suffix.lower() == ".xml"),
            key=lambda p: p.name,
        )
        tally = Tally()
        total = len(files)
        for index, path in enumerate(files, start=1):
            prefix = f"[{index}/{total}] {path.name}:"
            try:
                data = path.read_bytes()
            except OSError as exc:
                tally.unreadable.append(path.name)
                self.stdout.write(self.style.ERROR(f"{prefix} cannot be read ({exc.strerror})"))
                continue
            tally.read += 1
            try:
                receipt = erx_receive(actor=None, xml=data, site=site)
            except DomainError as exc:
                tally.rejected += 1
                moved = _move(path, folder / "rejected")
                moved.with_name(moved.name + ".txt").write_text(_why(exc), encoding="utf-8")
                self.stdout.write(self.style.ERROR(f"{prefix} rejected: {exc.message}"))
                continue
            _move(path, folder / "processed")
            self.stdout.write(f"{prefix} {self._outcome(receipt, tally)}")
        text = tally.summary(folder)
        style = self.style.WARNING if tally.rejected or tally.unreadable else self.style.SUCCESS
        self.stdout.write(style(text))

    def _outcome(self, receipt: ErxReceipt, tally: Tally) -> str:
        message = receipt.message
        what = f"{message.message_type} {message.message_id}"
        if not receipt.created:
            tally.replays += 1
            return f"{what} was already received; nothing new (replay)."
        if message.reply is not None:
            write_outbox(message.reply.message_id, message.reply.xml.encode("utf-8"))
        if message.status == ErxStatus.QUEUED:
            tally.queued += 1
            number = message.prescription.number if message.prescription else "?"
            return f"{what}: new prescription queued as Rx {number}."
        if message.status == ErxStatus.NEEDS_MATCH:
            tally.needs_match += 1
            return f"{what}: needs matching by a technician. {message.status_note}"
        if message.status == ErxStatus.APPLIED:
            tally.applied += 1
            return f"{what}: {message.status_note}"
        tally.recorded += 1
        return f"{what}: recorded. {message.status_note}"
