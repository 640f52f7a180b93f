"""The reject queue and the prior authorization screens through the Django client: what a
technician sees for each reject code and the fix buttons (Start PA, resubmit with the PA,
vacation supply and DUR codes for a pharmacist only, a new days supply, bill as cash), the
PA queue and a case's page; errors shown beside the claim with nothing written. The billing
flows run against the real test payer (a separate process on a loopback port)."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from rxdesk.claims.choices import BillingMode, ClaimStatus
from rxdesk.claims.choices import PriorAuthStatus as S
from rxdesk.claims.models import Claim, FillBilling, PriorAuth, PriorAuthDocument
from rxdesk.claims.services import claim_bill
from rxdesk.claims.services_pa import pa_update
from rxdesk.core.models import AuditEvent
from rxdesk.rx.models import Fill
from tests.catalog.factories import ApplicationProductFactory, PackageFactory, ProductFactory
from tests.claims.billing_helpers import card, payer_for, plan_for, plan_rules, priced_rx
from tests.claims.matrix_pa import PDF, case, document, prescription, rejected_claim
from tests.rx.factories import first_fill

pytestmark = pytest.mark.django_db

QUEUE = "/claims/rejects/"


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def work(claim: Claim) -> str:
    return reverse("claims_reject_work", kwargs={"pk": claim.pk})


def _written() -> tuple[int, ...]:
    return (
        Claim.objects.exclude(status=ClaimStatus.REJECTED).count(),
        PriorAuth.objects.count(),
        FillBilling.objects.count(),
        AuditEvent.objects.exclude(action__startswith="auth.").count(),
    )


def text_of(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


# --- the queue --------------------------------------------------------------------------------


def test_the_queue_explains_each_code_and_shows_the_count(site, technician):
    claim = rejected_claim(site, ["75", "88"], message="PA REQUIRED")
    rx = claim.fill.prescription

    response = client_for(technician).get(QUEUE)

    assert response.status_code == 200
    page = text_of(response)
    assert 'id="reject-count">1</span>' in page
    assert f"Rx {rx.number}-0" in page
    assert f"{rx.patient.last_name}, {rx.patient.first_name}" in page
    assert rx.drug_description in page
    assert "Test Commercial" in page and "BIN 610014" in page and "help desk 8005550100" in page
    assert "<strong>Prior authorization required</strong> — Start a prior authorization" in page
    assert "<strong>DUR reject</strong>" in page
    assert "<em>The payer says:</em> PA REQUIRED" in page
    assert "Start PA" in page
    assert "Resubmit</button>" in page and "Bill as cash</button>" in page


def test_an_empty_queue_says_so(site, technician):
    page = text_of(client_for(technician).get(QUEUE))

    assert 'id="reject-count">0</span>' in page
    assert "No rejected claim is waiting." in page


def test_paid_claims_and_other_pharmacies_rejects_are_not_in_the_queue(site, technician, outsider):
    rejected_claim(site, ["70"], status=ClaimStatus.PAID)
    rejected_claim(outsider.site, ["70"])

    page = text_of(client_for(technician).get(QUEUE))

    assert 'id="reject-count">0</span>' in page


def test_the_queue_reads_in_a_fixed_number_of_queries(site, technician, django_assert_num_queries):
    for codes in (["75"], ["79"], ["76"], ["88"], ["25"]):
        rejected_claim(site, codes)
    client = client_for(technician)
    client.get(QUEUE)  # warm the session and the user
    with django_assert_num_queries(9) as few:
        client.get(QUEUE)
    for codes in (["75"], ["41"], ["76"], ["88"]):
        rejected_claim(site, codes)

    with django_assert_num_queries(len(few.captured_queries)):
        response = client.get(QUEUE)

    assert 'id="reject-count">9</span>' in text_of(response)


def test_an_open_case_is_linked_instead_of_start_pa(site, technician):
    claim = rejected_claim(site, ["75"])
    pa = case(
        site,
        S.SUBMITTED,
        rx=claim.fill.prescription,
        the_plan=claim.plan,
        follow_up_on=site.today(),
    )

    page = text_of(client_for(technician).get(QUEUE))

    assert reverse("claims_pa_detail", kwargs={"pk": pa.pk}) in page
    assert "PA case: submitted to the plan, follow up" in page
    assert "Start PA" not in page


def test_an_approved_pa_in_effect_offers_the_resubmission(site, technician):
    claim = rejected_claim(site, ["75"])
    case(site, S.APPROVED, rx=claim.fill.prescription, the_plan=claim.plan, number="PA7654321")

    page = text_of(client_for(technician).get(QUEUE))

    assert "Resubmit with PA PA7654321" in page
    assert 'value="pa_resubmit"' in page


def test_start_pa_opens_the_case_and_goes_to_it(site, technician):
    claim = rejected_claim(site, ["75"])

    response = client_for(technician).post(work(claim), {"action": "pa_start"})

    pa = PriorAuth.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("claims_pa_detail", kwargs={"pk": pa.pk})
    assert (pa.prescription_id, pa.plan_id, pa.claim_id, pa.status) == (
        claim.fill.prescription_id,
        claim.plan_id,
        claim.pk,
        S.NEEDED,
    )


def test_resubmit_with_pa_without_an_approval_is_refused_beside_the_claim(site, technician):
    claim = rejected_claim(site, ["75"])
    before = _written()

    response = client_for(technician).post(work(claim), {"action": "pa_resubmit"})

    assert response.status_code == 409
    assert "No approved PA covers today" in text_of(response)
    assert _written() == before


def test_79_shows_the_next_fill_date_and_the_vacation_form_to_a_pharmacist(site, pharmacist):
    rejected_claim(site, ["79"], message="REFILL TOO SOON; NEXT FILL 20300412")

    page = text_of(client_for(pharmacist).get(QUEUE))

    assert "Next fill date: <strong>04/12/2030</strong>" in page
    assert "Resubmit as vacation supply (SCC 3)" in page


def test_a_technician_does_not_get_the_vacation_override(site, technician):
    claim = rejected_claim(site, ["79"], message="REFILL TOO SOON")
    client = client_for(technician)

    page = text_of(client.get(QUEUE))
    before = _written()
    response = client.post(work(claim), {"action": "vacation", "clarification": "3"})

    assert "The payer gave no next-fill date" in page
    assert "vacation supply (SCC 3)" not in page
    assert "the pharmacist's call" in page
    assert response.status_code == 403
    assert _written() == before


def test_70_lists_the_a_rated_equivalents_and_the_plans_preferred_product(site, technician):
    ApplicationProductFactory(appl_no="018936", product_no="001", te_code="AB")
    ApplicationProductFactory(appl_no="075000", product_no="001", te_code="AB")
    brand = ProductFactory(name="Prozac", application_number="NDA018936")
    ProductFactory(name="Fluoxetine", application_number="ANDA075000", labeler="Teva")
    preferred = PackageFactory(product=ProductFactory(name="Sertraline"), ndc11="00093123456")
    fill = first_fill(prescription(site))
    fill.prescription.__class__.objects.filter(pk=fill.prescription_id).update(product=brand)
    fill = Fill.objects.select_related("prescription").get(pk=fill.pk)
    rejected_claim(site, ["70"], fill=fill, message="NOT COVERED; Plan prefers NDC 00093123456")

    page = text_of(client_for(technician).get(QUEUE))

    assert "A-rated equivalents: Fluoxetine (Teva, AB)" in page
    assert (
        f'The plan prefers: <strong>Sertraline</strong> <span class="mono small">{preferred.ndc10}'
        in page
    )
    assert "Not covered: offer a covered alternative" in page


def test_mr_without_equivalents_says_what_to_do(site, technician):
    rejected_claim(site, ["MR"])

    page = text_of(client_for(technician).get(QUEUE))

    assert "No A-rated equivalent on file" in page


def test_76_offers_a_new_days_supply_prefilled_with_the_plans_limit(site, technician):
    from rxdesk.claims.models import Plan

    claim = rejected_claim(site, ["76"])
    Plan.objects.filter(pk=claim.plan_id).update(max_days_supply=30)

    page = text_of(client_for(technician).get(QUEUE))

    assert "Plan limit on file: 30 days." in page
    assert (
        f'id="days-{claim.pk}" name="days_supply" inputmode="numeric" size="4" value="30"' in page
    )


def test_76_without_a_days_supply_or_quantity_is_refused(site, technician):
    claim = rejected_claim(site, ["76"])
    before = _written()

    response = client_for(technician).post(
        work(claim), {"action": "limits", "days_supply": "", "quantity": ""}
    )

    assert response.status_code == 422
    assert "Type the days supply or quantity the plan allows." in text_of(response)
    assert _written() == before


def test_88_shows_the_dur_answer_and_prefills_e4_for_a_pharmacist(site, pharmacist):
    claim = rejected_claim(
        site, ["88"], dur_response=[{"J6": "1", "E4": "DD", "FS": "1", "FY": "WARFARIN"}]
    )

    page = text_of(client_for(pharmacist).get(QUEUE))

    assert "DUR DD · WARFARIN" in page
    assert f'id="e4-{claim.pk}" name="reason_for_service" size="3" maxlength="2" value="DD"' in page


def test_88_codes_are_for_a_pharmacist_only(site, technician):
    claim = rejected_claim(site, ["88"], dur_response=[{"E4": "DD"}])
    client = client_for(technician)
    page = text_of(client.get(QUEUE))
    before = _written()

    response = client.post(
        work(claim),
        {
            "action": "dur",
            "reason_for_service": "DD",
            "professional_service": "M0",
            "result_of_service": "1G",
        },
    )

    assert "The pharmacist reviews the DUR reject" in page
    assert 'name="reason_for_service"' not in page
    assert response.status_code == 403
    assert _written() == before


def test_88_codes_missing_are_named(site, pharmacist):
    claim = rejected_claim(site, ["88"])
    before = _written()

    response = client_for(pharmacist).post(
        work(claim), {"action": "dur", "reason_for_service": "DD"}
    )

    assert response.status_code == 422
    assert text_of(response).count("Two characters, e.g. DD, M0, 1G.") == 2
    assert _written() == before


def test_25_and_41_say_what_to_fix_and_link_the_records(site, technician):
    one = rejected_claim(site, ["25"])
    two = rejected_claim(site, ["41"])

    page = text_of(client_for(technician).get(QUEUE))

    assert "Prescriber ID refused: check the prescriber&#x27;s NPI" in page
    assert reverse("rx_detail", kwargs={"pk": one.fill.prescription_id}) in page
    assert "Bill the primary first / other processor" in page
    assert reverse("patient_detail", kwargs={"pk": two.fill.prescription.patient_id}) in page


def test_a_post_without_an_action_names_what_is_missing(site, technician):
    claim = rejected_claim(site, ["70"])

    response = client_for(technician).post(work(claim), {})

    assert response.status_code == 422
    assert "Choose what to do with this claim." in text_of(response)


def test_bill_as_cash_needs_a_reason_then_closes_the_claim(site, technician):
    claim = rejected_claim(site, ["70"])
    client = client_for(technician)
    before = _written()

    refused = client.post(work(claim), {"action": "cash", "reason": " "})
    assert refused.status_code == 422
    assert "Say why the fill is billed as cash." in text_of(refused)
    assert _written() == before

    done = client.post(work(claim), {"action": "cash", "reason": "Patient chose cash"})

    assert done.status_code == 302
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.CLOSED
    decision = FillBilling.objects.get(fill=claim.fill)
    assert (decision.mode, decision.reason, decision.decided_by) == (
        BillingMode.CASH,
        "Patient chose cash",
        technician,
    )
    assert 'id="reject-count">0</span>' in text_of(client.get(QUEUE))


def test_another_pharmacys_claim_is_404(site, outsider):
    claim = rejected_claim(site, ["75"])

    response = client_for(outsider).post(work(claim), {"action": "pa_start"})

    assert response.status_code == 404
    assert PriorAuth.objects.count() == 0


def test_the_auditor_does_not_see_the_queue(site, auditor):
    rejected_claim(site, ["75"])

    assert client_for(auditor).get(QUEUE).status_code == 403


# --- the rejects worked to a paid claim, over the socket --------------------------------------


def _billed(technician, test_payer, fill_over=None, **rules):
    rx, fill = priced_rx(technician, **(fill_over or {}))
    process = test_payer({"plans": [plan_rules(**{k: v(rx) for k, v in rules.items()})]})
    plan = plan_for(payer_for(process))
    card(rx.patient)
    result = claim_bill(actor=technician, fill=fill)
    claim = result.claims[0]
    return rx, fill, plan, claim


def test_a_75_is_worked_to_a_paid_claim_with_the_pa_number(site, technician, test_payer):
    rx, _fill, plan, claim = _billed(
        technician,
        test_payer,
        prior_auth=lambda rx: [rx.package.ndc11],
        pa_numbers=lambda rx: ["PA1234567"],
    )
    assert claim.status == ClaimStatus.REJECTED and claim.reject_codes == ["75"]
    pa = PriorAuth.objects.get(prescription=rx, plan=plan)  # opened by the billing
    client = client_for(technician)
    assert reverse("claims_pa_detail", kwargs={"pk": pa.pk}) in text_of(client.get(QUEUE))
    pa_update(actor=technician, prior_auth=pa, status=S.SUBMITTED)
    pa_update(
        actor=technician,
        prior_auth=pa,
        status=S.APPROVED,
        number="PA1234567",
        approved_from=site.today(),
        approved_to=site.today() + dt.timedelta(days=365),
    )
    case_page = text_of(client.get(reverse("claims_pa_detail", kwargs={"pk": pa.pk})))
    assert f"Resubmit Rx {rx.number}-0 with PA PA1234567" in case_page

    response = client.post(work(claim), {"action": "pa_resubmit"})

    assert response.status_code == 302
    claim.refresh_from_db()
    assert (claim.status, claim.prior_auth_number, claim.patient_pay) == (
        ClaimStatus.PAID,
        "PA1234567",
        Decimal("5.00"),
    )
    assert 'id="reject-count">0</span>' in text_of(client.get(QUEUE))


def test_an_88_is_worked_by_the_pharmacist_to_a_paid_claim(
    site, technician, pharmacist, test_payer
):
    _rx, _fill, _plan, claim = _billed(
        technician, test_payer, dur_reject=lambda rx: {rx.package.ndc11: "DD"}
    )
    assert claim.reject_codes == ["88"]
    client = client_for(pharmacist)
    page = text_of(client.get(QUEUE))
    assert f'id="e4-{claim.pk}" name="reason_for_service" size="3" maxlength="2" value="DD"' in page

    response = client.post(
        work(claim),
        {
            "action": "dur",
            "reason_for_service": "DD",
            "professional_service": "M0",
            "result_of_service": "1G",
        },
    )

    assert response.status_code == 302
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.PAID
    assert claim.dur_pps[0]["professional_service"] == "M0"


def test_a_76_is_worked_with_a_shorter_days_supply(site, technician, test_payer):
    _rx, fill, _plan, claim = _billed(technician, test_payer, fill_over={"days_supply": 90})
    assert claim.reject_codes == ["76"]

    response = client_for(technician).post(
        work(claim), {"action": "limits", "days_supply": "30", "quantity": "30"}
    )

    assert response.status_code == 302
    claim.refresh_from_db()
    fill.refresh_from_db()
    assert (claim.status, claim.days_supply, fill.days_supply) == (ClaimStatus.PAID, 30, 30)


# --- the PA screens ---------------------------------------------------------------------------


def test_the_pa_queue_marks_the_overdue_first(site, technician):
    overdue = case(site, S.SUBMITTED, follow_up_on=site.today() - dt.timedelta(days=2))
    later = case(site, S.SUBMITTED, follow_up_on=site.today() + dt.timedelta(days=2))
    closed = case(site, S.APPROVED)
    client = client_for(technician)

    page = text_of(client.get(reverse("claims_pa_queue")))
    all_page = text_of(client.get(reverse("claims_pa_queue") + "?closed=1"))

    assert page.index(f'id="pa-{overdue.pk}" class="late"') < page.index(f'id="pa-{later.pk}"')
    assert '<span class="badge danger">overdue</span>' in page
    assert "2 open" in page and "1 overdue" in page
    assert f'id="pa-{closed.pk}"' not in page
    assert f'id="pa-{closed.pk}"' in all_page and "PA PA12345" in all_page


def test_the_pa_queue_reads_in_a_fixed_number_of_queries(
    site, technician, django_assert_num_queries
):
    for _ in range(3):
        case(site)
    client = client_for(technician)
    client.get(reverse("claims_pa_queue"))
    with django_assert_num_queries(8) as few:
        client.get(reverse("claims_pa_queue"))
    for _ in range(4):
        case(site, S.SUBMITTED, follow_up_on=site.today())

    with django_assert_num_queries(len(few.captured_queries)):
        client.get(reverse("claims_pa_queue"))


def test_a_case_page_moves_the_case_on(site, technician):
    pa = case(site)
    url = reverse("claims_pa_detail", kwargs={"pk": pa.pk})
    client = client_for(technician)

    page = text_of(client.get(url))
    response = client.post(
        url,
        {"status": "submitted", "follow_up_on": site.today().strftime("%m/%d/%Y"), "note": "Faxed"},
    )

    assert '<option value="submitted">Submitted to the plan</option>' in page
    assert 'value="approved"' not in page  # not a step from needed
    assert response.status_code == 302
    pa.refresh_from_db()
    assert (pa.status, pa.follow_up_on) == (S.SUBMITTED, site.today())
    history = text_of(client.get(url))
    assert "Needed → Submitted to the plan" in history and "Faxed" in history


def test_an_approval_without_its_number_is_shown_beside_the_fields(site, technician):
    pa = case(site, S.SUBMITTED)
    url = reverse("claims_pa_detail", kwargs={"pk": pa.pk})
    before = _written()

    response = client_for(technician).post(url, {"status": "approved"})

    assert response.status_code == 422
    page = text_of(response)
    assert "Type the PA number the plan gave with the approval." in page
    assert "Type the first day the approval covers." in page
    assert _written() == before


def test_a_step_not_offered_is_refused_as_a_choice(site, technician):
    pa = case(site, S.APPROVED)
    url = reverse("claims_pa_detail", kwargs={"pk": pa.pk})

    response = client_for(technician).post(url, {"status": "denied"})

    assert response.status_code == 422
    assert "Select a valid choice" in text_of(response)


def test_an_appeal_beside_another_open_case_is_a_409_on_the_page(site, technician):
    denied = case(site, S.DENIED)
    case(site, rx=denied.prescription, the_plan=denied.plan)
    url = reverse("claims_pa_detail", kwargs={"pk": denied.pk})
    before = _written()

    response = client_for(technician).post(
        url, {"status": "appealed", "denied_reason": denied.denied_reason}
    )

    assert response.status_code == 409
    assert "Another open PA case exists for this prescription and plan" in text_of(response)
    assert _written() == before


def test_a_document_is_uploaded_listed_and_downloaded(site, technician):
    from django.core.files.uploadedfile import SimpleUploadedFile

    pa = case(site)
    client = client_for(technician)
    upload = reverse("claims_pa_upload", kwargs={"pk": pa.pk})

    response = client.post(
        upload,
        {
            "doc-file": SimpleUploadedFile("form.pdf", PDF, content_type="application/pdf"),
            "doc-name": "",
        },
    )

    assert response.status_code == 302
    doc = PriorAuthDocument.objects.get()
    page = text_of(client.get(reverse("claims_pa_detail", kwargs={"pk": pa.pk})))
    link = reverse("claims_pa_document", kwargs={"pk": pa.pk, "doc_id": doc.pk})
    assert f'<a href="{link}">form.pdf</a>' in page
    down = client.get(link)
    assert down.content == PDF
    assert down["Content-Type"] == "application/pdf"
    assert AuditEvent.objects.order_by("-id").first().action == "claims.pa.document_viewed"


def test_a_fake_pdf_is_refused_on_the_page(site, technician):
    from django.core.files.uploadedfile import SimpleUploadedFile

    pa = case(site)
    before = _written()

    response = client_for(technician).post(
        reverse("claims_pa_upload", kwargs={"pk": pa.pk}),
        {"doc-file": SimpleUploadedFile("x.pdf", b"MZ not a pdf", content_type="application/pdf")},
    )

    assert response.status_code == 422
    assert "not really a PDF" in text_of(response)
    assert _written() == before
    assert PriorAuthDocument.objects.count() == 0


def test_an_abandoned_case_has_no_form(site, technician):
    pa = case(site, S.ABANDONED)

    page = text_of(client_for(technician).get(reverse("claims_pa_detail", kwargs={"pk": pa.pk})))

    assert "Work the case" not in page


def test_another_pharmacys_case_page_is_404(site, outsider):
    pa = case(site)
    doc = document(pa)
    client = client_for(outsider)

    assert client.get(reverse("claims_pa_detail", kwargs={"pk": pa.pk})).status_code == 404
    assert (
        client.get(
            reverse("claims_pa_document", kwargs={"pk": pa.pk, "doc_id": doc.pk})
        ).status_code
        == 404
    )
