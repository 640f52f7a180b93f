"""Workstation pages of the controlled-substance records: blind audit counts, the
investigation of a discrepancy, and theft or significant loss (DEA Form 106). Parse, call a
service or query, render; the capability is checked before anything is read or written.

The count page is blind: it names the drug and its lots once a package is scanned, never a
quantity on file. The result (and the balance it was compared with) shows after the count
is in. Each page that acts keeps its forms on one screen; a hidden ``action`` says which
form was sent."""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from collections.abc import Sequence
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from django.utils import timezone

from rxdesk.controlled import queries_audits, services_audits, services_losses
from rxdesk.controlled.api_audits import evidence_response, pdf_response
from rxdesk.controlled.choices import (
    AuditStatus,
    InvestigationOutcome,
    InvestigationStatus,
    LossType,
)
from rxdesk.controlled.models import Investigation, TheftLoss
from rxdesk.core.capabilities import Cap, has, require
from rxdesk.core.errors import DomainError, Invalid
from rxdesk.core.forms import FIELD_ERRORS, DateField, RxForm, bind_errors, choice, text
from rxdesk.core.models import User
from rxdesk.core.views import FORM, actor_of, posted, screen
from rxdesk.inventory.forms import WITNESS_FIELDS, add_witness_fields, witness_of

POST = ("POST",)
YES_NO = [("", "— not answered —"), ("yes", "Yes"), ("no", "No")]


# --- Forms (parse only: the services hold the rules) -----------------------------------------


class LocalDateTimeField(forms.CharField):
    """A date and time typed at the counter (MM/DD/YYYY HH:MM), left naive: the service
    reads it in the pharmacy's own time zone."""

    FORMATS = ("%m/%d/%Y %H:%M", "%m/%d/%Y %I:%M %p", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M")

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault(
            "widget",
            forms.TextInput(
                attrs={"placeholder": "MM/DD/YYYY HH:MM", "autocomplete": "off", "maxlength": 30}
            ),
        )
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> Any:
        raw = (super().to_python(value) or "").strip()
        if not raw:
            return None
        if len(raw) > 30:
            raise ValidationError("Enter the date and time as MM/DD/YYYY HH:MM.")
        for fmt in self.FORMATS:
            try:
                return dt.datetime.strptime(raw, fmt)
            except ValueError:
                continue
        raise ValidationError("Enter the date and time as MM/DD/YYYY HH:MM.")


def _now_text(actor: User) -> str:
    return timezone.now().astimezone(actor.site.tz).strftime("%m/%d/%Y %H:%M")


class CountForm(RxForm):
    ndc = text(
        200,
        required=True,
        label="NDC or scan",
        autocomplete="off",
        spellcheck="false",
        placeholder="Scan the package",
    )
    lot_number = text(40, label="Lot (blank: every lot of this NDC)", autocomplete="off")
    counted = text(
        20, required=True, label="Counted (0 if none)", inputmode="decimal", autocomplete="off"
    )
    note = text(500, label="Note")


class NoteForm(RxForm):
    text = forms.CharField(
        max_length=services_audits.TEXT_MAX,
        label="What was looked at or found",
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class EvidenceForm(RxForm):
    file = forms.FileField(label="File (PDF, PNG, JPEG or text, at most 5 MB)")
    description = text(services_audits.NOTE_MAX, label="What it shows")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["file"].widget.attrs.pop("autofocus", None)


LOSS_DETAIL_NAMES = (
    "loss_type",
    "loss_type_other",
    "occurred_on",
    "police_notified",
    "police_department",
    "police_report_number",
    "previous_losses",
    "security_measures",
    "narrative",
)


def _detail_fields(prefix: str = "") -> dict[str, forms.Field]:
    """The Form 106 detail fields, named ``{prefix}{name}`` as the services name errors."""
    return {
        f"{prefix}loss_type": choice(
            [("", "— choose —"), *LossType.choices], label="Type of theft or loss", required=False
        ),
        f"{prefix}loss_type_other": text(200, label="If other: what kind"),
        f"{prefix}occurred_on": DateField(required=False, label="Date of the theft or loss"),
        f"{prefix}police_notified": choice(YES_NO, label="Police notified?", required=False),
        f"{prefix}police_department": text(120, label="Police department"),
        f"{prefix}police_report_number": text(60, label="Police report number"),
        f"{prefix}previous_losses": forms.IntegerField(
            required=False, min_value=0, max_value=100000, label="Previous thefts or losses"
        ),
        f"{prefix}security_measures": forms.CharField(
            max_length=services_losses.TEXT_MAX,
            required=False,
            label="Security measures taken",
            widget=forms.Textarea(attrs={"rows": 2}),
        ),
        f"{prefix}narrative": forms.CharField(
            max_length=services_losses.TEXT_MAX,
            required=False,
            label="What happened",
            widget=forms.Textarea(attrs={"rows": 3}),
        ),
    }


def _details_of(cleaned: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """The typed details as the services take them (blank: not given)."""
    out: dict[str, Any] = {}
    for name in LOSS_DETAIL_NAMES:
        value = cleaned.get(f"{prefix}{name}")
        if name == "police_notified":
            if value in ("yes", "no"):
                out[name] = value == "yes"
        elif value not in (None, ""):
            out[name] = value
    return out


class ResolveForm(RxForm):
    """The outcome, the conclusion, the witness's sign-in (for a correction), and the
    Form 106 details (for a theft or a significant loss)."""

    FIELDSETS = (
        ("Outcome", ("outcome", "conclusion", "lot_number")),
        ("Witness (every outcome but a counting error)", WITNESS_FIELDS),
        (
            "Theft or significant loss: DEA Form 106",
            (
                "loss.loss_id",
                *(f"loss.{n}" for n in LOSS_DETAIL_NAMES),
                "loss.estimated_value",
            ),
        ),
    )

    outcome = choice([("", "— choose —"), *InvestigationOutcome.choices], label="Outcome")
    conclusion = forms.CharField(
        max_length=services_audits.TEXT_MAX,
        label="Conclusion",
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    lot_number = text(40, label="Lot to correct (the count covered every lot)")

    def __init__(
        self,
        *args: Any,
        investigation: Investigation,
        open_losses: Sequence[TheftLoss] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.widget.attrs.pop("autofocus", None)
        if investigation.lot_id is not None:
            del self.fields["lot_number"]
        add_witness_fields(self)
        self.fields["loss.loss_id"] = choice(
            [("", "— open a new Form 106 record —")]
            + [
                (
                    str(loss.pk),
                    f"Record {loss.pk}: {loss.get_loss_type_display()}, discovered "
                    f"{loss.discovered_at:%m/%d/%Y}",
                )
                for loss in open_losses
            ],
            label="Already reported",
            required=False,
        )
        self.fields.update(_detail_fields("loss."))
        self.fields["loss.estimated_value"] = text(
            14, label="Estimated value ($)", inputmode="decimal"
        )

    def service_values(self) -> dict[str, Any]:
        data = self.cleaned_data
        loss: dict[str, Any] = _details_of(data, "loss.")
        if data.get("loss.estimated_value"):
            loss["estimated_value"] = data["loss.estimated_value"]
        if data.get("loss.loss_id"):
            loss["loss_id"] = data["loss.loss_id"]
        return {
            "outcome": data["outcome"],
            "conclusion": data["conclusion"],
            "lot_number": data.get("lot_number") or "",
            "witness": witness_of(data),
            "loss": loss,
        }


LINE_FIELDS = ("ndc", "lot_number", "quantity", "estimated_value")
LINE_ROWS = 5


class LossCreateForm(RxForm):
    """A theft or loss found without an audit: its details and the products lost."""

    FIELDSETS = (
        ("Discovery", ("discovered_at", "loss_type", "loss_type_other", "occurred_on")),
        ("Police", ("police_notified", "police_department", "police_report_number")),
        ("Form 106", ("previous_losses", "security_measures", "narrative")),
    )

    discovered_at = LocalDateTimeField(required=True, label="Discovered (date and time)")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields.update(_detail_fields())
        labels = {
            "ndc": "NDC or scan",
            "lot_number": "Lot",
            "quantity": "Quantity lost",
            "estimated_value": "Est. value ($)",
        }
        for i in range(LINE_ROWS):
            for name in LINE_FIELDS:
                self.fields[f"lines.{i}.{name}"] = forms.CharField(
                    max_length=200,
                    required=False,
                    label=labels[name],
                    widget=forms.TextInput(
                        attrs={"autocomplete": "off", "aria-label": f"Line {i + 1}: {labels[name]}"}
                    ),
                )
        self.SEPARATE = tuple(f"lines.{i}.{n}" for i in range(LINE_ROWS) for n in LINE_FIELDS)

    def line_rows(self) -> list[tuple[int, list[Any]]]:
        return [(i, [self[f"lines.{i}.{n}"] for n in LINE_FIELDS]) for i in range(LINE_ROWS)]

    def lines(self) -> tuple[list[dict[str, Any]], list[int]]:
        out: list[dict[str, Any]] = []
        rows: list[int] = []
        for i in range(LINE_ROWS):
            values = {
                n: (self.cleaned_data.get(f"lines.{i}.{n}") or "").strip() for n in LINE_FIELDS
            }
            if any(values.values()):
                if not values["estimated_value"]:
                    values.pop("estimated_value")
                out.append(values)
                rows.append(i)
        return out, rows


class LossEditForm(RxForm):
    FIELDSETS = (
        ("The theft or loss", ("loss_type", "loss_type_other", "occurred_on")),
        ("Police", ("police_notified", "police_department", "police_report_number")),
        ("Form 106", ("previous_losses", "security_measures", "narrative")),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields.update(_detail_fields())
        for field in self.fields.values():
            field.widget.attrs.pop("autofocus", None)


class NotifiedForm(RxForm):
    when = LocalDateTimeField(required=True, label="Notice sent (date and time)")
    how = text(200, required=True, label="How", placeholder="Email to the field office, fax to…")


class SubmittedForm(RxForm):
    dea_reference = text(60, required=True, label="DEA reference of the report", autocomplete="off")


class CancelForm(RxForm):
    reason = text(300, required=True, label="Why it is not a theft or significant loss")


# --- Counting ----------------------------------------------------------------------------------


def _counted_message(audit: Any) -> str:
    unit = audit.package.billing_unit
    what = f"NDC {audit.package.ndc10}" + (f" lot {audit.lot.number}" if audit.lot else "")
    counted = format(audit.counted.normalize(), "f")
    if audit.status == AuditStatus.MATCHED:
        return f"{what}: {counted} {unit} counted — matches the record."
    expected = format(audit.expected.normalize(), "f")
    variance = format(audit.variance.normalize(), "+f")
    return (
        f"{what}: {counted} {unit} counted, {expected} on record ({variance}). "
        "An investigation is opened."
    )


@screen(methods=FORM)
def audit_count(request: HttpRequest) -> HttpResponse:
    """Count a controlled package blind: scan it, pick the lot (or count every lot), type
    the count, Enter. Nothing on this page shows a quantity on file."""
    actor = actor_of(request)
    require(actor, Cap.CS_COUNT)
    target: queries_audits.CountTarget | None = None
    lookup_error = ""
    scanned = request.GET.get("ndc", "")[:200].strip()
    if scanned and request.method == "GET":
        try:
            target = queries_audits.count_target(actor=actor, ndc=scanned)
        except Invalid as exc:
            lookup_error = exc.message
    form = CountForm(posted(request), initial={"ndc": scanned} if scanned else None)
    if target is not None and not form.is_bound:
        form.fields["ndc"].widget.attrs.pop("autofocus", None)
        form.fields["lot_number"].widget.attrs["autofocus"] = True
        form.fields["lot_number"].widget.attrs["list"] = "cs-lots"
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            audit = services_audits.cs_audit_record(
                actor=actor,
                ndc=data["ndc"],
                lot_number=data["lot_number"] or None,
                counted=data["counted"],
                note=data["note"],
            )
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            if audit.status == AuditStatus.MATCHED:
                messages.success(request, _counted_message(audit))
            else:
                messages.warning(request, _counted_message(audit))
            return redirect("cs_audit_count")
    if form.is_bound and form.errors:
        # A scan followed by Enter lands here without a count: name the drug and its lots,
        # and put the cursor in the first box to fix.
        if target is None and "ndc" not in form.errors:
            with contextlib.suppress(Invalid):
                target = queries_audits.count_target(actor=actor, ndc=form.data.get("ndc", ""))
        for field in form.fields.values():
            field.widget.attrs.pop("autofocus", None)
        first = next((n for n in form.fields if n in form.errors), None)
        if first is not None:
            form.fields[first].widget.attrs["autofocus"] = True
    return render(
        request,
        "controlled/audit_count.html",
        {"form": form, "target": target, "lookup_error": lookup_error},
        status=form.http_status() if form.is_bound else (422 if lookup_error else 200),
    )


@screen
def audit_list(request: HttpRequest) -> HttpResponse:
    """Recent blind counts and their results."""
    actor = actor_of(request)
    require(actor, Cap.CS_VIEW)
    status = request.GET.get("status", "")
    rows = queries_audits.audits(actor=actor, status=status)
    return render(
        request,
        "controlled/audit_list.html",
        {
            "rows": [(a, queries_audits.investigation_of(a)) for a in rows],
            "status": status if status in AuditStatus.values else "",
            "statuses": AuditStatus.choices,
            "can_count": has(actor, Cap.CS_COUNT),
        },
    )


# --- Investigations ------------------------------------------------------------------------------


@screen
def investigation_list(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.CS_VIEW)
    open_only = request.GET.get("open") == "1"
    found = queries_audits.investigations(actor=actor, open_only=open_only)
    return render(
        request,
        "controlled/investigation_list.html",
        {
            "investigations": found,
            "open_count": sum(1 for i in found if i.status == InvestigationStatus.OPEN),
            "open_only": open_only,
        },
    )


def _investigation_page(
    request: HttpRequest,
    actor: User,
    inv: Investigation,
    *,
    status: int = 200,
    error: str = "",
    **forms_: RxForm,
) -> HttpResponse:
    may_work = has(actor, Cap.CS_INVESTIGATE) and inv.status == InvestigationStatus.OPEN
    open_losses = queries_audits.linkable_losses(actor=actor) if may_work else []
    context = {
        "inv": inv,
        "notes": queries_audits.investigation_notes(inv),
        "evidence": queries_audits.investigation_evidence(inv),
        "losses": queries_audits.investigation_losses(inv),
        "may_work": may_work,
        "note_form": forms_.get("note_form") or NoteForm(prefix="note"),
        "evidence_form": forms_.get("evidence_form") or EvidenceForm(prefix="ev"),
        "resolve_form": forms_.get("resolve_form")
        or ResolveForm(prefix="res", investigation=inv, open_losses=open_losses),
        "error": error,
    }
    return render(request, "controlled/investigation_detail.html", context, status=status)


@screen(methods=FORM)
def investigation_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One investigation: the count, the notes and evidence, and the outcome (with the
    witness's sign-in for a correction)."""
    actor = actor_of(request)
    require(actor, Cap.CS_VIEW)
    if request.method == "POST":
        require(actor, Cap.CS_INVESTIGATE)
    inv = queries_audits.investigation_get(actor=actor, investigation_id=pk)
    if request.method != "POST":
        return _investigation_page(request, actor, inv)
    action = request.POST.get("action", "")
    if action == "note":
        note_form = NoteForm(request.POST, prefix="note")
        if note_form.is_valid():
            try:
                services_audits.investigation_note_add(
                    actor=actor, investigation=inv, text=note_form.cleaned_data["text"]
                )
            except FIELD_ERRORS as exc:
                bind_errors(note_form, exc)
            else:
                messages.success(request, "The note is kept with the investigation.")
                return redirect("cs_investigation_detail", pk=inv.pk)
        return _investigation_page(
            request, actor, inv, status=note_form.http_status(), note_form=note_form
        )
    if action == "evidence":
        evidence_form = EvidenceForm(request.POST, request.FILES, prefix="ev")
        if evidence_form.is_valid():
            upload = evidence_form.cleaned_data["file"]
            try:
                if upload.size is not None and upload.size > services_audits.MAX_EVIDENCE_BYTES:
                    raise Invalid("The file is larger than 5 MB.", field="file")
                item = services_audits.investigation_evidence_add(
                    actor=actor,
                    investigation=inv,
                    name=upload.name or "",
                    content_type=upload.content_type or "",
                    data=upload.read(services_audits.MAX_EVIDENCE_BYTES + 1),
                    description=evidence_form.cleaned_data["description"],
                )
            except FIELD_ERRORS as exc:
                bind_errors(evidence_form, exc)
            else:
                messages.success(request, f"{item.name} is kept with the investigation.")
                return redirect("cs_investigation_detail", pk=inv.pk)
        return _investigation_page(
            request, actor, inv, status=evidence_form.http_status(), evidence_form=evidence_form
        )
    if action == "resolve":
        resolve_form = ResolveForm(
            request.POST,
            prefix="res",
            investigation=inv,
            open_losses=queries_audits.linkable_losses(actor=actor),
        )
        if resolve_form.is_valid():
            try:
                services_audits.investigation_resolve(
                    actor=actor, investigation=inv, **resolve_form.service_values()
                )
            except FIELD_ERRORS as exc:
                bind_errors(resolve_form, exc)
            else:
                messages.success(request, "The investigation is resolved.")
                return redirect("cs_investigation_detail", pk=inv.pk)
        return _investigation_page(
            request, actor, inv, status=resolve_form.http_status(), resolve_form=resolve_form
        )
    return _investigation_page(
        request, actor, inv, status=422, error="Choose what to do: a note, a file or the outcome."
    )


@screen
def evidence_download(request: HttpRequest, pk: int, evidence_pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.CS_VIEW)
    inv = queries_audits.investigation_get(actor=actor, investigation_id=pk)
    item = queries_audits.evidence_get(actor=actor, investigation=inv, evidence_id=evidence_pk)
    return evidence_response(item)


# --- Theft and loss ------------------------------------------------------------------------------


@screen
def loss_list(request: HttpRequest) -> HttpResponse:
    """Theft and loss records, the most urgent deadline first."""
    actor = actor_of(request)
    require(actor, Cap.CS_VIEW)
    open_only = request.GET.get("open") == "1"
    return render(
        request,
        "controlled/loss_list.html",
        {
            "rows": queries_audits.losses(actor=actor, open_only=open_only),
            "open_only": open_only,
            "can_open": has(actor, Cap.CS_LOSS),
        },
    )


_LINE_ERROR = re.compile(r"^lines\.(\d+)\.(\w+)$")


def _bind_line_errors(form: LossCreateForm, exc: DomainError, rows: list[int]) -> None:
    """The service numbers the lines it was given; the form numbers its rows (some blank)."""
    errors = exc.errors or [{"field": exc.field or "", "message": exc.message}]
    for error in errors:
        field = error.get("field") or ""
        match = _LINE_ERROR.match(field)
        if match and int(match.group(1)) < len(rows):
            field = f"lines.{rows[int(match.group(1))]}.{match.group(2)}"
        form.add_error(field if field in form.fields else None, error.get("message") or "")
    form.error_status = exc.status


@screen(methods=FORM)
def loss_create(request: HttpRequest) -> HttpResponse:
    """Record a theft or loss found without an audit (a robbery, a break-in at opening)."""
    actor = actor_of(request)
    require(actor, Cap.CS_LOSS)
    form = LossCreateForm(posted(request), initial={"discovered_at": _now_text(actor)})
    if request.method == "POST" and form.is_valid():
        lines, rows = form.lines()
        data = form.cleaned_data
        try:
            loss = services_losses.theft_loss_open(
                actor=actor,
                loss_type=data["loss_type"],
                discovered_at=data["discovered_at"],
                lines=lines,
                **{k: v for k, v in _details_of(data).items() if k != "loss_type"},
            )
        except FIELD_ERRORS as exc:
            _bind_line_errors(form, exc, rows)
        else:
            messages.success(
                request,
                f"Theft/loss record {loss.pk} opened: notify the DEA field office in writing "
                f"by {loss.notify_by:%m/%d/%Y}.",
            )
            return redirect("cs_loss_detail", pk=loss.pk)
    return render(request, "controlled/loss_create.html", {"form": form}, status=form.http_status())


def _edit_initial(loss: TheftLoss) -> dict[str, Any]:
    police = services_losses.police_answered(loss)
    return {
        "loss_type": loss.loss_type,
        "loss_type_other": loss.loss_type_other,
        "occurred_on": loss.occurred_on,
        "police_notified": "" if police is None else ("yes" if police else "no"),
        "police_department": loss.police_department,
        "police_report_number": loss.police_report_number,
        "previous_losses": loss.previous_losses,
        "security_measures": loss.security_measures,
        "narrative": loss.narrative,
    }


def _loss_page(
    request: HttpRequest,
    actor: User,
    loss: TheftLoss,
    *,
    status: int = 200,
    error: str = "",
    forms_: dict[str, RxForm] | None = None,
) -> HttpResponse:
    forms_ = forms_ or {}
    row = queries_audits.loss_row(loss, actor.site.today())
    context: dict[str, Any] = {
        "row": row,
        "loss": loss,
        "lines": list(loss.lines.all()),
        "may_work": has(actor, Cap.CS_LOSS) and loss.status in services_losses.LOSS_OPEN,
        "edit_form": forms_.get("edit_form")
        or LossEditForm(prefix="edit", initial=_edit_initial(loss)),
        "notified_form": forms_.get("notified_form")
        or NotifiedForm(prefix="dea", initial={"when": _now_text(actor)}),
        "submitted_form": forms_.get("submitted_form") or SubmittedForm(prefix="sub"),
        "cancel_form": forms_.get("cancel_form") or CancelForm(prefix="cancel"),
        "error": error,
    }
    for name in ("notified_form", "submitted_form", "cancel_form"):
        for field in context[name].fields.values():
            field.widget.attrs.pop("autofocus", None)
    return render(request, "controlled/loss_detail.html", context, status=status)


@screen(methods=FORM)
def loss_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One record: where it stands against its deadlines, its products, what Form 106
    still needs, and the forms to complete it, record the DEA notice and the submission,
    or cancel it."""
    actor = actor_of(request)
    require(actor, Cap.CS_VIEW)
    if request.method == "POST":
        require(actor, Cap.CS_LOSS)
    loss = queries_audits.loss_get(actor=actor, loss_id=pk)
    if request.method != "POST":
        return _loss_page(request, actor, loss)
    action = request.POST.get("action", "")
    steps: dict[str, tuple[str, type[RxForm], str, Any, str]] = {
        "edit": (
            "edit_form",
            LossEditForm,
            "edit",
            lambda d: services_losses.theft_loss_update(actor=actor, loss=loss, **_details_of(d)),
            "The Form 106 details are saved.",
        ),
        "notified": (
            "notified_form",
            NotifiedForm,
            "dea",
            lambda d: services_losses.theft_loss_notified(
                actor=actor, loss=loss, when=d["when"], how=d["how"]
            ),
            "The DEA notice is recorded.",
        ),
        "submitted": (
            "submitted_form",
            SubmittedForm,
            "sub",
            lambda d: services_losses.theft_loss_submitted(
                actor=actor, loss=loss, dea_reference=d["dea_reference"]
            ),
            "Form 106 is recorded as submitted.",
        ),
        "cancel": (
            "cancel_form",
            CancelForm,
            "cancel",
            lambda d: services_losses.theft_loss_cancel(actor=actor, loss=loss, reason=d["reason"]),
            "The record is cancelled.",
        ),
    }
    if action not in steps:
        return _loss_page(
            request, actor, loss, status=422, error="Choose what to record with its button."
        )
    name, form_class, prefix, act, done = steps[action]
    form = form_class(request.POST, prefix=prefix)
    if form.is_valid():
        try:
            act(form.cleaned_data)
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            messages.success(request, done)
            return redirect("cs_loss_detail", pk=loss.pk)
    return _loss_page(request, actor, loss, status=form.http_status(), forms_={name: form})


@screen
def loss_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.CS_VIEW)
    return pdf_response(queries_audits.loss_get(actor=actor, loss_id=pk))


urlpatterns: list[URLPattern] = [
    path("audits/count/", audit_count, name="cs_audit_count"),
    path("audits/", audit_list, name="cs_audits"),
    path("investigations/", investigation_list, name="cs_investigations"),
    path("investigations/<int:pk>/", investigation_detail, name="cs_investigation_detail"),
    path(
        "investigations/<int:pk>/evidence/<int:evidence_pk>/",
        evidence_download,
        name="cs_evidence_download",
    ),
    path("losses/", loss_list, name="cs_losses"),
    path("losses/new/", loss_create, name="cs_loss_create"),
    path("losses/<int:pk>/", loss_detail, name="cs_loss_detail"),
    path("losses/<int:pk>/pdf/", loss_pdf, name="cs_loss_pdf"),
]
