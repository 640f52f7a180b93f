from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from rxdesk.core.management.base import RxCommand
from rxdesk.core.models import User
from rxdesk.core.services import token_create


class Command(RxCommand):
    help = "API tokens: `rxdesk token create --username U` prints a new token once."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="Create a token acting as a user")
        create.add_argument("--username", required=True)
        create.add_argument("--name", default="", help="what the token is for")

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"No user named {options['username']!r}.")
        _token, secret = token_create(actor=None, user=user, name=options["name"])
        self.stderr.write(
            f"New API token for {user.username} ({user.role_label}). It is shown only once; "
            "send it as 'Authorization: Bearer <token>'."
        )
        self.stdout.write(secret)
