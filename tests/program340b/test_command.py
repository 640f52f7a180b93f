"""``rxdesk 340b capture``: every site with an entity, a summary in words, idempotent."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from rxdesk.program340b.models import Capture
from tests.program340b.factories import eligible_site, package, sold_fill

pytestmark = pytest.mark.django_db


def test_it_captures_and_a_second_run_adds_nothing(site, cli_context):
    _ce, patient = eligible_site(site)
    pack = package()
    sold_fill(site, pack, "30", patient=patient)
    out = io.StringIO()
    call_command("340b", "capture", stdout=out)
    assert out.getvalue().splitlines() == [
        f"{site.name}: 1 dispense(s) decided, 1 eligible for 340B, 0 return(s) to stock reversed.",
        f"  NDC {pack.ndc11}: +30 units",
    ]
    again = io.StringIO()
    call_command("340b", "capture", "--site", str(site.pk), stdout=again)
    assert again.getvalue() == f"{site.name}: Nothing new to capture.\n"
    assert Capture.objects.count() == 1


def test_it_names_a_bad_date_and_a_site_without_an_entity(site, cli_context):
    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        call_command("340b", "capture", "--through", "05/01/2026")
    out = io.StringIO()
    call_command("340b", "capture", stdout=out)
    assert out.getvalue() == "No pharmacy has a 340B covered entity set up.\n"
    with pytest.raises(CommandError, match="could not be captured"):
        call_command("340b", "capture", "--site", str(site.pk), stderr=io.StringIO())
