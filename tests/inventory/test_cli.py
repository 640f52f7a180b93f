"""``rxdesk inventory verify``: silent success when the ledger agrees, and a named
difference (exit 1) when a balance was tampered with outside the ledger."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from rxdesk.inventory.models import StockBalance
from tests.inventory.factories import package, stock

pytestmark = pytest.mark.django_db


def test_verify_reports_an_agreeing_ledger(site):
    stock(site, package(), "A", 10)
    out = io.StringIO()
    call_command("inventory", "verify", stdout=out)
    assert "Stock ledger verified: 1 lot balances" in out.getvalue()


def test_verify_names_a_tampered_balance_and_fails(site):
    balance = stock(site, package(), "A", 10)
    StockBalance.objects.filter(pk=balance.pk).update(on_hand=12)
    out = io.StringIO()
    with pytest.raises(SystemExit) as exit_:
        call_command("inventory", "verify", stdout=out)
    assert exit_.value.code == 1
    assert (
        f"Site {site.pk}, lot {balance.lot_id}: balance differs from the sum of moves "
        "(balance 12, moves 10)"
    ) in out.getvalue()


@pytest.mark.parametrize("site_id", ["0", "99999999999999999999"])
def test_a_site_that_cannot_exist_is_refused_in_words(db, site_id):
    from django.core.management.base import CommandError

    for args in (("verify", "--site", site_id), ("expire", "--site", site_id)):
        with pytest.raises(CommandError, match=f"No site {site_id}"):
            call_command("inventory", *args, stdout=io.StringIO())
