"""The prior authorization screens: the PA queue (open cases, follow-up due first, the
overdue marked) and one case — its status form, its documents and its history. Parse, call
a service or query, render: the services decide who may do what; the screens check the
capability first, so a refused role gets 403 and nothing is read."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path

from rxdesk.claims import queries_pa, services_pa
from rxdesk.claims.api_pa import document_response
from rxdesk.claims.choices import ACCEPTED, DEAD, PA_OPEN, PriorAuthStatus
from rxdesk.claims.models import MAX_DOCUMENT_BYTES, Claim, PriorAuth
from rxdesk.core.capabilities import Cap, has, require
from rxdesk.core.errors import Invalid
from rxdesk.core.forms import FIELD_ERRORS, DateField, RxForm, bind_errors, text
from rxdesk.core.models import User
from rxdesk.core.views import FORM, actor_of, posted, screen

S = PriorAuthStatus


class CaseForm(RxForm):
    """The case's status and details; blank fields are left as they are."""

    FIELDSETS = (
        ("Status", ("status", "follow_up_on", "note")),
        ("Approval (from the plan's letter or fax)", ("number", "approved_from", "approved_to")),
        ("Denial", ("denied_reason",)),
    )
    status = forms.ChoiceField(label="Status")
    follow_up_on = DateField(required=False, label="Follow up on")
    note = forms.CharField(
        max_length=services_pa.NOTE_MAX,
        required=False,
        label="Note (goes in the history)",
        widget=forms.Textarea(attrs={"rows": 2, "maxlength": services_pa.NOTE_MAX}),
    )
    number = text(services_pa.NUMBER_MAX + 9, label="PA number", autocomplete="off")
    approved_from = DateField(required=False, label="Approved from")
    approved_to = DateField(required=False, label="Approved to")
    denied_reason = text(services_pa.REASON_MAX, label="Why the plan denied it")

    def __init__(self, *args: Any, pa: PriorAuth, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        steps = [pa.status, *sorted(services_pa.NEXT[pa.status])]
        status = self.fields["status"]
        assert isinstance(status, forms.ChoiceField)
        status.choices = [(s, S(s).label) for s in steps]
        if not services_pa.NEXT[pa.status]:
            # Nothing left to move (approved): the page's keys (s: resubmit) get the focus.
            for field in self.fields.values():
                field.widget.attrs.pop("autofocus", None)


class UploadForm(RxForm):
    file = forms.FileField(label="Document (PDF, PNG, JPEG or TIFF, at most 5 MB)")
    name = text(services_pa.NAME_MAX, label="Name (blank: the file's name)")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["file"].widget.attrs.pop("autofocus", None)  # the status form has it


def _case_initial(pa: PriorAuth) -> dict[str, Any]:
    return {
        "status": pa.status,
        "follow_up_on": pa.follow_up_on,
        "number": pa.number,
        "approved_from": pa.approved_from,
        "approved_to": pa.approved_to,
        "denied_reason": pa.denied_reason,
    }


@screen
def pa_queue(request: HttpRequest) -> HttpResponse:
    """Open PA cases, follow-up due first (the overdue marked); ``?closed=1`` adds the
    approved, denied and abandoned ones."""
    actor = actor_of(request)
    require(actor, Cap.CLAIMS_VIEW)
    include_closed = request.GET.get("closed") == "1"
    today = actor.site.today()
    cases = queries_pa.pa_queue(actor=actor, include_closed=include_closed)
    rows = [(pa, queries_pa.follow_up(pa, today)) for pa in cases]
    context = {
        "rows": [{"pa": pa, "follow_up": state} for pa, state in rows],
        "open_count": sum(1 for pa, _ in rows if pa.status in PA_OPEN),
        "overdue": sum(1 for _, state in rows if state == "overdue"),
        "include_closed": include_closed,
        "today": today,
    }
    return render(request, "claims/pa_queue.html", context)


def _detail(
    request: HttpRequest,
    actor: User,
    pa: PriorAuth,
    *,
    form: CaseForm | None = None,
    upload: UploadForm | None = None,
    status: int = 200,
) -> HttpResponse:
    may_write = has(actor, Cap.CLAIMS_BILL)
    claim = None
    if pa.claim_id is not None:
        claim = (
            Claim.objects.filter(pk=pa.claim_id)
            .exclude(status__in=[*DEAD, *ACCEPTED])
            .select_related("fill")
            .first()
        )
    context = {
        "pa": pa,
        "rx": pa.prescription,
        "follow_up": queries_pa.follow_up(pa, actor.site.today()),
        "events": queries_pa.pa_events(pa),
        "documents": queries_pa.pa_documents(pa),
        "form": form if form is not None else CaseForm(initial=_case_initial(pa), pa=pa),
        "upload": upload if upload is not None else UploadForm(prefix="doc"),
        "may_write": may_write and pa.status != S.ABANDONED,
        "may_upload": may_write,
        # An approval for a claim still rejected: resubmit it with the number.
        "resubmit_claim": claim if pa.status == S.APPROVED and claim is not None else None,
        "max_mb": MAX_DOCUMENT_BYTES // (1024 * 1024),
    }
    return render(request, "claims/pa_detail.html", context, status=status)


@screen(methods=FORM)
def pa_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One case: what it is for, the status form, its documents and its history."""
    actor = actor_of(request)
    require(actor, Cap.CLAIMS_VIEW)
    pa = queries_pa.pa_get(actor=actor, pa_id=pk)
    data = posted(request)
    if data is None:
        return _detail(request, actor, pa)
    require(actor, Cap.CLAIMS_BILL)
    form = CaseForm(data, initial=_case_initial(pa), pa=pa)
    if form.is_valid():
        values = form.cleaned_data
        try:
            services_pa.pa_update(
                actor=actor,
                prior_auth=pa,
                status=values["status"],
                number=values["number"] or None,
                approved_from=values["approved_from"],
                approved_to=values["approved_to"],
                denied_reason=values["denied_reason"] or None,
                follow_up_on=values["follow_up_on"],
                note=values["note"],
            )
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            messages.success(request, "The PA case is saved.")
            return redirect("claims_pa_detail", pk=pa.pk)
    return _detail(request, actor, pa, form=form, status=form.http_status())


@screen(methods=("POST",))
def pa_upload(request: HttpRequest, pk: int) -> HttpResponse:
    """Keep a document with the case (a button on the case page)."""
    actor = actor_of(request)
    require(actor, Cap.CLAIMS_BILL)
    pa = queries_pa.pa_get(actor=actor, pa_id=pk)
    upload = UploadForm(request.POST, request.FILES, prefix="doc")
    if upload.is_valid():
        file = upload.cleaned_data["file"]
        try:
            if file.size is not None and file.size > MAX_DOCUMENT_BYTES:
                raise Invalid("The file is larger than 5 MB.", field="file")
            document = services_pa.pa_document_add(
                actor=actor,
                prior_auth=pa,
                name=upload.cleaned_data["name"] or file.name or "",
                content_type=file.content_type or "",
                data=file.read(MAX_DOCUMENT_BYTES + 1),
            )
        except FIELD_ERRORS as exc:
            bind_errors(upload, exc)
        else:
            messages.success(request, f"{document.name} is kept with the case.")
            return redirect("claims_pa_detail", pk=pa.pk)
    return _detail(request, actor, pa, upload=upload, status=upload.http_status())


@screen
def pa_document(request: HttpRequest, pk: int, doc_id: int) -> HttpResponse:
    """A document's bytes, as a download (the access is logged)."""
    actor = actor_of(request)
    require(actor, Cap.CLAIMS_VIEW)
    pa = queries_pa.pa_get(actor=actor, pa_id=pk)
    document = queries_pa.pa_document_get(actor=actor, prior_auth=pa, document_id=doc_id)
    return document_response(services_pa.pa_document_read(actor=actor, document=document))


urlpatterns: list[URLPattern] = [
    path("prior-auths/", pa_queue, name="claims_pa_queue"),
    path("prior-auths/<int:pk>/", pa_detail, name="claims_pa_detail"),
    path("prior-auths/<int:pk>/documents/", pa_upload, name="claims_pa_upload"),
    path("prior-auths/<int:pk>/documents/<int:doc_id>/", pa_document, name="claims_pa_document"),
]
