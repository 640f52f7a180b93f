"""Exports: the whole pharmacy (Bulk Data NDJSON) and one patient's record (a Bundle)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse

from rxdesk.fhir.registry import Context


def patient_everything(fhir_id: str, ctx: Context) -> dict[str, Any]:
    raise NotImplementedError


def kickoff(request: HttpRequest, ctx: Context) -> HttpResponse:
    raise NotImplementedError


def status(request: HttpRequest, ctx: Context, pk: int) -> HttpResponse:
    raise NotImplementedError


def file(request: HttpRequest, ctx: Context, pk: int, type_name: str) -> HttpResponse:
    raise NotImplementedError
