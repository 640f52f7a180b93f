"""The one family of domain errors: a stable code, an HTTP status and a message a
technician understands. The API maps them to problem+json, the UI shows them beside the
field, the CLI prints them."""

from __future__ import annotations


class DomainError(Exception):
    """A broken business rule. Nothing has been written when it is raised."""

    code = "domain_error"
    status = 409
    title = "The request breaks a pharmacy rule"

    def __init__(self, message: str, *, field: str | None = None, **extra: object) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.extra = extra

    @property
    def errors(self) -> list[dict[str, str]]:
        if self.field:
            return [{"field": self.field, "message": self.message}]
        return []


class Invalid(DomainError):
    """Input that is malformed or out of range; ``errors`` names each bad field."""

    code = "invalid"
    status = 422
    title = "Invalid input"

    def __init__(
        self,
        message: str = "",
        *,
        field: str | None = None,
        errors: list[dict[str, str]] | None = None,
        **extra: object,
    ) -> None:
        if errors is None:
            errors = [{"field": field or "", "message": message}]
        if not message:
            message = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        super().__init__(message, field=field, **extra)
        self._errors = errors

    @property
    def errors(self) -> list[dict[str, str]]:
        return self._errors


class Forbidden(DomainError):
    """The actor's role does not grant the capability."""

    code = "forbidden"
    status = 403
    title = "Not allowed for your role"


class CredentialExpired(Forbidden):
    """The role would allow the step, but the person's registration or license does not."""

    code = "credential_expired"
    title = "Registration or license not current"


class NotFound(DomainError):
    code = "not_found"
    status = 404
    title = "Not found"


class Conflict(DomainError):
    code = "conflict"
    status = 409
    title = "Conflict"
