"""Workstation pages of the cleanroom: the board (certification, today's readings,
sampling and cleaning due, open corrective actions — states in words, not colour alone),
quick-entry forms for a sample, a pressure, a temperature/humidity reading and cleaning
(keyboard-first: the room comes preselected from ``?room=``, Enter saves, the form comes
back for the next entry), the rooms and PECs with their set-up forms, certifications,
corrective actions, and the histories with their CSV for an inspector.

Parse, call, render: the services decide (rxdesk.compounding.services_cleanroom). Each page
checks its capability first, so a refused role gets 403 and nothing is read."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path, reverse
from django.utils.http import urlencode

from rxdesk.compounding import cleanroom as rules
from rxdesk.compounding import queries_cleanroom as queries
from rxdesk.compounding import services_cleanroom as services
from rxdesk.compounding.choices import (
    CleaningArea,
    CleaningKind,
    IsoClass,
    PecKind,
    Pressure,
    RoomKind,
    SampleKind,
)
from rxdesk.compounding.models import EngineeringControl, Room
from rxdesk.core.capabilities import Cap, has, require
from rxdesk.core.forms import (
    FIELD_ERRORS,
    MAX_ID,
    DateField,
    RxForm,
    bind_errors,
    choice,
    flag,
    query_string,
    text,
)
from rxdesk.core.models import User
from rxdesk.core.views import FORM, actor_of, posted, screen

BLANK = [("", "—")]
UNCLASSIFIED = "none"  # the form's word for the empty ISO class ("" is "not chosen")


# --- Fields and forms (parse only: the services hold the rules) --------------------------


class LocalDateTimeField(forms.CharField):
    """A date and time typed at the counter (MM/DD/YYYY HH:MM), left naive: the service
    reads it in the pharmacy's own time zone. Blank means now."""

    FORMATS = ("%m/%d/%Y %H:%M", "%m/%d/%Y %I:%M %p", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M")
    MESSAGE = "Enter the date and time as MM/DD/YYYY HH:MM (blank: now)."

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault(
            "widget",
            forms.TextInput(attrs={"placeholder": "now", "autocomplete": "off", "maxlength": 30}),
        )
        kwargs.setdefault("help_text", "Blank for now; MM/DD/YYYY HH:MM for an entry made late.")
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> Any:
        raw = (super().to_python(value) or "").strip()
        if not raw:
            return None
        if len(raw) > 30:
            raise ValidationError(self.MESSAGE)
        for fmt in self.FORMATS:
            try:
                return dt.datetime.strptime(raw, fmt)
            except ValueError:
                continue
        raise ValidationError(self.MESSAGE)


def _number(label: str, *, required: bool = True, **attrs: Any) -> forms.DecimalField:
    widget_attrs = {"inputmode": "decimal", "autocomplete": "off", **attrs}
    return forms.DecimalField(
        label=label,
        required=required,
        max_digits=12,
        decimal_places=4,
        widget=forms.TextInput(attrs=widget_attrs),
    )


def _room_choices(actor: User) -> list[tuple[str, str]]:
    return [
        (str(r.pk), f"{r.name} ({rules.iso_words(r.iso_class)})")
        for r in queries.rooms(actor=actor, active_only=True)
    ]


def _control_choices(actor: User, *, iso5_only: bool = False) -> list[tuple[str, str]]:
    return [
        (str(c.pk), f"{c.name} in {c.room.name}")
        for c in queries.controls(actor=actor)
        if not iso5_only or c.iso_class == rules.ISO_5
    ]


class _SiteForm(RxForm):
    """A form whose room and PEC lists are the actor's pharmacy's."""

    def __init__(self, *args: Any, actor: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "room" in self.fields:
            self.fields["room"].choices = BLANK + _room_choices(actor)  # type: ignore[attr-defined]
        if "control" in self.fields:
            self.fields["control"].choices = BLANK + _control_choices(actor)  # type: ignore[attr-defined]
        if self.initial.get("room") and "room" in self.fields:
            # The room came from the board's link: start typing at the next field.
            self.fields["room"].widget.attrs.pop("autofocus", None)
            after = [n for n in self.fields if n not in ("room", "control")]
            if after:
                self.fields[after[0]].widget.attrs["autofocus"] = True


class SampleForm(_SiteForm):
    FIELDSETS = (
        ("Where", ("room", "control", "kind", "location")),
        ("Result", ("cfu", "air_volume_liters", "organism", "highly_pathogenic")),
        ("When", ("sampled_at", "note")),
    )
    room = forms.ChoiceField(label="Room")
    control = forms.ChoiceField(
        label="PEC sampled (ISO 5)", required=False, help_text="Blank: the room itself."
    )
    kind = choice(SampleKind.choices, label="Kind of sample")
    location = text(services.LOCATION_MAX, required=True, label="Location on the map")
    cfu = forms.IntegerField(
        label="CFU counted",
        min_value=0,
        max_value=services.MAX_CFU,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    air_volume_liters = _number("Air volume sampled (L)", required=False, placeholder="1000")
    organism = text(services.ORGANISM_MAX, label="Organism identified (genus)")
    highly_pathogenic = flag(
        "Highly pathogenic organism",
        "Mould, yeast, Gram-negative rod or S. aureus: acted on whatever the count.",
    )
    sampled_at = LocalDateTimeField(label="Sampled at")
    note = text(services.TEXT_MAX, label="Note (why late, if more than 7 days old)")


class PressureForm(_SiteForm):
    FIELDSETS = (("Pressure differential", ("room", "reference", "inches_wc", "read_at", "note")),)
    room = forms.ChoiceField(label="Room")
    reference = text(services.REFERENCE_MAX, required=True, label="Measured against")
    inches_wc = _number("Differential (in. w.c., signed)", placeholder="+0.025")
    read_at = LocalDateTimeField(label="Read at")
    note = text(services.TEXT_MAX, label="Note (why late, if more than 7 days old)")


class ConditionsForm(_SiteForm):
    FIELDSETS = (
        ("Temperature and humidity", ("room", "temperature_c", "humidity_pct", "read_at", "note")),
    )
    room = forms.ChoiceField(label="Room")
    temperature_c = _number("Temperature (°C)", placeholder="19.5")
    humidity_pct = _number("Relative humidity (%)", placeholder="45")
    read_at = LocalDateTimeField(label="Read at")
    note = text(services.TEXT_MAX, label="Note (why late, if more than 7 days old)")


class CleaningForm(_SiteForm):
    FIELDSETS = (
        ("What was cleaned", ("room", "area", "control", "kind", "agent")),
        ("When", ("performed_at", "note")),
    )
    room = forms.ChoiceField(label="Room")
    area = choice(CleaningArea.choices, label="Area")
    control = forms.ChoiceField(
        label="PEC (interior or tray)", required=False, help_text="Only for the PEC's areas."
    )
    kind = choice(CleaningKind.choices, label="Work done")
    agent = text(services.AGENT_MAX, required=True, label="Agent used")
    performed_at = LocalDateTimeField(label="Done at")
    note = text(services.TEXT_MAX, label="Note")


class RoomForm(RxForm):
    FIELDSETS: Sequence[tuple[str, Sequence[str]]] = (
        ("Room or area", ("name", "kind", "iso_class", "pressure", "hazardous")),
    )
    name = text(services.NAME_MAX, required=True, label="Name")
    kind = choice(RoomKind.choices, label="Kind")
    iso_class = choice(
        [
            ("auto", "As the kind requires"),
            *((v or UNCLASSIFIED, label) for v, label in IsoClass.choices),
        ],
        label="ISO class",
        required=False,
    )
    pressure = choice(
        [("", "As the kind requires"), *Pressure.choices], label="Pressure", required=False
    )
    hazardous = flag("Hazardous drugs (USP <800>)", "Hazardous rooms are kept negative.")


class RoomEditForm(RoomForm):
    FIELDSETS = (
        ("Room or area", ("name", "kind", "iso_class", "pressure", "hazardous", "active")),
    )
    active = flag("In use", "A room no longer used keeps its history.")


class ControlForm(_SiteForm):
    FIELDSETS: Sequence[tuple[str, Sequence[str]]] = (
        ("Primary engineering control", ("room", "name", "kind", "hazardous", "serial")),
    )
    room = forms.ChoiceField(label="Room")
    name = text(services.NAME_MAX, required=True, label="Name")
    kind = choice(PecKind.choices, label="Kind")
    hazardous = flag("Containment PEC (hazardous drugs)")
    serial = text(services.SERIAL_MAX, label="Serial number")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["room"].widget.attrs.pop("autofocus", None)  # the room form has it


class ControlEditForm(ControlForm):
    FIELDSETS = (
        ("Primary engineering control", ("room", "name", "kind", "hazardous", "serial", "active")),
    )
    active = flag("In use")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["room"].widget.attrs["autofocus"] = True


class CertificationForm(RxForm):
    FIELDSETS = (
        ("Certification", ("target", "certified_on", "certifier", "passed")),
        ("Report", ("report_reference", "note")),
    )
    target = forms.ChoiceField(label="Room or PEC certified")
    certified_on = DateField(label="Certified on")
    certifier = text(services.CERTIFIER_MAX, required=True, label="Certifier (company)")
    passed = choice([("yes", "Passed"), ("no", "Failed")], label="Result")
    report_reference = text(services.REPORT_MAX, label="Report number")
    note = text(services.TEXT_MAX, label="Note (what failed, if it did)")

    def __init__(self, *args: Any, actor: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        options = [(f"room-{pk}", f"Room: {label}") for pk, label in _room_choices(actor)]
        options += [(f"pec-{pk}", f"PEC: {label}") for pk, label in _control_choices(actor)]
        self.fields["target"].choices = BLANK + options  # type: ignore[attr-defined]


class ActionOpenForm(_SiteForm):
    FIELDSETS = (("Open a corrective action", ("problem", "room")),)
    problem = forms.CharField(
        max_length=services.TEXT_MAX,
        label="Problem",
        widget=forms.Textarea(attrs={"rows": 2, "maxlength": services.TEXT_MAX}),
    )
    room = forms.ChoiceField(label="Room", required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["problem"].widget.attrs.pop("autofocus", None)


class ActionCloseForm(RxForm):
    FIELDSETS = (("Close", ("action_taken", "resample")),)
    action_taken = forms.CharField(
        max_length=services.ACTION_TAKEN_MAX,
        label="What was done (investigation, remedy)",
        widget=forms.Textarea(attrs={"rows": 4, "maxlength": services.ACTION_TAKEN_MAX}),
    )
    resample = text(
        services.TEXT_MAX,
        label="Resample: when, and its result",
        help_text="Required when a sample opened the action.",
    )


class HistoryForm(RxForm):
    start = DateField(required=False, label="From")
    end = DateField(required=False, label="Through")
    room = forms.ChoiceField(label="Room", required=False)
    kind = choice(BLANK + list(SampleKind.choices), label="Kind", required=False)
    excursions = flag("Excursions only")

    def __init__(self, *args: Any, actor: User, samples: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["start"].widget.attrs.pop("autofocus", None)
        self.fields["room"].choices = [("", "All rooms"), *_room_choices(actor)]  # type: ignore[attr-defined]
        if not samples:
            del self.fields["kind"]
            del self.fields["excursions"]


# --- Helpers ----------------------------------------------------------------------------


def _room_at(actor: User, value: Any, field: str = "room") -> Room | None:
    if value in (None, ""):
        return None
    return queries.room_get(actor=actor, room_id=value)


def _control_at(actor: User, value: Any) -> EngineeringControl | None:
    if value in (None, ""):
        return None
    return queries.control_get(actor=actor, control_id=value)


def _preselected(request: HttpRequest) -> dict[str, Any]:
    """``?room=`` (and ``?pec=``) from the board's links, when they are plain ids."""
    initial: dict[str, Any] = {}
    for key, name in (("room", "room"), ("pec", "control")):
        value = request.GET.get(key, "")
        if value.isdigit() and 0 < int(value) <= MAX_ID:
            initial[name] = value
    return initial


def _again(name: str, room: Room | None) -> HttpResponse:
    url = reverse(name)
    return redirect(f"{url}?{urlencode({'room': room.pk})}" if room is not None else url)


def _entry(
    request: HttpRequest,
    form: RxForm,
    *,
    title: str,
    intro: str,
    action: str,
    button: str,
) -> HttpResponse:
    context = {"form": form, "title": title, "intro": intro, "action": action, "button": button}
    return render(request, "compounding/cleanroom_entry.html", context, status=form.http_status())


# --- The board --------------------------------------------------------------------------


@screen
def cleanroom_board(request: HttpRequest) -> HttpResponse:
    """Rooms and PECs, what is due or overdue, today's readings and open actions."""
    actor = actor_of(request)
    require(actor, Cap.COMPOUNDING_VIEW)
    context = {
        "board": queries.board(actor=actor),
        "may_monitor": has(actor, Cap.COMPOUNDING_MONITOR),
        "may_facility": has(actor, Cap.COMPOUNDING_FACILITY),
        "may_correct": has(actor, Cap.COMPOUNDING_CORRECT),
    }
    return render(request, "compounding/cleanroom.html", context)


# --- Quick entry ------------------------------------------------------------------------


@screen(methods=FORM)
def sample_new(request: HttpRequest) -> HttpResponse:
    """Enter a viable air or surface sample's count."""
    actor = actor_of(request)
    require(actor, Cap.COMPOUNDING_MONITOR)
    data = posted(request)
    form = SampleForm(data, actor=actor, initial=_preselected(request))
    if data is not None and form.is_valid():
        values = form.cleaned_data
        try:
            sample = services.sample_record(
                actor=actor,
                kind=values["kind"],
                room=_room_at(actor, values["room"]),
                control=_control_at(actor, values["control"]),
                location=values["location"],
                sampled_at=values["sampled_at"],
                cfu=values["cfu"],
                air_volume_liters=values["air_volume_liters"],
                organism=values["organism"],
                highly_pathogenic=values["highly_pathogenic"],
                note=values["note"],
            )
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            words = services.describe_sample(sample)
            (messages.warning if sample.excursion else messages.success)(request, words)
            return _again("compounding_sample_new", sample.room)
    return _entry(
        request,
        form,
        title="Environmental sample",
        intro="Air: CFU per m³ from the count and the litres sampled. An excursion — above "
        "the action level, or a highly pathogenic organism at any count — opens a corrective "
        "action.",
        action=reverse("compounding_sample_new"),
        button="Save the sample",
    )


@screen(methods=FORM)
def pressure_new(request: HttpRequest) -> HttpResponse:
    """Enter a room's pressure differential."""
    actor = actor_of(request)
    require(actor, Cap.COMPOUNDING_MONITOR)
    data = posted(request)
    form = PressureForm(data, actor=actor, initial=_preselected(request))
    if data is not None and form.is_valid():
        values = form.cleaned_data
        try:
            reading = services.pressure_record(
                actor=actor,
                room=_room_at(actor, values["room"]),  # type: ignore[arg-type]
                reference=values["reference"],
                inches_wc=values["inches_wc"],
                read_at=values["read_at"],
                note=values["note"],
            )
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            words = services.describe_reading(reading)
            (messages.success if reading.in_range else messages.warning)(request, words)
            return _again("compounding_pressure_new", reading.room)
    return _entry(
        request,
        form,
        title="Pressure differential",
        intro="Positive rooms at least +0.020 in. w.c.; hazardous-drug rooms between −0.010 and "
        "−0.030 in. w.c. Log it each day compounding happens.",
        action=reverse("compounding_pressure_new"),
        button="Save the reading",
    )


@screen(methods=FORM)
def conditions_new(request: HttpRequest) -> HttpResponse:
    """Enter a room's temperature and relative humidity."""
    actor = actor_of(request)
    require(actor, Cap.COMPOUNDING_MONITOR)
    data = posted(request)
    form = ConditionsForm(data, actor=actor, initial=_preselected(request))
    if data is not None and form.is_valid():
        values = form.cleaned_data
        try:
            reading = services.conditions_record(
                actor=actor,
                room=_room_at(actor, values["room"]),  # type: ignore[arg-type]
                temperature_c=values["temperature_c"],
                humidity_pct=values["humidity_pct"],
                read_at=values["read_at"],
                note=values["note"],
            )
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            words = services.describe_reading(reading)
            (messages.success if reading.in_range else messages.warning)(request, words)
            return _again("compounding_conditions_new", reading.room)
    return _entry(
        request,
        form,
        title="Temperature and humidity",
        intro="Recommended: 20 °C or cooler and relative humidity below 60 %. A reading "
        "outside the recommendation opens a corrective action to investigate.",
        action=reverse("compounding_conditions_new"),
        button="Save the reading",
    )


@screen(methods=FORM)
def cleaning_new(request: HttpRequest) -> HttpResponse:
    """Enter cleaning, disinfecting or sporicidal work."""
    actor = actor_of(request)
    require(actor, Cap.COMPOUNDING_MONITOR)
    data = posted(request)
    form = CleaningForm(data, actor=actor, initial=_preselected(request))
    if data is not None and form.is_valid():
        values = form.cleaned_data
        try:
            log = services.cleaning_record(
                actor=actor,
                room=_room_at(actor, values["room"]),  # type: ignore[arg-type]
                control=_control_at(actor, values["control"]),
                area=values["area"],
                kind=values["kind"],
                agent=values["agent"],
                performed_at=values["performed_at"],
                note=values["note"],
            )
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            messages.success(
                request,
                f"{log.get_kind_display()} recorded: {log.get_area_display()}"
                + (f" ({log.control.name})" if log.control else "")
                + f", {log.room.name}.",
            )
            return _again("compounding_cleaning_new", log.room)
    return _entry(
        request,
        form,
        title="Cleaning, disinfecting, sporicidal",
        intro="PEC interior, pass-throughs, work surfaces and floors: daily on compounding "
        "days; the rest monthly. Sporicidal monthly, or weekly where Category 3 is made.",
        action=reverse("compounding_cleaning_new"),
        button="Save the cleaning",
    )


# --- Facility set-up --------------------------------------------------------------------

ROOM, CONTROL = "room", "control"


def _rooms_page(
    request: HttpRequest,
    actor: User,
    *,
    room_form: RoomForm | None = None,
    control_form: ControlForm | None = None,
    status: int = 200,
) -> HttpResponse:
    may = has(actor, Cap.COMPOUNDING_FACILITY)
    context = {
        "rooms": queries.rooms(actor=actor),
        "may_facility": may,
        "room_form": room_form or (RoomForm(prefix=ROOM) if may else None),
        "control_form": control_form or (ControlForm(prefix=CONTROL, actor=actor) if may else None),
    }
    return render(request, "compounding/cleanroom_rooms.html", context, status=status)


def _iso(value: str | None) -> str | None:
    """The form's ISO class for the service: None lets the kind decide."""
    if value in ("auto", "", None):
        return None
    return "" if value == UNCLASSIFIED else value


@screen(methods=FORM)
def rooms_list(request: HttpRequest) -> HttpResponse:
    """Rooms and their PECs; the pharmacist-in-charge adds them here."""
    actor = actor_of(request)
    require(actor, Cap.COMPOUNDING_VIEW)
    data = posted(request)
    if data is None:
        return _rooms_page(request, actor)
    require(actor, Cap.COMPOUNDING_FACILITY)
    if data.get("form") == CONTROL:
        control_form = ControlForm(data, prefix=CONTROL, actor=actor)
        if control_form.is_valid():
            values = control_form.cleaned_data
            try:
                control = services.control_create(
                    actor=actor,
                    room=_room_at(actor, values["room"]),  # type: ignore[arg-type]
                    name=values["name"],
                    kind=values["kind"],
                    hazardous=values["hazardous"],
                    serial_number=values["serial"],
                )
            except FIELD_ERRORS as exc:
                bind_errors(control_form, exc)
            else:
                messages.success(request, f"{control.name} added to {control.room.name}.")
                return redirect("compounding_rooms")
        return _rooms_page(
            request, actor, control_form=control_form, status=control_form.http_status()
        )
    room_form = RoomForm(data, prefix=ROOM)
    if room_form.is_valid():
        values = room_form.cleaned_data
        try:
            room = services.room_create(
                actor=actor,
                name=values["name"],
                kind=values["kind"],
                iso_class=_iso(values["iso_class"]),
                pressure=values["pressure"] or None,
                hazardous=values["hazardous"],
            )
        except FIELD_ERRORS as exc:
            bind_errors(room_form, exc)
        else:
            messages.success(
                request, f"{room.name} added ({rules.iso_words(room.iso_class)}, {room.pressure})."
            )
            return redirect("compounding_rooms")
    return _rooms_page(request, actor, room_form=room_form, status=room_form.http_status())


@screen(methods=FORM)
def room_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Change a room, or take it out of use."""
    actor = actor_of(request)
    require(actor, Cap.COMPOUNDING_FACILITY)
    room = queries.room_get(actor=actor, room_id=pk)
    data = posted(request)
    initial = {
        "name": room.name,
        "kind": room.kind,
        "iso_class": room.iso_class or UNCLASSIFIED,
        "pressure": room.pressure,
        "hazardous": room.hazardous,
        "active": room.active,
    }
    form = RoomEditForm(data, initial=initial)
    if data is not None and form.is_valid():
        values = form.cleaned_data
        try:
            services.room_update(
                actor=actor,
                room=room,
                name=values["name"],
                kind=values["kind"],
                iso_class=_iso(values["iso_class"]),
                pressure=values["pressure"] or None,
                hazardous=values["hazardous"],
                active=values["active"],
            )
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            messages.success(request, f"{room.name} saved.")
            return redirect("compounding_rooms")
    return _entry(
        request,
        form,
        title=f"Room: {room.name}",
        intro="The ISO class and pressure must agree with the kind of room.",
        action=reverse("compounding_room_edit", kwargs={"pk": room.pk}),
        button="Save the room",
    )


@screen(methods=FORM)
def control_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Change or move a PEC, or take it out of use."""
    actor = actor_of(request)
    require(actor, Cap.COMPOUNDING_FACILITY)
    control = queries.control_get(actor=actor, control_id=pk)
    data = posted(request)
    initial = {
        "room": str(control.room_id),
        "name": control.name,
        "kind": control.kind,
        "hazardous": control.hazardous,
        "serial": control.serial_number,
        "active": control.active,
    }
    form = ControlEditForm(data, actor=actor, initial=initial)
    if data is not None and form.is_valid():
        values = form.cleaned_data
        try:
            services.control_update(
                actor=actor,
                control=control,
                room=_room_at(actor, values["room"]),
                name=values["name"],
                kind=values["kind"],
                hazardous=values["hazardous"],
                serial_number=values["serial"],
                active=values["active"],
            )
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            messages.success(request, f"{control.name} saved.")
            return redirect("compounding_rooms")
    return _entry(
        request,
        form,
        title=f"PEC: {control.name}",
        intro="A sterile PEC provides ISO 5 air; a containment PEC sits in a hazardous-drug room.",
        action=reverse("compounding_control_edit", kwargs={"pk": control.pk}),
        button="Save the PEC",
    )


@screen(methods=FORM)
def certification_new(request: HttpRequest) -> HttpResponse:
    """Record a certification of a room or PEC; the next is due 6 months later."""
    actor = actor_of(request)
    require(actor, Cap.COMPOUNDING_FACILITY)
    data = posted(request)
    initial: dict[str, Any] = {"passed": "yes"}
    pre = _preselected(request)
    if "control" in pre:
        initial["target"] = f"pec-{pre['control']}"
    elif "room" in pre:
        initial["target"] = f"room-{pre['room']}"
    form = CertificationForm(data, actor=actor, initial=initial)
    if data is not None and form.is_valid():
        values = form.cleaned_data
        what, _, pk = values["target"].partition("-")
        try:
            made = services.certification_record(
                actor=actor,
                room=_room_at(actor, pk) if what == "room" else None,
                control=_control_at(actor, pk) if what == "pec" else None,
                certified_on=values["certified_on"],
                certifier=values["certifier"],
                passed=values["passed"] == "yes",
                report_reference=values["report_reference"],
                note=values["note"],
            )
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            cert = made.certification
            target = cert.room or cert.control
            if made.action is not None:
                messages.warning(
                    request,
                    f"{target}: certification FAILED. Corrective action {made.action.pk} is open.",
                )
            else:
                messages.success(
                    request,
                    f"{target} certified on {cert.certified_on:%m/%d/%Y}; next due "
                    f"{cert.due_on:%m/%d/%Y}.",
                )
            return redirect("compounding_cleanroom")
    return _entry(
        request,
        form,
        title="Certification",
        intro="Classified rooms and every PEC are certified at least every 6 months (airflow, "
        "HEPA integrity, particle counts, smoke pattern). A failed certification opens a "
        "corrective action.",
        action=reverse("compounding_certification_new"),
        button="Save the certification",
    )


# --- Corrective actions -----------------------------------------------------------------


@screen(methods=FORM)
def actions_list(request: HttpRequest) -> HttpResponse:
    """Corrective actions, open ones first; a pharmacist opens one by hand here."""
    actor = actor_of(request)
    require(actor, Cap.COMPOUNDING_VIEW)
    data = posted(request)
    form: ActionOpenForm | None = None
    status = 200
    if data is not None:
        require(actor, Cap.COMPOUNDING_CORRECT)
        form = ActionOpenForm(data, actor=actor)
        if form.is_valid():
            try:
                action = services.action_open(
                    actor=actor,
                    problem=form.cleaned_data["problem"],
                    room=_room_at(actor, form.cleaned_data["room"]),
                )
            except FIELD_ERRORS as exc:
                bind_errors(form, exc)
            else:
                messages.success(request, f"Corrective action {action.pk} is open.")
                return redirect("compounding_actions")
        status = form.http_status()
    may_correct = has(actor, Cap.COMPOUNDING_CORRECT)
    if form is None and may_correct:
        form = ActionOpenForm(actor=actor)
    context = {
        "actions": queries.actions(actor=actor),
        "form": form,
        "may_correct": may_correct,
    }
    return render(request, "compounding/cleanroom_actions.html", context, status=status)


@screen(methods=FORM)
def action_close(request: HttpRequest, pk: int) -> HttpResponse:
    """Close a corrective action with what was done (a pharmacist)."""
    actor = actor_of(request)
    require(actor, Cap.COMPOUNDING_CORRECT)
    action = queries.action_get(actor=actor, action_id=pk)
    data = posted(request)
    form = ActionCloseForm(data)
    if data is not None and form.is_valid():
        try:
            services.action_close(
                actor=actor,
                action=action,
                action_taken=form.cleaned_data["action_taken"],
                resample=form.cleaned_data["resample"],
            )
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            messages.success(request, f"Corrective action {action.pk} is closed.")
            return redirect("compounding_actions")
    context = {"action": action, "form": form}
    return render(
        request, "compounding/cleanroom_action_close.html", context, status=form.http_status()
    )


# --- Histories --------------------------------------------------------------------------


def _history_filters(
    request: HttpRequest, actor: User, *, samples: bool = False
) -> tuple[HistoryForm, dict[str, Any]]:
    form = HistoryForm(request.GET or None, actor=actor, samples=samples)
    values: dict[str, Any] = {}
    if form.is_bound and form.is_valid():
        values = dict(form.cleaned_data)
    return form, values


def _room_id(values: dict[str, Any]) -> int | None:
    room = values.get("room")
    return int(room) if room else None


def _csv(text_: str, filename: str) -> HttpResponse:
    response = HttpResponse(text_, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


def _history(
    request: HttpRequest,
    template: str,
    form: HistoryForm,
    values: dict[str, Any],
    context: dict[str, Any],
) -> HttpResponse:
    filters = {k: v for k, v in values.items() if k != "format"}
    context |= {"filters": form, "csv_query": query_string({**filters, "format": "csv"})}
    return render(request, template, context, status=form.http_status())


@screen
def samples_history(request: HttpRequest) -> HttpResponse:
    """Samples of a period (the last 30 days by default); ``?format=csv`` for a file."""
    actor = actor_of(request)
    require(actor, Cap.COMPOUNDING_VIEW)
    form, values = _history_filters(request, actor, samples=True)
    span, rows = queries.samples(
        actor=actor,
        start=values.get("start"),
        end=values.get("end"),
        room_id=_room_id(values),
        kind=values.get("kind") or None,
        excursions_only=bool(values.get("excursions")),
    )
    if request.GET.get("format") == "csv":
        return _csv(
            queries.samples_csv(actor.site, rows),
            f"samples-{span.start.isoformat()}_{span.end.isoformat()}.csv",
        )
    return _history(
        request,
        "compounding/cleanroom_samples.html",
        form,
        values,
        {"rows": rows, "period": span},
    )


@screen
def readings_history(request: HttpRequest) -> HttpResponse:
    """Pressure and temperature/humidity readings of a period; ``?format=csv`` for a file."""
    actor = actor_of(request)
    require(actor, Cap.COMPOUNDING_VIEW)
    form, values = _history_filters(request, actor)
    found = queries.readings(
        actor=actor, start=values.get("start"), end=values.get("end"), room_id=_room_id(values)
    )
    if request.GET.get("format") == "csv":
        return _csv(
            queries.readings_csv(actor.site, found),
            f"readings-{found.period.start.isoformat()}_{found.period.end.isoformat()}.csv",
        )
    return _history(
        request,
        "compounding/cleanroom_readings.html",
        form,
        values,
        {"found": found, "period": found.period},
    )


@screen
def cleaning_history(request: HttpRequest) -> HttpResponse:
    """Cleaning, disinfecting and sporicidal work of a period."""
    actor = actor_of(request)
    require(actor, Cap.COMPOUNDING_VIEW)
    form, values = _history_filters(request, actor)
    span, rows = queries.cleanings(
        actor=actor, start=values.get("start"), end=values.get("end"), room_id=_room_id(values)
    )
    return _history(
        request,
        "compounding/cleanroom_cleaning_log.html",
        form,
        values,
        {"rows": rows, "period": span},
    )


urlpatterns: list[URLPattern] = [
    path("cleanroom/", cleanroom_board, name="compounding_cleanroom"),
    path("cleanroom/samples/new/", sample_new, name="compounding_sample_new"),
    path("cleanroom/pressures/new/", pressure_new, name="compounding_pressure_new"),
    path("cleanroom/conditions/new/", conditions_new, name="compounding_conditions_new"),
    path("cleanroom/cleaning/new/", cleaning_new, name="compounding_cleaning_new"),
    path("cleanroom/rooms/", rooms_list, name="compounding_rooms"),
    path("cleanroom/rooms/<int:pk>/", room_edit, name="compounding_room_edit"),
    path("cleanroom/pecs/<int:pk>/", control_edit, name="compounding_control_edit"),
    path(
        "cleanroom/certifications/new/",
        certification_new,
        name="compounding_certification_new",
    ),
    path("cleanroom/actions/", actions_list, name="compounding_actions"),
    path("cleanroom/actions/<int:pk>/close/", action_close, name="compounding_action_close"),
    path("cleanroom/samples/", samples_history, name="compounding_samples"),
    path("cleanroom/readings/", readings_history, name="compounding_readings"),
    path("cleanroom/cleaning/", cleaning_history, name="compounding_cleaning_log"),
]
