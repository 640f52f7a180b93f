"""Who and what an e-prescription is about: the patient, prescriber and drug on file that a
SCRIPT message names.

Each matcher returns a :class:`Match`: ``found`` only when the match is certain enough to
fill from without a person looking (exact name keys and birth date for a patient, the NPI
for a prescriber, the NDC for a drug); otherwise up to ten ``candidates``, best first, for
the technician to choose from, and a ``note`` in plain words saying why it was not sure.
A drug is never matched on its name alone.

Patients and prescribers belong to a site; the drug catalog is shared by all sites.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from django.db.models import Q

from rxdesk.catalog import ndc as ndc_codes
from rxdesk.catalog import search
from rxdesk.catalog.models import Package, Product
from rxdesk.core.identifiers import dea_normalize
from rxdesk.core.models import Site
from rxdesk.interop import script
from rxdesk.patients.choices import PatientStatus
from rxdesk.patients.models import Patient, Prescriber, name_key

__all__ = [
    "MAX_CANDIDATES",
    "Match",
    "match_drug",
    "match_patient",
    "match_prescriber",
    "ndc11_of",
    "person_label",
]

T = TypeVar("T")
MAX_CANDIDATES = 10


@dataclass(frozen=True)
class Match(Generic[T]):
    found: T | None  # matched with confidence
    candidates: list[T] = field(default_factory=list)  # best first, at most 10
    note: str = ""  # why not sure, in plain words ("" when found)


def _key(value: str | None) -> str:
    return name_key(value or "")[:60]


def _add(out: list[T], seen: set[int], items: list[T]) -> None:
    for item in items:
        pk = getattr(item, "pk", None)
        if pk is not None and pk not in seen and len(out) < MAX_CANDIDATES:
            seen.add(pk)
            out.append(item)


def person_label(name: script.Name) -> str:
    """'DOE, JANE' as a SCRIPT message spells it."""
    return f"{name.last}, {name.first}"


# --- Patients --------------------------------------------------------------------------------


def match_patient(site: Site, patient: script.Patient) -> Match[Patient]:
    """The patient by exact first and last name (spelling, case, accents and punctuation
    aside) and date of birth. Anything less certain gives candidates: same birth date and
    last name, same birth date and first name, or the same name with another birth date."""
    last, first, dob = _key(patient.name.last), _key(patient.name.first), patient.date_of_birth
    who = f"{person_label(patient.name)} (born {dob:%m/%d/%Y})"
    here = Patient.objects.filter(site=site)
    exact = list(
        here.filter(last_name_key=last, first_name_key=first, date_of_birth=dob).order_by("pk")
    )
    active = [p for p in exact if p.status == PatientStatus.ACTIVE]
    if len(active) == 1:
        return Match(found=active[0], candidates=[], note="")

    out: list[Patient] = []
    seen: set[int] = set()
    _add(out, seen, exact)
    _add(out, seen, list(here.filter(date_of_birth=dob, last_name_key=last).order_by("pk")))
    _add(out, seen, list(here.filter(date_of_birth=dob, first_name_key=first).order_by("pk")))
    if last:
        # Hyphenated or changed last names: 'RIVERA-LOPEZ' and 'Rivera'.
        _add(
            out,
            seen,
            list(
                here.filter(date_of_birth=dob)
                .filter(Q(last_name_key__startswith=last[:4]))
                .order_by("pk")[:MAX_CANDIDATES]
            ),
        )
    _add(
        out,
        seen,
        list(here.filter(last_name_key=last, first_name_key=first).order_by("pk")[:MAX_CANDIDATES]),
    )

    if len(active) > 1:
        note = (
            f"{len(active)} patients on file are named {who}; choose the right one "
            "(and merge the duplicates)."
        )
    elif exact:
        status = exact[0].get_status_display().lower()
        note = f"The patient {who} is on file but {status}; check before filling."
    elif out:
        note = (
            f"No patient on file is exactly {who}. Similar patients are listed; choose one "
            "or add a new patient."
        )
    else:
        note = f"No patient on file is named {who}. Add the patient from the message."
    return Match(found=None, candidates=out, note=note)


# --- Prescribers -----------------------------------------------------------------------------


def match_prescriber(site: Site, prescriber: script.Prescriber) -> Match[Prescriber]:
    """The prescriber by NPI; else by DEA number when the last name agrees too; else
    candidates with the same last name."""
    here = Prescriber.objects.filter(site=site)
    last, first = _key(prescriber.name.last), _key(prescriber.name.first)
    who = person_label(prescriber.name)
    out: list[Prescriber] = []
    seen: set[int] = set()
    notes: list[str] = []

    npi = (prescriber.npi or "").strip()
    if npi:
        by_npi = here.filter(npi=npi).first()
        if by_npi is not None:
            if by_npi.active:
                return Match(found=by_npi, candidates=[], note="")
            _add(out, seen, [by_npi])
            notes.append(f"NPI {npi} is {by_npi.full_name}, who is marked inactive.")

    dea = dea_normalize(prescriber.dea_number or "")
    if dea:
        by_dea = list(here.filter(dea_number=dea).order_by("pk"))
        agreeing = [p for p in by_dea if p.active and p.last_name_key == last]
        if len(agreeing) == 1 and not notes:
            return Match(found=agreeing[0], candidates=[], note="")
        _add(out, seen, by_dea)
        if by_dea and not agreeing:
            notes.append(f"DEA number {dea} is on file for {by_dea[0].full_name}, not for {who}.")

    if last:
        _add(
            out,
            seen,
            list(here.filter(last_name_key=last, first_name_key=first).order_by("-active", "pk")),
        )
        _add(
            out,
            seen,
            list(here.filter(last_name_key=last).order_by("-active", "pk")[:MAX_CANDIDATES]),
        )
    ident = f"NPI {npi}" if npi else "no NPI"
    if not notes:
        if out:
            notes.append(
                f"No prescriber on file has {ident}. Prescribers named like {who} are "
                "listed; choose one only if the NPI belongs to them, or add the prescriber."
            )
        else:
            notes.append(f"No prescriber on file has {ident} ({who}). Add the prescriber.")
    return Match(found=None, candidates=out, note=" ".join(notes))


# --- Drugs -----------------------------------------------------------------------------------


def ndc11_of(code: str) -> str | None:
    """The 11-digit NDC of a SCRIPT product code (11 digits, or a hyphenated 10-digit NDC)."""
    try:
        return ndc_codes.ndc10_to_11(code)
    except ndc_codes.CodeError:
        return None


def _first_package(products: list[Product]) -> list[Package]:
    """The first active package of each product (by NDC), in the products' order."""
    if not products:
        return []
    by_product: dict[int, Package] = {}
    rows = Package.objects.filter(product__in=products, active=True).order_by("product_id", "ndc11")
    for package in rows.select_related("product"):
        by_product.setdefault(package.product_id, package)
    return [by_product[p.pk] for p in products if p.pk in by_product]


_STRENGTH = re.compile(r"[0-9]+(?:\.[0-9]+)?")


def _name_queries(description: str) -> list[str]:
    """What to search the catalog for, most specific first: the whole description, the
    first word with the strength, the first word alone."""
    words = description.split()
    if not words:
        return []
    first = words[0]
    numbers = [w for w in words[1:] if _STRENGTH.fullmatch(w)]
    queries = [description]
    if numbers:
        queries.append(f"{first} {numbers[0]}")
    queries.append(first)
    return list(dict.fromkeys(q for q in queries if len(q) >= search.MIN_CHARS))


def _products_named(description: str) -> list[Product]:
    for query in _name_queries(description):
        ids = search.product_ids(search.terms_of(query), limit=MAX_CANDIDATES)
        if ids:
            found = Product.objects.in_bulk(ids)
            return [found[i] for i in ids if i in found]
    first = (description.split() or [""])[0]
    if len(first) < search.MIN_CHARS:
        return []
    return list(
        Product.objects.filter(
            Q(name__icontains=first) | Q(generic_name__icontains=first)
        ).order_by("-active", "name", "pk")[:MAX_CANDIDATES]
    )


def match_drug(medication: script.Medication) -> Match[Package]:
    """The package by its NDC (product code qualifier ND). Without a known NDC the
    candidates are other packages of the same product, then the first active package of
    each product found by the drug's name: a name alone is never a match."""
    description = " ".join(medication.drug_description.split())
    out: list[Package] = []
    seen: set[int] = set()
    code = medication.ndc
    ndc11 = ndc11_of(code) if code else None
    if ndc11 is not None:
        package = Package.objects.select_related("product").filter(ndc11=ndc11).first()
        if package is not None:
            return Match(found=package, candidates=[], note="")
        same_product = list(
            Package.objects.select_related("product")
            .filter(ndc11__startswith=ndc11[:9], active=True)
            .order_by("ndc11")[:MAX_CANDIDATES]
        )
        _add(out, seen, same_product)
    _add(out, seen, _first_package(_products_named(description)))

    if ndc11 is not None:
        shown = ndc_codes.format_ndc11(ndc11)
        if out:
            note = (
                f"NDC {shown} ({description}) is not in the drug catalog. Similar products "
                "are listed; choose the package to dispense."
            )
        else:
            note = (
                f"NDC {shown} ({description}) is not in the drug catalog and no product of "
                "that name was found. Search the catalog for the package to dispense."
            )
    elif code:
        note = f"Product code {code} is not an NDC this pharmacy can read; choose the package."
    elif out:
        note = (
            f"The message names the drug ({description}) but gives no NDC; choose the "
            "package to dispense."
        )
    else:
        note = (
            f"The message names the drug ({description}) without an NDC, and no product of "
            "that name was found. Search the catalog for the package to dispense."
        )
    return Match(found=None, candidates=out, note=note)
