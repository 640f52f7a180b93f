"""``{% fill_claims fill %}``: the claims panel of a fill, for the data-verification page
and the fill's pages — what each payer said, what the patient pays, and the buttons the
signed-in user may press."""

from __future__ import annotations

from typing import Any

from django import template

from rxdesk.claims import queries
from rxdesk.claims.choices import ACCEPTED, BillingMode, ClaimStatus
from rxdesk.claims.models import FillBilling
from rxdesk.claims.rejects import explain
from rxdesk.core.capabilities import Cap, has
from rxdesk.rx.choices import FillStatus
from rxdesk.rx.models import Fill

register = template.Library()

_FINAL = {FillStatus.DISPENSED, FillStatus.RETURNED, FillStatus.CANCELLED}


@register.inclusion_tag("claims/_fill_claims.html", takes_context=True)
def fill_claims(context: dict[str, Any], fill: Fill) -> dict[str, Any]:
    request = context.get("request")
    user = getattr(request, "user", None)
    if not has(user, Cap.CLAIMS_VIEW):
        return {"hidden": True}
    claims = queries.claims_of(fill)
    rows = [
        {
            "claim": c,
            "rejects": [explain(str(code)) for code in c.reject_codes],
            "accepted": c.status in ACCEPTED,
        }
        for c in claims
    ]
    decision = FillBilling.objects.filter(fill=fill).first()
    chain = queries.billing_order(fill.prescription.patient, fill.site.today())
    open_fill = fill.status not in _FINAL
    may_bill = has(user, Cap.CLAIMS_BILL) and open_fill
    cash = decision is not None and decision.mode == BillingMode.CASH
    waiting = any(c.status == ClaimStatus.QUEUED for c in claims)
    return {
        "hidden": False,
        "fill": fill,
        "rows": rows,
        "chain": chain,
        "decision": decision,
        "cash": cash,
        "patient_pay": queries.patient_pays([fill]).get(fill.pk),
        "may_bill": may_bill and bool(chain) and not cash,
        "may_cash": may_bill and not cash,
        "may_proceed": has(user, Cap.CLAIMS_PROCEED) and open_fill and waiting,
        "here": request.get_full_path() if request is not None else "",
        "csrf_token": context.get("csrf_token"),
    }
