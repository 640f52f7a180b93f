"""Forms of the workstation screens. A form only parses what was typed (text to dates,
numbers, choices) and lays the fields out; every business rule lives in a service, whose
:class:`~rxdesk.core.errors.DomainError` is shown beside the field it names."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django import forms
from django.forms.boundfield import BoundField

from rxdesk.core.choices import Certification, PracticeSetting, Role
from rxdesk.core.errors import Conflict, DomainError, Invalid

# A technician types a date fastest as 05171970 or 05/17/1970; ISO is accepted too.
DATE_INPUT_FORMATS = ["%m/%d/%Y", "%m-%d-%Y", "%Y-%m-%d", "%m%d%Y"]

# Broken rules shown beside the fields. Forbidden and NotFound are not: they become the
# 403 and 404 pages (rxdesk.core.views.screen).
# The largest id a database row can have (a BIGINT): a bigger number finds nothing, and
# must not reach the database driver, which cannot convert it.
MAX_ID = 2**63 - 1

FIELD_ERRORS: tuple[type[DomainError], ...] = (Invalid, Conflict)


class DateField(forms.DateField):
    """A date typed as MM/DD/YYYY (or MMDDYYYY, or YYYY-MM-DD), shown as MM/DD/YYYY."""

    input_formats = DATE_INPUT_FORMATS
    default_error_messages = {"invalid": "Enter the date as MM/DD/YYYY."}

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault(
            "widget",
            forms.DateInput(
                format="%m/%d/%Y",
                attrs={
                    "placeholder": "MM/DD/YYYY",
                    "autocomplete": "off",
                    "inputmode": "numeric",
                    "class": "date",
                },
            ),
        )
        super().__init__(**kwargs)


def text(
    max_length: int, *, required: bool = False, label: str | None = None, **attrs: Any
) -> forms.CharField:
    """A one-line text field (parse only: the model and service validate the content)."""
    widget = forms.TextInput(attrs=attrs) if attrs else None
    return forms.CharField(max_length=max_length, required=required, label=label, widget=widget)


def choice(
    choices: Iterable[tuple[str, str]], *, label: str | None = None, required: bool = True
) -> forms.ChoiceField:
    return forms.ChoiceField(choices=list(choices), label=label, required=required)


def flag(label: str, help_text: str = "") -> forms.BooleanField:
    return forms.BooleanField(required=False, label=label, help_text=help_text)


class RxForm(forms.Form):
    """A screen's form: its fields grouped in ``FIELDSETS``, the first field focused, and the
    HTTP status of its last failure (422 for input that did not parse, or the status of the
    service's error)."""

    FIELDSETS: Sequence[tuple[str, Sequence[str]]] = ()
    # Fields the template places by hand, outside the fieldsets.
    SEPARATE: Sequence[str] = ()
    error_status = 422

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        first = next(iter(self.fields.values()), None)
        if first is not None:
            first.widget.attrs.setdefault("autofocus", True)

    def fieldsets(self) -> list[tuple[str, list[BoundField]]]:
        """``[(legend, [bound field…])]``; fields not named in a fieldset come last."""
        named: set[str] = set()
        out: list[tuple[str, list[BoundField]]] = []
        for legend, names in self.FIELDSETS:
            fields = [self[n] for n in names if n in self.fields]
            named.update(names)
            if fields:
                out.append((legend, fields))
        rest = [self[n] for n in self.fields if n not in named and n not in self.SEPARATE]
        if rest:
            out.append(("", rest))
        return out

    def http_status(self) -> int:
        """200 for a fresh form, else the status of what went wrong."""
        return self.error_status if self.is_bound and self.errors else 200

    def changed(self) -> dict[str, Any]:
        """The cleaned values of the fields the user changed (an edit sends only those)."""
        return {
            name: self.cleaned_data[name] for name in self.changed_data if name in self.cleaned_data
        }


def bind_errors(form: RxForm, exc: DomainError) -> None:
    """Show a service's broken rule beside the fields it names (or above the form)."""
    errors = exc.errors or [{"field": exc.field or "", "message": exc.message}]
    for error in errors:
        field = error.get("field") or None
        if field not in form.fields:
            field = None
        form.add_error(field, error.get("message") or exc.message)
    form.error_status = exc.status


def initial_from(obj: object, form_class: type[forms.Form]) -> dict[str, Any]:
    """The form's initial values read from a model row, field by field."""
    return {name: getattr(obj, name) for name in form_class.base_fields if hasattr(obj, name)}


def query_string(values: Mapping[str, Any]) -> str:
    """Cleaned filter values back into a query string (dates as MM/DD/YYYY)."""
    from django.utils.http import urlencode

    out: dict[str, str] = {}
    for key, value in values.items():
        if value is None or value == "" or value is False:
            continue
        if isinstance(value, dt.date):
            value = value.strftime("%m/%d/%Y")
        out[key] = str(value)
    return urlencode(out)


# --- Site and staff ---------------------------------------------------------------------------


class SiteForm(RxForm):
    FIELDSETS = (
        (
            "Pharmacy",
            (
                "name",
                "setting",
                "address_line1",
                "address_line2",
                "city",
                "state",
                "postal_code",
                "phone",
            ),
        ),
        ("Identifiers", ("ncpdp_id", "npi", "dea_number")),
        ("Workstation policy", ("time_zone", "session_idle_minutes", "mfa_required")),
        ("Records", ("records_retention_years",)),
    )

    name = text(120, required=True, label="Pharmacy name")
    setting = choice(PracticeSetting.choices, label="Practice setting")
    address_line1 = text(120, label="Address")
    address_line2 = text(120, label="Address, line 2")
    city = text(80)
    state = text(2, placeholder="IL")
    postal_code = text(10, label="ZIP code")
    phone = text(20)
    ncpdp_id = text(7, label="NCPDP provider ID")
    npi = text(10, label="NPI")
    dea_number = text(9, label="DEA registration")
    time_zone = text(64, required=True, placeholder="America/Chicago")
    # The same bounds as the site table's check constraint (and the API schema).
    session_idle_minutes = forms.IntegerField(
        min_value=1,
        max_value=240,
        label="Sign out after idle minutes",
        help_text="1 to 240 minutes.",
    )
    mfa_required = flag(
        "Second factor required",
        "Pharmacists and staff who handle controlled substances must use an authenticator.",
    )
    # The same bounds as the site table's check constraint (and the API schema).
    records_retention_years = forms.IntegerField(
        min_value=1,
        max_value=50,
        required=False,
        label="Keep records (years, state law)",
        help_text="1 to 50; DEA's 2 years and HIPAA's 6 apply when longer. Empty: none.",
    )


class StaffForm(RxForm):
    FIELDSETS = (
        (
            "Account",
            ("username", "first_name", "last_name", "email", "role", "password", "is_active"),
        ),
        ("Technician registration", ("technician_registration", "technician_registration_expires")),
        ("Certification", ("certification", "certification_number", "certification_expires")),
        ("Pharmacist license", ("pharmacist_license", "pharmacist_license_expires")),
    )

    username = text(150, required=True, label="User name", autocomplete="off")
    first_name = text(150, label="First name")
    last_name = text(150, label="Last name")
    email = text(254)
    role = choice(Role.choices)
    password = forms.CharField(
        max_length=128,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="At least 8 characters; not a common password or like the user name.",
    )
    is_active = flag("Active", "An inactive account cannot sign in.")
    technician_registration = text(40, label="Registration number")
    technician_registration_expires = DateField(required=False, label="Expires")
    certification = choice(Certification.choices, required=False)
    certification_number = text(40, label="Certification number")
    certification_expires = DateField(required=False, label="Expires")
    pharmacist_license = text(40, label="License number")
    pharmacist_license_expires = DateField(required=False, label="Expires")

    def __init__(self, *args: Any, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if editing:
            # The user name is the account's key, and passwords are set elsewhere.
            del self.fields["username"]
            del self.fields["password"]
            self.fields["first_name"].widget.attrs["autofocus"] = True
        else:
            del self.fields["is_active"]


class AuditFilterForm(RxForm):
    who = text(150, label="Who (user name)", autocomplete="off")
    action = text(
        80, label="Action", list="audit-actions", autocomplete="off", placeholder="e.g. patient."
    )
    patient_id = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_ID,
        label="Patient ID",
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    since = DateField(required=False, label="From")
    until = DateField(required=False, label="To")
    before = forms.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, widget=forms.HiddenInput
    )
    after = forms.IntegerField(
        required=False, min_value=0, max_value=MAX_ID, widget=forms.HiddenInput
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["who"].widget.attrs["data-search"] = True
