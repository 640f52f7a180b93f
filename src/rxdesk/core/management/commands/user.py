from __future__ import annotations

import getpass
import os
from typing import Any

from django.core.management.base import CommandError, CommandParser

from rxdesk.core.choices import Role
from rxdesk.core.management.base import RxCommand
from rxdesk.core.models import Site
from rxdesk.core.services import site_create, staff_create


class Command(RxCommand):
    help = "Manage staff accounts: `rxdesk user create --username U --role ROLE`."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="Create a staff account")
        create.add_argument("--username", required=True)
        create.add_argument("--role", required=True, choices=Role.values)
        create.add_argument("--first-name", default="")
        create.add_argument("--last-name", default="")
        create.add_argument("--email", default="")
        create.add_argument("--site", type=int, help="site id (default: the only site)")

    def handle(self, *args: Any, **options: Any) -> None:
        site = self._site(options["site"])
        password = os.environ.get("RXDESK_PASSWORD")
        if not password:
            password = getpass.getpass("Password: ")
            if password != getpass.getpass("Password (again): "):
                raise CommandError("The two passwords differ; nothing was created.")
        user = staff_create(
            actor=None,
            site=site,
            username=options["username"],
            role=options["role"],
            password=password,
            first_name=options["first_name"],
            last_name=options["last_name"],
            email=options["email"],
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"Created {user.role_label.lower()} {user.username!r} at {site.name}."
            )
        )

    def _site(self, site_id: int | None) -> Site:
        if site_id is not None:
            site = Site.objects.filter(pk=site_id).first()
            if site is None:
                raise CommandError(f"There is no site {site_id}.")
            return site
        sites = list(Site.objects.order_by("pk")[:2])
        if len(sites) > 1:
            raise CommandError("There are several sites; say which with --site ID.")
        if sites:
            return sites[0]
        site = site_create(actor=None, name="My pharmacy")
        self.stdout.write(
            "No pharmacy was set up yet: created site 'My pharmacy'. Fill in its NCPDP ID, NPI, "
            "DEA registration and address under Site once you sign in."
        )
        return site
