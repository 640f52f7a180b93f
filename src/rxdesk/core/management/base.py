"""Shared plumbing for rxdesk's CLI commands: the audit context and domain errors."""

from __future__ import annotations

import getpass
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from rxdesk.core import context
from rxdesk.core.errors import DomainError


class RxCommand(BaseCommand):
    """A command whose writes are recorded as the operator at the server's shell."""

    def execute(self, *args: Any, **options: Any) -> Any:
        try:
            os_user = getpass.getuser()
        except (KeyError, OSError):
            os_user = "unknown"
        info = context.RequestInfo(
            request_id=context.new_request_id(),
            client_addr=f"cli:{os_user}"[:45],
            channel="cli",
        )
        with context.using(info):
            try:
                return super().execute(*args, **options)
            except DomainError as exc:
                details = "".join(
                    f"\n  {e['field']}: {e['message']}" for e in exc.errors if e.get("field")
                )
                raise CommandError(f"{exc.message}{details}") from None
