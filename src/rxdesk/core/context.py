"""Who and where a request comes from, for the audit log: request id, client address and
the API token in use. Set by middleware for web requests and by the CLI per command."""

from __future__ import annotations

import contextlib
import contextvars
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class RequestInfo:
    request_id: str = ""
    client_addr: str = ""
    api_token_id: int | None = None
    channel: str = "web"  # web, api, cli, admin, system


_current: contextvars.ContextVar[RequestInfo] = contextvars.ContextVar(
    "rxdesk_request_info",
    default=RequestInfo(channel="system"),  # noqa: B039  (frozen, so never shared mutably)
)


def current() -> RequestInfo:
    return _current.get()


def new_request_id() -> str:
    return str(uuid.uuid4())


@contextlib.contextmanager
def using(info: RequestInfo) -> Iterator[RequestInfo]:
    token = _current.set(info)
    try:
        yield info
    finally:
        _current.reset(token)


def update(**changes: object) -> None:
    """Amend the current request's info (e.g. once the API token is known)."""
    _current.set(replace(_current.get(), **changes))  # type: ignore[arg-type]
