from decimal import Decimal

from rxdesk.immunizations.choices import Funding
from rxdesk.immunizations.models import VaccineLot
from rxdesk.inventory.ledger import ledger_verify
from tests.immunizations.factories import flu_package, flu_vis, stocked


def test_stocked_puts_doses_through_the_ledger_with_their_funding(site):
    balance = stocked(site, funding=Funding.VFC, quantity=5)
    assert balance.on_hand == Decimal("5")
    assert VaccineLot.objects.get(site=site, lot=balance.lot).funding == Funding.VFC
    assert ledger_verify(site_id=site.pk)[1] == []
    assert flu_package().package_quantity == Decimal("10")
    assert flu_vis().vaccines.get().cvx == "150"
