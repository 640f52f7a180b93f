"""Back-office screens of the pickup part of the point of sale: deliveries and manifests
(with proof of delivery on a signature pad), return to stock with a scan box, the
pharmacist's counseling queue, and the household buttons of the patient page.

Parse, call a service or query, render: who may do what is decided by the services; the
capability is checked first so a refused role learns nothing and changes nothing."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path, reverse

from rxdesk.core.capabilities import Cap, require
from rxdesk.core.errors import Conflict, DomainError, Invalid, NotFound
from rxdesk.core.forms import FIELD_ERRORS
from rxdesk.core.models import User
from rxdesk.core.views import FORM, actor_of, is_partial, screen
from rxdesk.patients import queries as patient_queries
from rxdesk.patients import services as patient_services
from rxdesk.pos import queries_willcall as wc
from rxdesk.pos.choices import (
    Counseling,
    DeliveryMethod,
    DeliveryStatus,
    IdType,
    PickupPerson,
)
from rxdesk.pos.manifest import manifest_pdf
from rxdesk.pos.models import Delivery, Manifest, Sale, SaleLine
from rxdesk.pos.pricing import fill_price
from rxdesk.pos.services import delivery as deliveries
from rxdesk.pos.services import pickup as pickups
from rxdesk.pos.services import returns
from rxdesk.pos.services.common import EDITABLE
from rxdesk.rx.choices import FillStatus
from rxdesk.rx.models import Fill

LIST_LIMIT = 200
# A button's refusals, said on the page it came from.
REFUSED: tuple[type[DomainError], ...] = (Invalid, Conflict, NotFound)


def _ids(values: list[str]) -> list[int]:
    return [int(v) for v in values if v.strip().isdigit() and 0 < int(v) < 2**63]


def _errors(exc: DomainError) -> dict[str, str]:
    out: dict[str, str] = {}
    for e in exc.errors or [{"field": exc.field or "", "message": exc.message}]:
        out.setdefault(e.get("field") or "", e.get("message") or exc.message)
    return out


# --- Deliveries --------------------------------------------------------------------------------


def _deliverable(actor: User) -> list[Fill]:
    """Ready bags not on a sale or a live delivery, for the delivery builder."""
    busy_sale = Q(pk__in=SaleLine.objects.filter(sale__status__in=EDITABLE).values("fill_id"))
    busy_delivery = Q(pk__in=Delivery.objects.filter(status__in=wc.LIVE_DELIVERY).values("fills"))
    return list(
        Fill.objects.filter(site_id=actor.site_id, status=FillStatus.READY)
        .exclude(busy_sale | busy_delivery)
        .select_related("prescription__patient")
        .order_by("prescription__patient__last_name_key", "ready_at")[:LIST_LIMIT]
    )


@screen
def deliveries_screen(request: HttpRequest) -> HttpResponse:
    """Build deliveries from ready bags, group them into a run, print, track."""
    actor = actor_of(request)
    require(actor, Cap.POS_DELIVER)
    live = list(
        Delivery.objects.filter(site_id=actor.site_id, status__in=wc.LIVE_DELIVERY)
        .select_related("patient", "manifest")
        .prefetch_related("fills__prescription")
        .order_by("status", "pk")
    )
    manifests = list(Manifest.objects.filter(site_id=actor.site_id).order_by("-created_at")[:20])
    return render(
        request,
        "pos/delivery_list.html",
        {
            "ready": _deliverable(actor),
            "live": live,
            "pending": [
                d for d in live if d.status == DeliveryStatus.PENDING and not d.manifest_id
            ],
            "manifests": manifests,
            "methods": DeliveryMethod.choices,
        },
    )


@screen(methods=("POST",))
def delivery_create(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.POS_DELIVER)
    try:
        fills = wc.fills_get(actor=actor, fill_ids=_ids(request.POST.getlist("fill")))
        if not fills:
            raise Invalid("Tick the bags to deliver.", field="fills")
        # A household's bags go together, addressed to the first bag's patient.
        delivery = deliveries.delivery_create(
            actor=actor,
            patient=fills[0].prescription.patient,
            fills=fills,
            method=request.POST.get("method") or DeliveryMethod.COURIER,
            instructions=request.POST.get("instructions", ""),
        )
    except FIELD_ERRORS as exc:
        messages.error(request, f"No delivery made: {exc.message}")
    else:
        messages.success(
            request, f"Delivery {delivery.pk} to {delivery.patient} is waiting for a run."
        )
    return redirect("pos_deliveries")


@screen(methods=("POST",))
def manifest_create(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.POS_DELIVER)
    ids = _ids(request.POST.getlist("delivery"))
    found = list(Delivery.objects.filter(site_id=actor.site_id, pk__in=ids))
    try:
        manifest = deliveries.manifest_create(
            actor=actor,
            deliveries=found,
            method=request.POST.get("method") or DeliveryMethod.COURIER,
            driver_name=request.POST.get("driver_name", ""),
        )
    except REFUSED as exc:
        messages.error(request, f"No run made: {exc.message}")
    else:
        messages.success(request, f"Manifest {manifest.pk} made: print it for the driver.")
    return redirect("pos_deliveries")


def _manifest(request: HttpRequest, pk: int) -> Manifest:
    actor = actor_of(request)
    require(actor, Cap.POS_DELIVER)
    found = Manifest.objects.filter(pk=pk, site_id=actor.site_id).first()
    if found is None:
        raise NotFound("No such manifest at this pharmacy.")
    return found


@screen(methods=("POST",))
def manifest_depart(request: HttpRequest, pk: int) -> HttpResponse:
    manifest = _manifest(request, pk)
    try:
        deliveries.manifest_depart(actor=actor_of(request), manifest=manifest)
    except FIELD_ERRORS as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Manifest {manifest.pk}: the deliveries are out.")
    return redirect("pos_deliveries")


@screen
def manifest_print(request: HttpRequest, pk: int) -> HttpResponse:
    manifest = _manifest(request, pk)
    response = HttpResponse(manifest_pdf(manifest), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="manifest-{manifest.pk}.pdf"'
    return response


def _delivery(request: HttpRequest, pk: int) -> Delivery:
    actor = actor_of(request)
    require(actor, Cap.POS_DELIVER)
    found = Delivery.objects.filter(pk=pk, site_id=actor.site_id).select_related("patient").first()
    if found is None:
        raise NotFound("No such delivery at this pharmacy.")
    return found


@screen(methods=FORM)
def delivery_record(request: HttpRequest, pk: int) -> HttpResponse:
    """Proof of delivery: who took the bags, their signature; the sale is paid."""
    delivery = _delivery(request, pk)
    actor = actor_of(request)
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        require(actor, Cap.RX_SELL)
        data = request.POST
        tenders: list[Any] = []
        try:
            from rxdesk.pos.services.sales import TenderIn

            amount = (data.get("amount") or "").strip()
            if amount and amount not in ("0", "0.00"):
                tenders = [
                    TenderIn(
                        kind=data.get("tender") or "cash",
                        amount=amount,
                        tendered=amount if (data.get("tender") or "cash") == "cash" else None,
                        reference=data.get("reference", ""),
                    )
                ]
            deliveries.delivery_complete(
                actor=actor,
                delivery=delivery,
                person=data.get("person", ""),
                person_name=data.get("person_name", ""),
                relationship=data.get("relationship", ""),
                date_of_birth=data.get("date_of_birth") or None,
                counseling=data.get("counseling") or Counseling.DECLINED,
                signature=data.get("signature", ""),
                tenders=tenders,
                id_type=data.get("id_type", ""),
                id_number=data.get("id_number", ""),
                id_state=data.get("id_state", ""),
                id_expiry=data.get("id_expiry") or None,
            )
        except FIELD_ERRORS as exc:
            errors, status = _errors(exc), exc.status
        else:
            messages.success(request, f"Delivery {delivery.pk} recorded as delivered.")
            return redirect("pos_deliveries")
    fills = list(delivery.fills.select_related("prescription").order_by("pk"))
    return render(
        request,
        "pos/delivery_record.html",
        {
            "delivery": delivery,
            "fills": fills,
            "due": sum((p for p in (fill_price(f) for f in fills) if p), Decimal("0.00")),
            "errors": errors,
            "data": request.POST if request.method == "POST" else {},
            "people": PickupPerson.choices,
            "id_types": IdType.choices,
            "needs_id": any(
                wc.schedule_digit(f.prescription) in wc.id_schedules(delivery.site) for f in fills
            ),
        },
        status=status,
    )


@screen(methods=("POST",))
def delivery_fail(request: HttpRequest, pk: int) -> HttpResponse:
    delivery = _delivery(request, pk)
    try:
        deliveries.delivery_fail(
            actor=actor_of(request), delivery=delivery, reason=request.POST.get("reason", "")
        )
    except FIELD_ERRORS as exc:
        messages.error(request, f"Delivery {delivery.pk}: {exc.message}")
    else:
        messages.success(request, f"Delivery {delivery.pk} came back: the bags are in will-call.")
    return redirect("pos_deliveries")


@screen(methods=("POST",))
def delivery_ship(request: HttpRequest, pk: int) -> HttpResponse:
    delivery = _delivery(request, pk)
    require(actor_of(request), Cap.RX_SELL)
    try:
        deliveries.delivery_ship(
            actor=actor_of(request),
            delivery=delivery,
            tracking_number=request.POST.get("tracking_number", ""),
            carrier=request.POST.get("carrier", "") or "Mail carrier",
        )
    except FIELD_ERRORS as exc:
        messages.error(request, f"Delivery {delivery.pk}: {exc.message}")
    else:
        messages.success(request, f"Delivery {delivery.pk} shipped.")
    return redirect("pos_deliveries")


# --- Return to stock ---------------------------------------------------------------------------


@screen(methods=FORM)
def return_to_stock(request: HttpRequest) -> HttpResponse:
    """The due list, and a scan box that returns one bag per scan."""
    actor = actor_of(request)
    require(actor, Cap.RX_FILL)
    results: list[returns.ReturnResult] = []
    error = ""
    status = 200
    if request.method == "POST":
        code = request.POST.get("code", "").strip()
        try:
            results = returns.return_to_stock_scan(
                actor=actor,
                codes=[code] if code else [],
                reason=request.POST.get("reason", "") or "Not picked up",
            )
        except FIELD_ERRORS as exc:
            error, status = exc.message, exc.status
        if is_partial(request):
            return render(
                request, "pos/rts_result.html", {"results": results, "error": error}, status=status
            )
    return render(
        request,
        "pos/rts_list.html",
        {"due": returns.return_to_stock_list(actor=actor), "results": results, "error": error},
        status=status,
    )


# --- Counseling --------------------------------------------------------------------------------


@screen
def counseling_queue(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.POS_COUNSEL)
    return render(
        request, "pos/pickup_counseling.html", {"waiting": pickups.counseling_waiting(actor=actor)}
    )


@screen(methods=FORM)
def counseling_record(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.POS_COUNSEL)
    sale = Sale.objects.filter(pk=pk, site_id=actor.site_id).select_related("patient").first()
    if sale is None:
        raise NotFound("No such sale at this pharmacy.")
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        try:
            pickups.counseling_record(actor=actor, sale=sale, note=request.POST.get("note", ""))
        except FIELD_ERRORS as exc:
            errors, status = _errors(exc), exc.status
        else:
            messages.success(request, f"Counseling recorded for {sale.patient}.")
            return redirect("pos_counseling")
    return render(
        request,
        "pos/pickup_counsel.html",
        {
            "sale": sale,
            "lines": list(sale.lines.select_related("fill__prescription").order_by("pk")),
            "waiting": sale in pickups.counseling_waiting(actor=actor),
            "errors": errors,
            "note": request.POST.get("note", "") if request.method == "POST" else "",
        },
        status=status,
    )


# --- Households (buttons on the patient page) ----------------------------------------------------


@screen(methods=("POST",))
def household_join(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.PATIENT_EDIT)
    patient = patient_queries.patient_for(actor=actor, patient_id=pk)
    raw = request.POST.get("with_patient", "").strip()
    try:
        if not raw.isdigit():
            raise Invalid("Type the other patient's number.", field="with_patient")
        try:
            other = patient_queries.patient_for(actor=actor, patient_id=int(raw))
        except NotFound as exc:
            raise Invalid(exc.message, field="with_patient") from None
        household = patient_services.patient_household_join(
            actor=actor, patient=patient, with_patient=other
        )
    except REFUSED as exc:
        messages.error(request, f"Household not changed: {exc.message}")
    else:
        messages.success(request, f"{patient.full_name} is in {household.name}.")
    return redirect(reverse("patient_detail", kwargs={"pk": patient.pk}))


@screen(methods=("POST",))
def household_leave(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.PATIENT_EDIT)
    patient = patient_queries.patient_for(actor=actor, patient_id=pk)
    try:
        patient_services.patient_household_leave(actor=actor, patient=patient)
    except FIELD_ERRORS as exc:
        messages.error(request, f"Household not changed: {exc.message}")
    else:
        messages.success(request, f"{patient.full_name} left the household.")
    return redirect(reverse("patient_detail", kwargs={"pk": patient.pk}))


urlpatterns: list[URLPattern] = [
    path("deliveries/", deliveries_screen, name="pos_deliveries"),
    path("deliveries/new/", delivery_create, name="pos_delivery_create"),
    path("deliveries/<int:pk>/deliver/", delivery_record, name="pos_delivery_record"),
    path("deliveries/<int:pk>/fail/", delivery_fail, name="pos_delivery_fail"),
    path("deliveries/<int:pk>/ship/", delivery_ship, name="pos_delivery_ship"),
    path("manifests/new/", manifest_create, name="pos_manifest_create"),
    path("manifests/<int:pk>/depart/", manifest_depart, name="pos_manifest_depart"),
    path("manifests/<int:pk>/pdf/", manifest_print, name="pos_manifest_pdf"),
    path("return-to-stock/", return_to_stock, name="pos_return_to_stock"),
    path("counseling/", counseling_queue, name="pos_counseling"),
    path("counseling/<int:pk>/", counseling_record, name="pos_counseling_record"),
    path("households/<int:pk>/join/", household_join, name="pos_household_join"),
    path("households/<int:pk>/leave/", household_leave, name="pos_household_leave"),
]
