"""Sign-in, second factor, account and the workstation home."""

from __future__ import annotations

import base64
import datetime as dt
import io
from collections.abc import Callable
from functools import wraps
from typing import Any, cast

import qrcode
import qrcode.image.svg
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from rxdesk.core import queries, services
from rxdesk.core.audit import ACTIONS
from rxdesk.core.capabilities import Cap, require
from rxdesk.core.choices import Role
from rxdesk.core.errors import DomainError, Invalid, NotFound
from rxdesk.core.forms import (
    FIELD_ERRORS,
    AuditFilterForm,
    SiteForm,
    StaffForm,
    bind_errors,
    initial_from,
    query_string,
)
from rxdesk.core.middleware import mfa_needed
from rxdesk.core.models import AuditEvent, Site, User
from rxdesk.core.services import auth_event, mfa_enrolment_confirm, mfa_enrolment_start


class SignInView(LoginView):
    template_name = "core/signin.html"
    http_method_names = ["get", "head", "post"]
    redirect_authenticated_user = True

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        if mfa_needed(self.request.user):
            target = (
                "mfa_verify"
                if TOTPDevice.objects.filter(user=self.request.user, confirmed=True).exists()
                else "mfa_enroll"
            )
            return redirect(f"{reverse(target)}?{urlencode({'next': self.get_success_url()})}")
        return response


@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    logout(request)
    messages.info(request, "You are signed out.")
    return redirect("login")


@require_http_methods(["GET", "HEAD"])
@login_required
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "core/home.html")


@require_http_methods(["GET", "HEAD"])
@login_required
def account(request: HttpRequest) -> HttpResponse:
    has_device = TOTPDevice.objects.filter(user=request.user, confirmed=True).exists()
    return render(request, "core/account.html", {"has_device": has_device})


def _next_url(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or "/"
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return "/"
    return target


def _qr_svg(uri: str) -> str:
    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    buf = io.BytesIO()
    image.save(buf)
    return buf.getvalue().decode()


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def mfa_enroll(request: HttpRequest) -> HttpResponse:
    """Enrol a TOTP authenticator: show the secret as a QR code, confirm with one code."""
    user = request.user
    if TOTPDevice.objects.filter(user=user, confirmed=True).exists() and not user.is_verified():  # type: ignore[union-attr]
        return redirect("mfa_verify")
    device = mfa_enrolment_start(user=user)  # type: ignore[arg-type]
    error = ""
    if request.method == "POST":
        token = "".join(request.POST.get("code", "").split())
        if mfa_enrolment_confirm(user=user, device=device, token=token):  # type: ignore[arg-type]
            otp_login(request, device)
            messages.success(
                request,
                "Your authenticator is set up. You will be asked for a code each time you sign in.",
            )
            return redirect(_next_url(request))
        error = "That code did not match. Check the time on your phone and try the newest code."
    secret_b32 = base64.b32encode(device.bin_key).decode()
    return render(
        request,
        "core/mfa_enroll.html",
        {
            "qr_svg": _qr_svg(device.config_url),
            "secret": secret_b32,
            "error": error,
            "next": _next_url(request),
        },
        status=422 if error else 200,
    )


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def mfa_verify(request: HttpRequest) -> HttpResponse:
    """Ask for the authenticator code after the password."""
    user = request.user
    devices = list(TOTPDevice.objects.filter(user=user, confirmed=True))
    if not devices:
        return redirect("mfa_enroll")
    error = ""
    if request.method == "POST":
        token = "".join(request.POST.get("code", "").split())
        device = next((d for d in devices if token.isdigit() and d.verify_token(token)), None)
        if device is not None:
            otp_login(request, device)
            auth_event(actor=user, action="auth.mfa_verified")  # type: ignore[arg-type]
            return redirect(_next_url(request))
        auth_event(actor=user, action="auth.mfa_failed")  # type: ignore[arg-type]
        error = "That code did not match. Try the newest code from your authenticator."
    return render(
        request,
        "core/mfa_verify.html",
        {"error": error, "next": _next_url(request)},
        status=422 if error else 200,
    )


# --- Workstation screens: the site record, staff, the audit log ------------------------------
# Each screen parses its input, calls a service or a query, and renders. Rules (who may do
# what, what is valid) live in the services; a refused capability shows the 403 page.

ViewFunc = Callable[..., HttpResponseBase]


def actor_of(request: HttpRequest) -> User:
    """The signed-in member of staff (every screen is behind ``login_required``)."""
    return cast(User, request.user)


def error_page(request: HttpRequest, exc: DomainError) -> HttpResponse:
    template = {403: "core/forbidden.html", 404: "core/not_found.html"}.get(
        exc.status, "core/error.html"
    )
    return render(request, template, {"error": exc}, status=exc.status)


READ = ("GET", "HEAD")
FORM = ("GET", "HEAD", "POST")


def screen(view: ViewFunc | None = None, *, methods: tuple[str, ...] = READ) -> Any:
    """A signed-in workstation screen answering only ``methods`` (others: 405). A refused
    capability (or an expired credential) is a 403 page, a row that is not this pharmacy's a
    404 page, and any other broken rule that the screen did not show beside a field gets a
    page of its own: never a 500. Use ``@screen`` for pages, ``@screen(methods=FORM)`` for
    forms, ``@screen(methods=("POST",))`` for buttons."""

    def decorate(func: ViewFunc) -> ViewFunc:
        @wraps(func)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            try:
                return func(request, *args, **kwargs)
            except DomainError as exc:
                return error_page(request, exc)

        return require_http_methods(list(methods))(login_required(wrapper))

    return decorate(view) if view is not None else decorate


def posted(request: HttpRequest) -> Any:
    """The POST data of a form submission (even an empty one), or None for a GET."""
    return request.POST if request.method == "POST" else None


def is_partial(request: HttpRequest) -> bool:
    """An htmx request for a fragment (not htmx restoring a page missing from its history)."""
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not getattr(htmx, "history_restore_request", False)


def _own_site(actor: User) -> Site:
    if actor.site is None:
        raise NotFound("Your account is not attached to a pharmacy.")
    return actor.site


@screen
def site_detail(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.SITE_VIEW)
    site = _own_site(actor)
    return render(request, "core/site_detail.html", {"record": site})


@screen(methods=FORM)
def site_edit(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.SITE_EDIT)
    site = _own_site(actor)
    form = SiteForm(posted(request), initial=initial_from(site, SiteForm))
    if request.method == "POST" and form.is_valid():
        try:
            services.site_update(actor=actor, site=site, **form.changed())
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            messages.success(request, "The site record is saved.")
            return redirect("site_detail")
    return render(request, "core/site_edit.html", {"form": form}, status=form.http_status())


@screen
def staff_list(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    site = _own_site(actor)
    today = site.today()
    rows = [
        {"member": member, "problem": member.credential_problem(on=today)}
        for member in queries.staff_list(actor=actor)
    ]
    return render(request, "core/staff_list.html", {"rows": rows, "today": today})


@screen(methods=FORM)
def staff_create(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.STAFF_EDIT)
    site = _own_site(actor)
    form = StaffForm(posted(request), initial={"role": Role.TECHNICIAN})
    if request.method == "POST" and form.is_valid():
        values = dict(form.cleaned_data)
        try:
            member = services.staff_create(
                actor=actor,
                site=site,
                username=values.pop("username"),
                role=values.pop("role"),
                password=values.pop("password"),
                **values,
            )
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            messages.success(
                request, f"{member.display_name} can now sign in as {member.username}."
            )
            return redirect("staff_list")
    return render(
        request, "core/staff_form.html", {"form": form, "member": None}, status=form.http_status()
    )


@screen(methods=FORM)
def staff_edit(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.STAFF_EDIT)
    member = queries.staff_list(actor=actor).filter(pk=pk).first()
    if member is None:
        raise NotFound("No such staff member at this pharmacy.")
    form = StaffForm(posted(request), initial=initial_from(member, StaffForm), editing=True)
    if request.method == "POST" and form.is_valid():
        try:
            services.staff_update(actor=actor, user=member, **form.changed())
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            messages.success(request, f"{member.display_name}'s record is saved.")
            return redirect("staff_list")
    return render(
        request, "core/staff_form.html", {"form": form, "member": member}, status=form.http_status()
    )


AUDIT_PAGE_SIZE = 50


def _day_start(day: dt.date | None, tz: dt.tzinfo) -> dt.datetime | None:
    """Midnight of ``day`` at the pharmacy, or None for a day beyond what a datetime holds
    (no bound: no event is that old or that new)."""
    if day is None:
        return None
    try:
        return dt.datetime.combine(day, dt.time.min, tzinfo=tz).astimezone(dt.UTC)
    except OverflowError:
        return None


def _audit_filters(form: AuditFilterForm, site: Site) -> dict[str, Any]:
    """The form's filters as arguments of queries.audit_search: dates are whole days at the
    pharmacy, so "to 03/02" includes all of March 2nd in the site's time zone."""
    data = form.cleaned_data
    tz = site.tz
    since = data.get("since")
    until = data.get("until")
    return {
        "who": data.get("who") or "",
        "action": data.get("action") or "",
        "patient_id": data.get("patient_id"),
        "since": _day_start(since, tz),
        "until": _day_start(until + dt.timedelta(days=1), tz)
        if until and until < dt.date.max
        else None,
    }


def _audit_filter_values(form: AuditFilterForm) -> dict[str, Any]:
    keys = ("who", "action", "patient_id", "since", "until")
    if not form.is_bound or not form.is_valid():
        return {}
    return {k: form.cleaned_data.get(k) for k in keys}


@screen
def audit_list(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    site = _own_site(actor)
    form = AuditFilterForm(request.GET or None)
    events: list[AuditEvent] = []
    has_older = has_newer = False
    if form.is_bound and not form.is_valid():
        queries.audit_search(actor=actor)  # the capability check, before showing anything
    else:
        filters = _audit_filters(form, site) if form.is_bound else {}
        qs = queries.audit_search(actor=actor, **filters)
        before = form.cleaned_data.get("before") if form.is_bound else None
        after = form.cleaned_data.get("after") if form.is_bound else None
        if after is not None:
            page = list(qs.filter(seq__gt=after).order_by("seq")[: AUDIT_PAGE_SIZE + 1])
            has_newer = len(page) > AUDIT_PAGE_SIZE
            events = page[:AUDIT_PAGE_SIZE][::-1]
            has_older = True
        else:
            if before is not None:
                qs = qs.filter(seq__lt=before)
            page = list(qs[: AUDIT_PAGE_SIZE + 1])
            has_older = len(page) > AUDIT_PAGE_SIZE
            events = page[:AUDIT_PAGE_SIZE]
            has_newer = before is not None
    return render(
        request,
        "core/audit_list.html",
        {
            "form": form,
            "events": events,
            "has_older": has_older and bool(events),
            "has_newer": has_newer and bool(events),
            "filter_qs": query_string(_audit_filter_values(form)),
            "actions": sorted(ACTIONS.items()),
        },
        status=form.http_status(),
    )


@screen
def audit_export(request: HttpRequest) -> HttpResponseBase:
    actor = actor_of(request)
    site = _own_site(actor)
    form = AuditFilterForm(request.GET or None)
    if form.is_bound and not form.is_valid():
        queries.audit_search(actor=actor)
        return render(
            request,
            "core/audit_list.html",
            {
                "form": form,
                "events": [],
                "filter_qs": "",
                "actions": sorted(ACTIONS.items()),
            },
            status=form.http_status(),
        )
    filters = _audit_filters(form, site) if form.is_bound else {}
    events = queries.audit_search(actor=actor, **filters)
    shown = {k: "" if v is None else str(v) for k, v in _audit_filter_values(form).items()}
    lines = queries.audit_export_csv(actor=actor, events=events, filters=shown)
    stamp = timezone.now().astimezone(site.tz).strftime("%Y%m%d-%H%M")
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="audit-site{site.pk}-{stamp}.csv"'
    response["Cache-Control"] = "no-store"
    return response


@screen(methods=FORM)
def audit_verify_view(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.AUDIT_VERIFY)
    report = None
    if request.method == "POST":
        report = services.audit_chain_verify(actor=actor)
    return render(request, "core/audit_verify.html", {"report": report})


@screen(methods=FORM)
def site_assignment_list(request: HttpRequest) -> HttpResponse:
    """Who from the chain's other pharmacies may work here: the pharmacist-in-charge lets
    someone in (a float technician, a covering pharmacist) or withdraws it."""
    actor = actor_of(request)
    require(actor, Cap.SITE_ASSIGN)
    error, field, status = "", "", 200
    if request.method == "POST":
        action = request.POST.get("action", "")
        try:
            if action == "grant":
                chosen = queries.assignable_staff(actor=actor).filter(
                    pk=_posted_id(request.POST.get("user", ""))
                )
                member = chosen.first()
                if member is None:
                    raise Invalid("Choose a person from the list.", field="user")
                services.site_assignment_grant(actor=actor, user=member)
                done = f"{member.display_name} may now work at {actor.site.name}."
            elif action == "revoke":
                assignment = (
                    queries.site_assignments(actor=actor)
                    .filter(pk=_posted_id(request.POST.get("assignment", "")))
                    .first()
                )
                if assignment is None:
                    raise Invalid("Choose a person from the list.", field="assignment")
                services.site_assignment_revoke(actor=actor, assignment=assignment)
                done = f"{assignment.user.display_name} may no longer work here."
            else:
                raise Invalid("Choose a person to let in or to remove.", field="user")
        except DomainError as exc:
            error, field, status = exc.message, exc.field or "user", exc.status
        else:
            messages.success(request, done)
            return redirect("site_assignments")
    return render(
        request,
        "core/site_assignments.html",
        {
            "assignments": queries.site_assignments(actor=actor),
            "candidates": queries.assignable_staff(actor=actor),
            "error": error,
            "error_field": field,
        },
        status=status,
    )


def _posted_id(value: str) -> int:
    """A posted row id; 0 (no row) when it is not a plain number a database can hold."""
    # ASCII only: "²".isdigit() is True and int("²") raises
    return int(value) if value.isascii() and value.isdigit() and len(value) < 10 else 0


@screen(methods=FORM)
def site_switch(request: HttpRequest) -> HttpResponse:
    """Choose which of one's assigned pharmacies to work at (header: "Switch pharmacy")."""
    actor = actor_of(request)
    sites = services.user_sites(actor)
    error = ""
    if request.method == "POST":
        chosen = next((s for s in sites if str(s.pk) == request.POST.get("site", "")), None)
        try:
            if chosen is None:
                raise Invalid("Choose one of the pharmacies listed.", field="site")
            services.user_switch_site(actor=actor, site=chosen)
        except Invalid as exc:
            error = exc.message
        else:
            messages.success(request, f"You are now working at {chosen.name}.")
            return redirect("home")
    return render(
        request,
        "core/site_switch.html",
        {"sites": sites, "error": error},
        status=422 if error else 200,
    )
