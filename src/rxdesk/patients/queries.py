"""Reads of patients and prescribers that more than one door needs."""

from __future__ import annotations

import datetime as dt
import re

from django.db.models import Q, QuerySet
from django.utils import timezone

from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import Invalid, NotFound
from rxdesk.core.models import User
from rxdesk.core.services import authorize
from rxdesk.core.validators import normalize_phone
from rxdesk.patients.models import Patient, Prescriber, key_prefix, name_key

SEARCH_LIMIT = 50
_DATE_FORMATS = ("%m/%d/%Y", "%m-%d-%Y", "%Y-%m-%d", "%m%d%Y", "%m/%d/%y")


def parse_dob(text: str) -> dt.date | None:
    """A date of birth typed as MM/DD/YYYY, MM-DD-YYYY, YYYY-MM-DD or MMDDYYYY."""
    text = text.strip()
    for fmt in _DATE_FORMATS:
        try:
            value = dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
        if fmt == "%m/%d/%y" and value > timezone.localdate():
            value = value.replace(year=value.year - 100)
        return value
    return None


def _name_filter(q: str) -> Q | None:
    if "," in q:
        last, _, first = q.partition(",")
        last_k, first_k = name_key(last), name_key(first)
        if not last_k:
            return None
        cond = key_prefix("last_name_key", last_k)
        return cond & Q(first_name_key__startswith=first_k) if first_k else cond
    tokens = [name_key(t) for t in q.split()]
    tokens = [t for t in tokens if t]
    if not tokens:
        return None
    if len(tokens) == 1:
        t = tokens[0]
        return key_prefix("last_name_key", t) | Q(first_name_key__startswith=t)
    a, b = tokens[0], tokens[-1]
    return (Q(first_name_key__startswith=a) & key_prefix("last_name_key", b)) | (
        key_prefix("last_name_key", a) & Q(first_name_key__startswith=b)
    )


def patient_search(
    *,
    actor: User,
    q: str = "",
    dob: str | dt.date | None = None,
    phone: str = "",
    include_inactive: bool = False,
    limit: int = SEARCH_LIMIT,
) -> QuerySet[Patient]:
    """Patients of the actor's site matching a name ('smi', 'smith, jo', 'jo smith'), a date
    of birth, or a phone number. One box does all three: a date or a phone typed into ``q``
    is recognised. Fewer than two letters of a name finds nothing."""
    authorize(actor, Cap.PATIENT_VIEW)
    qs = Patient.objects.filter(site_id=actor.site_id)
    if not include_inactive:
        qs = qs.exclude(status="inactive")
    conds = Q()
    used = False
    q = (q or "").strip()[:100]
    if q:
        as_date = parse_dob(q)
        digits = normalize_phone(q)
        if as_date:
            conds &= Q(date_of_birth=as_date)
        elif re.fullmatch(r"[\d\s().+-]+", q) and len(digits) >= 7:
            conds &= _phone_filter(digits)
        else:
            name = _name_filter(q)
            if name is None or len(name_key(q.replace(",", ""))) < 2:
                return qs.none()
            conds &= name
        used = True
    if dob:
        as_date = dob if isinstance(dob, dt.date) else parse_dob(str(dob))
        if as_date is None:
            raise Invalid("Type the date of birth as MM/DD/YYYY.", field="dob")
        conds &= Q(date_of_birth=as_date)
        used = True
    if phone:
        digits = normalize_phone(phone)
        if len(digits) < 7:
            raise Invalid("Type at least 7 digits of the phone number.", field="phone")
        conds &= _phone_filter(digits)
        used = True
    if not used:
        return qs.none()
    return qs.filter(conds).order_by("last_name_key", "first_name_key", "date_of_birth")[:limit]


def _phone_filter(digits: str) -> Q:
    if len(digits) == 10:
        return Q(phone_mobile=digits) | Q(phone_home=digits) | Q(phone_work=digits)
    return (
        Q(phone_mobile__endswith=digits)
        | Q(phone_home__endswith=digits)
        | Q(phone_work__endswith=digits)
    )


def patient_for(*, actor: User, patient_id: int) -> Patient:
    """The patient with this id at the actor's site, or NotFound (never another site's)."""
    authorize(actor, Cap.PATIENT_VIEW)
    patient = Patient.objects.filter(pk=patient_id, site_id=actor.site_id).first()
    if patient is None:
        raise NotFound("No such patient at this pharmacy.")
    return patient


def prescriber_search(
    *, actor: User, q: str = "", limit: int = SEARCH_LIMIT, include_inactive: bool = False
) -> QuerySet[Prescriber]:
    """Prescribers by name ('smi', 'smith, jo') or by NPI (all ten digits, or the start)."""
    authorize(actor, Cap.PRESCRIBER_VIEW)
    qs = Prescriber.objects.filter(site_id=actor.site_id)
    if not include_inactive:
        qs = qs.filter(active=True)
    q = (q or "").strip()[:100]
    if q.isdigit():
        if len(q) < 3:
            return qs.none()
        cond = Q(npi=q) if len(q) == 10 else Q(npi__startswith=q)
    else:
        name = _name_filter(q)
        if name is None or len(name_key(q.replace(",", ""))) < 2:
            return qs.none()
        cond = name
    return qs.filter(cond).order_by("last_name_key", "first_name_key")[:limit]


def prescriber_for(*, actor: User, prescriber_id: int) -> Prescriber:
    authorize(actor, Cap.PRESCRIBER_VIEW)
    prescriber = Prescriber.objects.filter(pk=prescriber_id, site_id=actor.site_id).first()
    if prescriber is None:
        raise NotFound("No such prescriber at this pharmacy.")
    return prescriber
