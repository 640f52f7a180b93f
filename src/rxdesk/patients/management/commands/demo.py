from __future__ import annotations

from typing import Any

from django.core.management import call_command
from django.core.management.base import CommandParser

from rxdesk.catalog.models import Package, Product
from rxdesk.claims.demo import demo_claims_bill, payer_port, start_demo_payer
from rxdesk.core.management.base import RxCommand
from rxdesk.demo import DEMO_PASSWORD, DEMO_USERS, demo_load
from rxdesk.immunizations.demo import demo_registry_send, iis_port, start_demo_registry


class Command(RxCommand):
    help = "Migrate, load the demo pharmacy (once) and serve it on http://127.0.0.1:8000."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--no-serve", action="store_true", help="load only, do not serve")
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        self.stdout.write("Database ready. Loading the demo pharmacy…")
        site = demo_load()
        self.stdout.write(self.style.SUCCESS(f"Demo pharmacy: {site.name}"))
        products = Product.objects.filter(active=True).count()
        packages = Package.objects.filter(active=True).count()
        self.stdout.write(
            f"Drug catalog: {products:,} products, {packages:,} packages. Load the full FDA "
            "NDC Directory with: rxdesk import-ndc product.txt package.txt"
        )
        self.stdout.write(f"\nSign in at http://{options['host']}:{options['port']}/ as:")
        width = max(len(u.username) for u in DEMO_USERS)
        for u in DEMO_USERS:
            self.stdout.write(f"  {u.username.ljust(width)}  {u.role.label}")
        self.stdout.write(f"All demo accounts use the password: {DEMO_PASSWORD}\n")
        # Claims go over TCP to the test payer, a separate process on loopback.
        payer = start_demo_payer(site)
        if payer is None:
            self.stdout.write(
                f"Test payer: port {payer_port()} is taken or it did not start; claims wait "
                "in the outbox until a payer answers there."
            )
        else:
            self.stdout.write(f"Test payer (claims switch) on 127.0.0.1:{payer_port()}.")
        self.stdout.write(demo_claims_bill(site))
        # Immunizations go over MLLP to the test registry, another process on loopback.
        registry = start_demo_registry()
        if registry is None:
            self.stdout.write(
                f"Test registry: port {iis_port()} is taken or it did not start; VXU messages "
                "wait in the registry queue."
            )
        else:
            self.stdout.write(f"Test registry (state IIS) on 127.0.0.1:{iis_port()}.")
            self.stdout.write(f"Registry: {demo_registry_send(site)}")
        try:
            if not options["no_serve"]:
                call_command("serve", host=options["host"], port=options["port"])
        finally:
            for child in (payer, registry):
                if child is not None:
                    child.terminate()
                    child.wait(10)
