"""Request context for the audit log, session time limits and the second-factor gate."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.messages.storage import default_storage
from django.db import OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from django.utils.http import urlencode

from rxdesk.core import context
from rxdesk.core.choices import CONTROLLED_SUBSTANCE_ROLES

log = logging.getLogger(__name__)

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,36}$")

DATABASE_BUSY_TITLE = "Database busy"
DATABASE_BUSY = "The database is busy; nothing was saved. Try again."

SIGNED_IN_AT = "rx_signed_in_at"
LAST_SEEN_AT = "rx_last_seen_at"


def _problem(request: HttpRequest, status: int, title: str, detail: str) -> HttpResponse:
    if request.path.startswith("/fhir/"):  # FHIR clients read an OperationOutcome
        from rxdesk.fhir.outcome import outcome_response

        code = "login" if status == 401 else "processing"
        return outcome_response(status, [(code, f"{title}: {detail}", None)])
    return JsonResponse(
        {"type": "about:blank", "title": title, "status": status, "detail": detail},
        status=status,
        content_type="application/problem+json",
    )


def _is_api(request: HttpRequest) -> bool:
    """The REST API and the FHIR API answer machines: errors as JSON, never a redirect."""
    return request.path.startswith(("/api/", "/fhir/"))


def database_busy(request: HttpRequest, exc: OperationalError) -> HttpResponse:
    """The one answer to a database that timed out, was locked or dropped the connection
    mid-request: every service runs in one transaction, so nothing was saved and the very
    same request may be sent again. 503, never a 500 page."""
    log.warning(
        "Database busy (request %s, %s %s): %s",
        context.current().request_id,
        request.method,
        request.path,
        exc,
    )
    if _is_api(request):
        response = _problem(request, 503, DATABASE_BUSY_TITLE, DATABASE_BUSY)
    else:
        # A page of its own, with no template: rendering the site's layout would ask the
        # database that just failed.
        response = HttpResponse(
            '<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f'<title>{DATABASE_BUSY_TITLE}</title></head><body><main id="main">'
            f'<h1>{DATABASE_BUSY_TITLE}</h1><p role="alert">{escape(DATABASE_BUSY)}</p>'
            '<p><a href="/">Back to the workstation</a></p></main></body></html>',
            status=503,
            content_type="text/html; charset=utf-8",
        )
    response["Retry-After"] = "5"
    return response


class RequestContextMiddleware:
    """Give every request an id (or keep a sane X-Request-ID) and note the client address;
    a database that is busy or timed out in a view answers 503 (``database_busy``)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _REQUEST_ID.match(incoming) else context.new_request_id()
        info = context.RequestInfo(
            request_id=request_id,
            client_addr=request.META.get("REMOTE_ADDR", "")[:45],
            channel="api" if _is_api(request) else "web",
        )
        with context.using(info):
            response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response

    def process_exception(self, request: HttpRequest, exc: Exception) -> HttpResponse | None:
        if isinstance(exc, OperationalError):
            return database_busy(request, exc)
        return None


class SessionTimeoutMiddleware:
    """End a signed-in session after the site's idle minutes, and 12 hours after sign-in
    whatever the activity (HIPAA automatic logoff, 45 CFR 164.312(a)(2)(iii))."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and hasattr(request, "session"):
            now = timezone.now().timestamp()
            signed_in = request.session.get(SIGNED_IN_AT)
            last_seen = request.session.get(LAST_SEEN_AT)
            if signed_in is None or last_seen is None:
                request.session[SIGNED_IN_AT] = signed_in = now
                request.session[LAST_SEEN_AT] = last_seen = now
            idle_minutes = (
                user.site.session_idle_minutes
                if user.site
                else settings.SESSION_IDLE_MINUTES_DEFAULT
            )
            reason = ""
            if now - signed_in > settings.SESSION_ABSOLUTE_SECONDS:
                hours = settings.SESSION_ABSOLUTE_SECONDS // 3600
                reason = f"You were signed out: sessions end {hours} hours after sign-in."
            elif now - last_seen > idle_minutes * 60:
                reason = f"You were signed out after {idle_minutes} idle minutes."
            if reason:
                return self._expire(request, reason)
            request.session[LAST_SEEN_AT] = now
        return self.get_response(request)

    def _expire(self, request: HttpRequest, reason: str) -> HttpResponse:
        from rxdesk.core.services import auth_event

        user = request.user
        auth_event(actor=user, action="auth.session_expired", reason=reason)  # type: ignore[arg-type]
        request.session["rx_expiring"] = True  # the timeout event replaces a sign-out event
        logout(request)
        if _is_api(request):
            return _problem(request, 401, "Session expired", reason)
        # This middleware runs before MessageMiddleware, and answers without reaching it:
        # give the request a message store here and save it into the response ourselves.
        request._messages = default_storage(request)  # type: ignore[attr-defined]
        messages.warning(request, reason)
        login_url = f"{reverse('login')}?{urlencode({'next': request.get_full_path()})}"
        response: HttpResponse
        if getattr(request, "htmx", False) or request.headers.get("HX-Request"):
            response = HttpResponse(status=204)
            response["HX-Redirect"] = login_url
        else:
            response = redirect(login_url)
        request._messages.update(response)  # type: ignore[attr-defined]
        return response


class SiteTimeZoneMiddleware:
    """Show every date and time in the signed-in user's pharmacy's time zone, and make
    "today" the pharmacy's date (stored in UTC, shown local: DESIGN, "Quantities, money,
    time")."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        site = getattr(user, "site", None) if user is not None and user.is_authenticated else None
        if site is not None:
            timezone.activate(site.tz)
        try:
            return self.get_response(request)
        finally:
            # Also ends a zone an API token's authentication activated (rxdesk.api).
            timezone.deactivate()


def _static_prefix() -> str:
    url = settings.STATIC_URL or "/static/"
    return url if url.startswith("/") else "/" + url


def mfa_needed(user: object) -> bool:
    """Whether this user must pass a second factor before working."""
    from django_otp import user_has_device

    if user_has_device(user, confirmed=True):
        return True
    site = getattr(user, "site", None)
    return bool(
        site and site.mfa_required and getattr(user, "role", "") in CONTROLLED_SUBSTANCE_ROLES
    )


class MfaGateMiddleware:
    """A user with a second factor (or who must have one) sees nothing until it is passed."""

    ALLOWED_URL_NAMES = ("login", "logout", "mfa_verify", "mfa_enroll")

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and hasattr(request, "session")
            and not user.is_verified()
            and not request.path.startswith(_static_prefix())
            and request.path not in {reverse(n) for n in self.ALLOWED_URL_NAMES}
            and mfa_needed(user)
        ):
            if _is_api(request):
                return _problem(
                    request,
                    401,
                    "Second factor required",
                    "Enter your authenticator code in the browser first.",
                )
            from django_otp import user_has_device

            target = "mfa_verify" if user_has_device(user, confirmed=True) else "mfa_enroll"
            return redirect(f"{reverse(target)}?{urlencode({'next': request.get_full_path()})}")
        return self.get_response(request)
