"""Workstation screens of cabinet activity coming in: the feeds page (upload a cabinet
transaction file or the eMAR's administrations file; the feeds received, newest first) and
one feed (what it applied, the rows refused with their row, column and reason, the
restocks confirmed, the discrepancies opened). Parse, call rxdesk.institutional.
services_feeds / queries_feeds, render.

Reading is adc.view; uploading adc.import. Patients are named only for roles holding
patient.view."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path

from rxdesk.core.capabilities import Cap, has, require
from rxdesk.core.forms import FIELD_ERRORS, RxForm, bind_errors, choice
from rxdesk.core.models import User
from rxdesk.core.views import actor_of, screen
from rxdesk.institutional import adc_csv
from rxdesk.institutional import queries_feeds as queries
from rxdesk.institutional import services_feeds as services
from rxdesk.institutional.choices import FeedStatus

TRANSACTIONS, ADMINISTRATIONS = "transactions", "administrations"
MAX_PASTE = 2 * 1024 * 1024


class UploadForm(RxForm):
    """A file from the cabinet's report export (or the eMAR's), uploaded or pasted."""

    kind = choice(
        [
            (TRANSACTIONS, "Cabinet transactions (Pyxis / Omnicell export)"),
            (ADMINISTRATIONS, "Administrations (eMAR export)"),
        ],
        label="What the file holds",
    )
    file = forms.FileField(
        required=False,
        label="CSV file",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.txt,text/csv,text/plain"}),
    )
    text = forms.CharField(
        required=False,
        max_length=MAX_PASTE,
        label="…or paste the file's text",
        widget=forms.Textarea(attrs={"rows": 5, "spellcheck": "false", "class": "mono"}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        upload = data.get("file")
        if upload is not None:
            if upload.size > adc_csv.MAX_BYTES:
                self.add_error("file", "The file is larger than 5 MB: export a shorter period.")
                return data
            data["data"] = upload.read()
            data["name"] = upload.name or ""
        elif data.get("text"):
            data["data"] = data["text"].encode("utf-8")
            data["name"] = "pasted.csv"
        elif not self.errors:
            self.add_error("file", "Choose the file (or paste its text).")
        return data


def _list(
    request: HttpRequest, actor: User, form: UploadForm | None = None, status: int = 200
) -> HttpResponse:
    may_import = has(actor, Cap.ADC_IMPORT)
    context = {
        "feeds": [(f, queries.is_administrations(f)) for f in queries.feeds_list(actor=actor)],
        "form": (form or UploadForm()) if may_import else None,
        "may_import": may_import,
        "statuses": FeedStatus,
    }
    return render(request, "institutional/feed_list.html", context, status=status)


@screen
def feed_list(request: HttpRequest) -> HttpResponse:
    """The feeds received, newest first, and the upload form."""
    actor = actor_of(request)
    require(actor, Cap.ADC_VIEW)
    return _list(request, actor)


@screen(methods=("POST",))
def feed_upload(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.ADC_IMPORT)
    form = UploadForm(request.POST, request.FILES)
    if form.is_valid():
        values = form.cleaned_data
        try:
            if values["kind"] == ADMINISTRATIONS:
                result = services.administrations_import(
                    actor=actor, name=values["name"], data=values["data"]
                )
                text = (
                    f"{values['name'] or 'File'}: {result.applied} administrations imported"
                    + (f", {result.duplicates} already on file" if result.duplicates else "")
                    + (f", {len(result.refused)} rows refused" if result.refused else "")
                    + "."
                )
            else:
                result = services.feed_receive_csv(
                    actor=actor, name=values["name"], data=values["data"]
                )
                text = result.summary() + "."
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
            if exc.field in {"file", "name"} and "file" not in form.errors:
                form.add_error("file", exc.message)
        else:
            if result.feed.status == FeedStatus.ACCEPTED:
                messages.success(request, text)
            else:
                messages.warning(request, text)
            return redirect("adc_feed", pk=result.feed.pk)
    return _list(request, actor, form, status=form.http_status())


@screen
def feed_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One feed: its moves, the rows refused or skipped, the discrepancies it opened."""
    actor = actor_of(request)
    feed = queries.feed_get(actor=actor, feed_id=pk)
    notes = queries.feed_notes(feed)
    context = {
        "feed": feed,
        "administrations": queries.is_administrations(feed),
        "moves": queries.move_rows(actor, feed),
        "refused": [n for n in notes if n.get("kind") == "refused"],
        "others": [n for n in notes if n.get("kind") not in {"refused", "discrepancy"}],
        "discrepancies": queries.feed_discrepancies(feed),
        "may_import": has(actor, Cap.ADC_IMPORT),
        "partial": feed.status in (FeedStatus.PARTIAL, FeedStatus.REJECTED),
    }
    return render(request, "institutional/feed_detail.html", context)


urlpatterns: list[URLPattern] = [
    path("cabinet-feeds/", feed_list, name="adc_feeds"),
    path("cabinet-feeds/upload/", feed_upload, name="adc_feed_upload"),
    path("cabinet-feeds/<int:pk>/", feed_detail, name="adc_feed"),
]
