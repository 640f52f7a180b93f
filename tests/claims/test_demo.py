"""The demo bills its open fills through a real test payer it starts itself."""

from __future__ import annotations

import pytest

from rxdesk.claims.demo import demo_claims_bill, demo_payer_rules
from rxdesk.claims.models import Claim, Payer, PriorAuth
from rxdesk.demo import demo_load


@pytest.mark.slow
def test_the_demo_bills_over_the_socket_and_a_pa_waits(db, cli_context, test_payer):
    site = demo_load()
    process = test_payer(demo_payer_rules(site))
    Payer.objects.update(port=process.port)

    said = demo_claims_bill(site)

    assert "rejected" in said and "paid" in said
    miller = Claim.objects.get(fill__prescription__patient__last_name="Miller")
    assert miller.reject_codes == ["75"]
    assert PriorAuth.objects.get(claim=miller).status == "needed"
    paid = Claim.objects.filter(site=site, status="paid")
    assert paid.count() >= 5 and all(c.patient_pay is not None for c in paid)
    assert demo_claims_bill(site) == "Claims: already billed."
