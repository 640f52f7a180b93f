"""The REST API root: /api/v1/. Authentication (bearer tokens for integrations, the session
with CSRF for the browser) and problem+json errors live here; each app adds a router."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.db import OperationalError
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.datastructures import MultiValueDict
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, AuthorizationError, HttpError, ValidationError
from ninja.parser import Parser
from ninja.security import APIKeyCookie, HttpBearer

from rxdesk.core import context
from rxdesk.core.errors import DomainError
from rxdesk.core.middleware import database_busy

log = logging.getLogger(__name__)


class BearerToken(HttpBearer):
    """``Authorization: Bearer rxd_…`` — a per-user API token (stored hashed)."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        from rxdesk.core.services import token_authenticate

        found = token_authenticate(token)
        if found is None:
            return None
        request.user = found.user
        context.update(api_token_id=found.pk, channel="api")
        # The session's user got the pharmacy's time zone in SiteTimeZoneMiddleware; a
        # token's user is known only now. The middleware deactivates it after the response.
        timezone.activate(found.user.site.tz)
        return found.user


class BrowserSession(APIKeyCookie):
    """The signed-in browser's session cookie; unsafe methods need the CSRF token."""

    param_name = "sessionid"

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            return user
        return None


# Every error is one shape (RFC 9457 problem details), declared once as each operation's
# `default` answer, so a client (and schemathesis) knows what a 401/403/404/409/422/503 is.
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "description": "What went wrong, in words for the person at the workstation. Nothing "
    "was saved. `errors` names each bad field; some errors add details (e.g. fill_status).",
    "properties": {
        "type": {"type": "string", "description": "/problems/<code>, or about:blank"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
                "required": ["field", "message"],
            },
        },
    },
    "required": ["type", "title", "status", "detail"],
}
PROBLEM_ANSWER: dict[str, Any] = {
    "description": "An error (application/problem+json): not signed in (401), not allowed "
    "(403), no such record here (404), a pharmacy rule (409), invalid input naming the "
    "field (422), the database busy — try again (503).",
    "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
}
_METHODS = frozenset({"get", "put", "post", "delete", "patch", "head", "options"})


NUL_MESSAGE = "This text contains a NUL character (\\u0000), which no field can hold."


def _refuse_nul(value: Any, loc: tuple[Any, ...]) -> None:
    """Raise a 422 naming the first text in ``value`` with a NUL character: no field holds
    one (PostgreSQL refuses it outright) and no pharmacy's text has one."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ValidationError([{"loc": loc, "msg": NUL_MESSAGE, "type": "value_error"}])
    elif isinstance(value, dict):
        for key, item in value.items():
            _refuse_nul(key, loc)
            _refuse_nul(item, (*loc, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _refuse_nul(item, (*loc, index))


class TextParser(Parser):
    """ninja's JSON, query and form reading, refusing text with a NUL character before any
    handler sees it (it reached PostgreSQL as a 500; found by the longer stateful fuzz)."""

    def parse_body(self, request: HttpRequest) -> Any:
        data = super().parse_body(request)
        _refuse_nul(data, ("body",))
        return data

    def parse_querydict(
        self, data: MultiValueDict, list_fields: list[str], request: HttpRequest
    ) -> Any:
        result = super().parse_querydict(data, list_fields, request)
        _refuse_nul(result, ("query" if data is request.GET else "form",))
        return result


class RxdeskAPI(NinjaAPI):
    def get_openapi_schema(
        self, *, path_prefix: str | None = None, path_params: dict[str, Any] | None = None
    ) -> Any:
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
        for operations in schema.get("paths", {}).values():
            for method, operation in operations.items():
                if method in _METHODS:
                    # ninja keys answers by int; JSON keys are strings (and sort as such)
                    answers = {str(k): v for k, v in operation.get("responses", {}).items()}
                    answers.setdefault("default", PROBLEM_ANSWER)
                    operation["responses"] = answers
        return schema


api = RxdeskAPI(
    title="rxdesk API",
    version="1",
    description=(
        "rxdesk pharmacy information system. Authenticate with `Authorization: Bearer <token>` "
        "(create one with `rxdesk token create --username U`) or a signed-in browser session "
        "with its CSRF token. Errors are application/problem+json."
    ),
    auth=[BearerToken(), BrowserSession()],
    urls_namespace="api",
    parser=TextParser(),
)


def problem(
    request: HttpRequest,
    status: int,
    title: str,
    detail: str,
    *,
    code: str = "about:blank",
    errors: list[dict[str, str]] | None = None,
    **extra: Any,
) -> HttpResponse:
    body: dict[str, Any] = {
        "type": code if code == "about:blank" else f"/problems/{code}",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if errors is not None:
        body["errors"] = errors
    body.update(extra)
    response = api.create_response(request, body, status=status)
    response["Content-Type"] = "application/problem+json"
    return response


def _field_of(loc: list[Any] | tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    # ninja reports ("body", "<param name>", field, …) or ("query", field)
    if parts and parts[0] in {"body", "query", "path", "header", "cookie", "form"}:
        parts = parts[1:]
        if len(parts) > 1 and parts[0] in {"payload", "data", "body", "filters"}:
            parts = parts[1:]
    # pydantic appends the union member it tried ("str-enum[Credential]", "literal['']"):
    # that is not part of the field's name.
    named = []
    for part in parts:
        if not (part.isidentifier() or part.isdigit()):
            break
        named.append(part)
    return ".".join(named)


@api.exception_handler(ValidationError)
def _invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    errors: list[dict[str, str]] = []
    for err in exc.errors:
        loc = err.get("loc", ())
        message = str(err.get("msg", "Invalid value"))
        message = message.removeprefix("Value error, ")
        field = _field_of(loc)
        if field and any(e["field"] == field for e in errors):
            continue  # one message per field (each union member reports its own)
        errors.append({"field": field, "message": message})
    detail = "; ".join(f"{e['field'] or 'body'}: {e['message']}" for e in errors)
    return problem(request, 422, "Invalid input", detail, code="invalid", errors=errors)


# Members of a problem body that an error's extra details may not overwrite.
_RESERVED = frozenset({"type", "title", "status", "detail", "errors", "code", "request"})


@api.exception_handler(DomainError)
def _domain(request: HttpRequest, exc: DomainError) -> HttpResponse:
    extra = {
        k: v
        for k, v in exc.extra.items()
        if isinstance(v, str | int | list | bool) and k not in _RESERVED
    }
    errors = exc.errors if (exc.errors or exc.status == 422) else None
    return problem(
        request, exc.status, exc.title, exc.message, code=exc.code, errors=errors, **extra
    )


@api.exception_handler(AuthenticationError)
def _unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    response = problem(
        request,
        401,
        "Not signed in",
        "Send a valid API token (Authorization: Bearer …) or sign in.",
        code="unauthenticated",
    )
    response["WWW-Authenticate"] = 'Bearer realm="rxdesk"'
    return response


@api.exception_handler(AuthorizationError)
def _unauthorized(request: HttpRequest, exc: AuthorizationError) -> HttpResponse:
    return problem(request, 403, "Not allowed", str(exc) or "Not allowed.", code="forbidden")


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    if isinstance(exc.__cause__, ValidationError):  # ninja wraps the body parser's errors
        return _invalid(request, exc.__cause__)
    detail = str(exc)
    if exc.status_code == 403 and "CSRF" in detail:
        return problem(
            request,
            403,
            "CSRF check failed",
            "Reload the page and try again (the form's security token was missing).",
            code="csrf",
        )
    return problem(request, exc.status_code, detail or "Error", detail)


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return problem(request, 404, "Not found", str(exc) or "Not found.", code="not_found")


@api.exception_handler(RequestDataTooBig)
def _too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    return problem(
        request,
        413,
        "Request too large",
        "The request body is larger than this server accepts; send less at a time.",
        code="too_large",
    )


@api.exception_handler(OperationalError)
def _database_busy(request: HttpRequest, exc: OperationalError) -> HttpResponse:
    return database_busy(request, exc)  # the one answer, kept with the middleware's


@api.exception_handler(OverflowError)
def _number_too_large(request: HttpRequest, exc: OverflowError) -> HttpResponse:
    # A whole number past what the database stores (e.g. an id of 10**30 in a list the
    # schema left unbounded): the request is wrong, not the server. Nothing was saved.
    return problem(
        request,
        422,
        "Invalid input",
        "A number in the request is too large; no record has an id or amount that big.",
        code="invalid",
        errors=[{"field": "body", "message": "A number is too large."}],
    )


@api.exception_handler(Exception)
def _unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    log.exception("Unhandled API error", exc_info=exc)
    return problem(
        request,
        500,
        "Internal error",
        f"Something went wrong; quote request {context.current().request_id}.",
        code="internal",
    )


def _add_routers() -> None:
    from rxdesk.care import api_counsel, api_inquiries, api_medrec, api_poct, api_quality
    from rxdesk.catalog.api import router as catalog_router
    from rxdesk.claims.api import router as claims_router
    from rxdesk.claims.api_pa import router as claims_pa_router
    from rxdesk.claims.api_plans import router as claims_plans_router
    from rxdesk.claims.api_reports import router as claims_reports_router
    from rxdesk.compounding import (
        api_bud,
        api_calc,
        api_cleanroom,
        api_competency,
        api_formulas,
        api_hd,
        api_records,
    )
    from rxdesk.controlled import (
        api_audits,
        api_disposal,
        api_inventories,
        api_ledger,
        api_orders,
        api_pmp,
    )
    from rxdesk.core.api import router as core_router
    from rxdesk.immunizations import api_administer, api_catalog, api_outreach, api_registry
    from rxdesk.institutional import (
        api_cabinets,
        api_census,
        api_cycles,
        api_discrepancies,
        api_feeds,
        api_packaging,
    )
    from rxdesk.inventory.api import router as inventory_router
    from rxdesk.patients.api import prescribers as prescriber_router
    from rxdesk.patients.api import router as patient_router
    from rxdesk.pos.api_pickup import router as pos_pickup_router
    from rxdesk.pos.api_pse import router as pos_pse_router
    from rxdesk.pos.api_sales import router as pos_sales_router
    from rxdesk.rx.api import router as rx_router
    from rxdesk.rx.api_devices import router as devices_router
    from rxdesk.rx.api_fills import router as fills_router
    from rxdesk.screening.api import router as screening_router

    api.add_router("/", core_router)
    api.add_router("/patients", patient_router)
    api.add_router("/prescribers", prescriber_router)
    api.add_router("/catalog", catalog_router)
    api.add_router("/inventory", inventory_router)
    api.add_router("/", rx_router)
    api.add_router("/", fills_router)
    api.add_router("/", devices_router)
    api.add_router("/pos", pos_sales_router)
    api.add_router("/pos", pos_pickup_router)
    api.add_router("/pos", pos_pse_router)
    api.add_router("/screening", screening_router)
    api.add_router("/claims", claims_router)
    api.add_router("/claims", claims_pa_router)
    api.add_router("/claims", claims_plans_router)
    api.add_router("/claims", claims_reports_router)
    for controlled in (api_ledger, api_orders, api_inventories, api_audits, api_disposal, api_pmp):
        api.add_router("/controlled", controlled.router)
    for compounding in (
        api_bud,
        api_calc,
        api_formulas,
        api_records,
        api_cleanroom,
        api_competency,
        api_hd,
    ):
        api.add_router("/compounding", compounding.router)
    for institutional in (
        api_census,
        api_cycles,
        api_packaging,
        api_cabinets,
        api_feeds,
        api_discrepancies,
    ):
        api.add_router("/institutional", institutional.router)
    # The registry router first: GET /immunizations/{id}/vxu is a contract.
    for immunizations in (api_registry, api_catalog, api_administer, api_outreach):
        api.add_router("/immunizations", immunizations.router)
    for care in (api_medrec, api_counsel, api_quality, api_inquiries, api_poct):
        api.add_router("/care", care.router)
    from rxdesk.formulary import api as formulary_api
    from rxdesk.medsync import api as medsync_api
    from rxdesk.operations import api as operations_api
    from rxdesk.outreach import api as outreach_api
    from rxdesk.people import api as people_api
    from rxdesk.program340b import api as p340b_api
    from rxdesk.reports import api_daily, api_metrics

    api.add_router("/people", people_api.router)
    api.add_router("/operations", operations_api.router)
    api.add_router("/reports", api_daily.router)
    api.add_router("/metrics", api_metrics.router)
    api.add_router("/340b", p340b_api.router)
    api.add_router("/sync", medsync_api.router)
    api.add_router("/formulary", formulary_api.router)
    api.add_router("/outreach", outreach_api.router)


_add_routers()
