"""Workstation screens for patients and prescribers (placeholders until the full screens)."""

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def _todo(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    return render(request, "core/home.html")


patient_list = patient_create = patient_detail = patient_edit = login_required(_todo)
allergy_add = allergy_remove = allergies_none = condition_add = login_required(_todo)
measurement_add = coverage_add = login_required(_todo)
prescriber_list = prescriber_create = prescriber_detail = login_required(_todo)
prescriber_edit = prescriber_address_add = login_required(_todo)
