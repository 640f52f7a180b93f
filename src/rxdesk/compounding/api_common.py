"""What every compounding API module shares: the gate (token or browser session holding a
capability, checked before the body is read), the signed-in user, and the strict input base
(unknown fields are a 422 naming them)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from rxdesk.core.capabilities import Cap
from rxdesk.core.models import User

# One strict input base for every app (its name is unique among the API's classes).
from rxdesk.institutional.api_common import StrictIn as StrictIn
from rxdesk.rx.api_fills import BearerToken, BrowserSession


def gate(*caps: Cap) -> list[Any]:
    return [BearerToken(*caps), BrowserSession(*caps)]


def user_of(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]
