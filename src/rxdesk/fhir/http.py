"""The HTTP side of /fhir/: who is calling, what they may read, JSON in and out, and every
failure as an OperationOutcome (never an HTML error page).

Authentication is the API's: ``Authorization: Bearer rxd_…`` (a per-user token) or the
signed-in browser session, which must send its CSRF token on POST. The same roles and
capabilities decide what each caller sees."""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from rxdesk.core import context
from rxdesk.core.capabilities import has
from rxdesk.core.errors import DomainError
from rxdesk.core.models import User
from rxdesk.fhir.codes import MIME
from rxdesk.fhir.outcome import FhirError, error_response, from_domain, outcome_response
from rxdesk.fhir.registry import Context

log = logging.getLogger(__name__)

MAX_BODY = 5 * 1024 * 1024  # a transaction Bundle of a patient's record fits well inside
MAX_DEPTH = 40
_JSON_TYPES = ("application/fhir+json", "application/json", "application/json+fhir")


def _token_user(request: HttpRequest) -> User | None:
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret:
        return None
    from rxdesk.core.services import token_authenticate

    found = token_authenticate(secret.strip())
    if found is None:
        raise FhirError(
            401, "The bearer token is not valid (revoked, expired or mistyped).", code="login"
        )
    context.update(api_token_id=found.pk, channel="api")
    return found.user


def caller(request: HttpRequest) -> User:
    """The signed-in user (token or session), or FhirError 401."""
    if request.headers.get("Authorization"):
        user = _token_user(request)
        if user is not None:
            request.user = user
            timezone.activate(user.site.tz)
            return user
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            rejected = CsrfViewMiddleware(lambda r: HttpResponse()).process_view(
                request, lambda r: HttpResponse(), (), {}
            )
            if rejected is not None:
                raise FhirError(
                    403, "CSRF token missing or wrong: reload the page.", code="security"
                )
        return user
    raise FhirError(
        401,
        "Sign in first: send Authorization: Bearer <token> (rxdesk token create).",
        code="login",
    )


def need(user: User, cap: Any) -> None:
    if not has(user, cap):
        raise FhirError(403, f"Your role may not do this ({cap}).", code="forbidden")


def ctx_of(request: HttpRequest, user: User) -> Context:
    base = request.build_absolute_uri("/fhir").rstrip("/")
    return Context(site=user.site, actor=user, base=base)


def fhir_json(resource: dict[str, Any], status: int = 200, **headers: str) -> HttpResponse:
    response = HttpResponse(
        json.dumps(resource, separators=(",", ":"), ensure_ascii=False),
        status=status,
        content_type=f"{MIME}; charset=utf-8",
    )
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def _depth(value: Any, limit: int) -> int:
    """The nesting depth of parsed JSON, without recursion (a hostile body cannot blow the
    stack here); stops counting past ``limit``."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > deepest:
            deepest = depth
            if deepest > limit:
                return deepest
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return deepest


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def read_body(request: HttpRequest) -> dict[str, Any]:
    """The request body as a JSON object, or FhirError: 415 for another media type, 413 for
    a body past 5 MB, 400 for JSON that does not parse, nests too deep or is not an object."""
    kind = request.content_type or ""
    if kind not in _JSON_TYPES:
        raise FhirError(
            415, f"Send application/fhir+json (not {kind[:60] or 'nothing'}).", code="not-supported"
        )
    length = request.META.get("CONTENT_LENGTH") or "0"
    if length.isdigit() and int(length) > MAX_BODY:
        raise FhirError(
            413, "The body is larger than 5 MB; send smaller bundles.", code="too-costly"
        )
    raw = request.body
    if len(raw) > MAX_BODY:
        raise FhirError(
            413, "The body is larger than 5 MB; send smaller bundles.", code="too-costly"
        )
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_no_constants)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise FhirError(
            400, f"The body is not valid JSON: {str(exc)[:200]}", code="structure"
        ) from None
    if not isinstance(data, dict):
        raise FhirError(
            400, "The body must be one JSON object (a FHIR resource).", code="structure"
        )
    if _depth(data, MAX_DEPTH) > MAX_DEPTH:
        raise FhirError(400, "The JSON nests too deep to be a FHIR resource.", code="structure")
    return data


def _format_ok(request: HttpRequest) -> None:
    fmt = request.GET.get("_format", "")
    if fmt and fmt not in ("json", *_JSON_TYPES):
        raise FhirError(406, "rxdesk answers in JSON only (_format=json).", code="not-supported")
    accept = request.headers.get("Accept", "")
    if accept and "json" not in accept and "*/*" not in accept and "application/*" not in accept:
        raise FhirError(406, "rxdesk answers in application/fhir+json only.", code="not-supported")


def _anonymous(request: HttpRequest) -> bool:
    """No credentials at all (a bad token is still refused with 401)."""
    user = getattr(request, "user", None)
    return not request.headers.get("Authorization") and not (user and user.is_authenticated)


def _anonymous_ctx(request: HttpRequest) -> Context:
    # Only the server's own description is served anonymously: it names no site's data.
    from rxdesk.core.models import Site

    site = Site.objects.order_by("pk").first()
    base = request.build_absolute_uri("/fhir").rstrip("/")
    return Context(site=site, actor=None, base=base)  # type: ignore[arg-type]


def endpoint(
    methods: tuple[str, ...], *, anonymous_ok: bool = False
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Wrap a FHIR view: method check, content negotiation, authentication, and every error
    as an OperationOutcome. The view gets (request, user, ctx, **kwargs). With
    ``anonymous_ok`` a caller without credentials gets user None and a context of the first
    site (GET /metadata: a client discovers the server before it signs in)."""

    def wrap(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @csrf_exempt
        @functools.wraps(view)
        def handler(request: HttpRequest, **kwargs: Any) -> HttpResponse:
            allowed = {*methods, "HEAD"} if "GET" in methods else set(methods)
            try:
                if request.method not in allowed:
                    response = outcome_response(
                        405, [("not-supported", f"{request.method} is not supported here.", None)]
                    )
                    response["Allow"] = ", ".join(sorted(allowed))
                    return response
                _format_ok(request)
                if anonymous_ok and _anonymous(request):
                    return view(request, None, _anonymous_ctx(request), **kwargs)
                user = caller(request)
                return view(request, user, ctx_of(request, user), **kwargs)
            except FhirError as exc:
                response = error_response(exc)
                if exc.status == 401:
                    response["WWW-Authenticate"] = 'Bearer realm="rxdesk"'
                return response
            except DomainError as exc:
                return error_response(from_domain(exc))
            except Exception:  # never an HTML 500 page from /fhir/
                log.exception("FHIR request failed: %s %s", request.method, request.path)
                return outcome_response(
                    500,
                    [("exception", "rxdesk could not answer this request; it was logged.", None)],
                )

        return handler

    return wrap
