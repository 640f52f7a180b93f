"""Code sets of the formulary and therapeutic interchange."""

from __future__ import annotations

from django.db import models


class FormularyStatus(models.TextChoices):
    """Where a product stands on the site's formulary. A product with no entry is treated
    as non-formulary (a closed formulary: the pharmacy lists what it carries by choice)."""

    PREFERRED = "preferred", "Preferred"
    FORMULARY = "formulary", "On formulary"
    RESTRICTED = "restricted", "Restricted (criteria apply)"
    NON_FORMULARY = "non_formulary", "Non-formulary"


class ProtocolStatus(models.TextChoices):
    """Only an approved protocol suggests an interchange."""

    DRAFT = "draft", "Draft"
    APPROVED = "approved", "Approved"
    RETIRED = "retired", "Retired"


class NotifyMethod(models.TextChoices):
    """How the prescriber was told of an interchange ('' — not yet)."""

    NOT_YET = "", "Not yet"
    PHONE = "phone", "Telephone"
    FAX = "fax", "Fax"
    ELECTRONIC = "electronic", "Electronic message"
    IN_PERSON = "in_person", "In person"
