"""The 340B claim marker (registered in Program340BConfig.ready with rxdesk.claims.seams):
a fill eligible for 340B billed to a plan whose payer rule says "bill as 340B" is sent with
420-DK submission clarification code 20, and 423-DN basis of cost 08 where the rule asks."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rxdesk.claims.seams import ClaimMarks
from rxdesk.program340b import rules
from rxdesk.program340b.choices import PayerAction

if TYPE_CHECKING:
    from rxdesk.claims.models import Plan
    from rxdesk.rx.models import Fill

NOTHING = ClaimMarks()


def mark_claim(fill: Fill, plan: Plan) -> ClaimMarks:
    """SCC 20 (and basis 08) for an eligible fill billed to a plan billed as 340B."""
    from rxdesk.program340b.models import CoveredEntity, PayerRule
    from rxdesk.program340b.services import decide

    entity = CoveredEntity.objects.filter(site_id=fill.site_id, active=True).first()
    if entity is None:
        return NOTHING
    rule = PayerRule.objects.filter(
        entity=entity, plan_id=plan.pk, action=PayerAction.BILL_340B
    ).first()
    if rule is None:
        return NOTHING
    package = fill.package or fill.prescription.package
    if package is None:
        return NOTHING
    day = fill.dispensed_on or fill.site.today()
    if day < entity.starts_on:
        return NOTHING
    if not decide(entity, fill, package, day, plan).eligible:
        return NOTHING
    return ClaimMarks(
        clarification_codes=(rules.SCC_340B,),
        basis_of_cost=rules.BASIS_OF_COST_340B if rule.basis_of_cost_08 else "",
    )
