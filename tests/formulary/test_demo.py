"""The demo loader makes its rows through the services, once."""

from __future__ import annotations

from rxdesk.core.models import AuditEvent
from rxdesk.formulary import demo
from rxdesk.formulary.models import FormularyEntry, InterchangeProtocol
from tests.formulary.setup import ppis


def test_the_demo_puts_what_the_catalog_has_on_the_formulary_and_approves_a_protocol(site, pic):
    drugs = ppis()
    demo.load(site, {"pic": pic})
    got = dict(FormularyEntry.objects.filter(site=site).values_list("product_id", "status"))
    assert got == {drugs["panto40"].pk: "preferred", drugs["ome20"].pk: "non_formulary"}
    (row,) = InterchangeProtocol.objects.filter(site=site)
    assert (row.status, row.approved_by_id, row.from_ingredient) == (
        "approved",
        pic.pk,
        "OMEPRAZOLE",
    )
    events = AuditEvent.objects.filter(site=site, action__startswith="formulary.").count()
    demo.load(site, {"pic": pic})
    assert AuditEvent.objects.filter(site=site, action__startswith="formulary.").count() == events
