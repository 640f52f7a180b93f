"""ACPE Universal Activity Numbers (UAN) of continuing-pharmacy-education activities.

A UAN reads ``PPPP-JJJJ-YY-NNN-Xtt-A``: the accredited provider's number, the joint
provider's number (``0000`` when there is none), the year the activity was released, its
sequence number, the format letter with the two-digit topic designator, and the target
audience (``P`` pharmacists, ``T`` technicians). Example: ``0197-0000-23-104-H05-T``.

What we are not sure of, said plainly: ACPE's format letters are ``L`` (live), ``H`` (home
study / enduring) and ``B`` (blended); the brief we were given wrote ``L/H/T``, and we accept
``T`` too so that a certificate printed that way is not refused (a UAN is checked against the
certificate by a person, not by us). Topic designators 01–07 are ACPE's long-standing list;
08 (pain management / opioids) is newer and some states count it apart; topics outside the
table are accepted and shown as "other" — ACPE adds topics from time to time and refusing a
real certificate would be worse than showing a plain label. This module checks the SHAPE
only: whether an activity exists is for CPE Monitor (which we do not call)."""

from __future__ import annotations

import re
from dataclasses import dataclass

UAN_RE = re.compile(r"^(\d{4})-(\d{4})-(\d{2})-(\d{3})-([LHBT])(\d{2})-([PT])$")

LAW = "03"
PATIENT_SAFETY = "05"
GENERAL = "04"

# | designator | topic |
TOPICS: dict[str, str] = {
    "01": "Disease state management / drug therapy",
    "02": "HIV / AIDS therapy",
    "03": "Pharmacy law",
    "04": "General pharmacy",
    "05": "Patient safety",
    "06": "Immunizations",
    "07": "Compounding",
    "08": "Pain management / opioids",
}

FORMATS = {"L": "Live", "H": "Home study", "B": "Blended", "T": "Home study (as printed)"}
AUDIENCES = {"P": "Pharmacists", "T": "Technicians"}


@dataclass(frozen=True)
class Uan:
    provider: str
    joint_provider: str
    year: str
    sequence: str
    format: str
    topic: str
    audience: str

    @property
    def text(self) -> str:
        return (
            f"{self.provider}-{self.joint_provider}-{self.year}-{self.sequence}-"
            f"{self.format}{self.topic}-{self.audience}"
        )


def normalize(value: str) -> str:
    """Upper-case, spaces removed: a UAN as typed from a certificate."""
    return "".join(str(value or "").split()).upper()


def parse(value: str) -> Uan | None:
    """The UAN's parts, or None when ``value`` does not have a UAN's shape."""
    match = UAN_RE.match(normalize(value))
    if match is None:
        return None
    return Uan(*match.groups())


def topic_label(topic: str) -> str:
    return TOPICS.get(topic, f"Other (topic {topic})" if topic else "Not given")
