"""``rxdesk export-fhir --out DIR [--site N] [--type T,...] [--since ISO] [--patient ID]``:
the pharmacy's records as FHIR R4.

Whole pharmacy: ``DIR/<Type>.ndjson`` (one resource a line, the Bulk Data format) and
``DIR/manifest.json``. With ``--patient``: ``DIR/patient-<id>.json``, the patient's
``$everything`` Bundle (type ``searchset``, exactly what the API answers). Files are
written mode 0600: they hold PHI. The work is in ``rxdesk.fhir.export``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser

from rxdesk.catalog.management.summary import seconds
from rxdesk.core.management.base import RxCommand
from rxdesk.core.management.progress import ProgressBar, raw
from rxdesk.core.models import Site
from rxdesk.core.services import site_default
from rxdesk.fhir import export
from rxdesk.fhir.outcome import FhirError


class Command(RxCommand):
    help = "Export the pharmacy's records as FHIR R4 NDJSON files, or one patient's Bundle."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--out", required=True, help="the folder to write to (made if new)")
        parser.add_argument("--site", type=int, help="site id (default: the first site)")
        parser.add_argument("--type", help="only these types, comma-separated (e.g. Patient)")
        parser.add_argument(
            "--since",
            help="only records changed since (e.g. 2025-01-31T00:00:00Z); not with --patient",
        )
        parser.add_argument("--patient", help="one patient's record (their id) as a Bundle")
        parser.add_argument(
            "--base",
            default=export.DEFAULT_CLI_BASE,
            help="the server's FHIR base URL for fullUrl in bundles (default %(default)s)",
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bars")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["site"] is not None:
            wanted = options["site"]
            site = Site.objects.filter(pk=wanted).first() if 0 < wanted < 2**63 else None
            if site is None:
                raise CommandError(f"There is no site {options['site']}.")
        else:
            site = site_default()
            if site is None:
                raise CommandError("There is no site yet: run `rxdesk demo` or create one.")
        ctx = export.cli_context(site, None, options["base"])
        out = Path(options["out"])
        if options["patient"] and options["since"]:
            raise CommandError("--since applies to the whole pharmacy, not to --patient.")
        try:
            if options["patient"]:
                path, counts = export.patient_to_file(
                    ctx=ctx,
                    directory=out,
                    fhir_id=options["patient"],
                    type_names=[options["type"]] if options["type"] else None,
                )
                listed = ", ".join(f"{name} {n:,}" for name, n in counts.items())
                self.stdout.write(
                    f"Wrote patient {options['patient']}'s record to {path}: {listed}."
                )
                return
            done = self._export(ctx, out, options)
        except FhirError as exc:
            raise CommandError(exc.diagnostics) from None
        listed = ", ".join(f"{f.resource_type} {f.count:,}" for f in done.files)
        files = len(done.files)
        self.stdout.write(
            f"Wrote {done.resources:,} resource{'s' if done.resources != 1 else ''} "
            f"in {files} file{'s' if files != 1 else ''} to {out} "
            f"in {seconds(done.seconds)}" + (f": {listed}." if listed else ".")
        )

    def _export(self, ctx: Any, out: Path, options: dict[str, Any]) -> export.DirectoryExport:
        bars: dict[str, ProgressBar] = {}

        def show(type_name: str, done: int, total: int) -> None:
            bar = bars.get(type_name)
            if bar is None:
                bar = bars[type_name] = ProgressBar(raw(self.stderr), label=f"{type_name:<18}")
            bar(done, total)
            if done >= total:
                bar.close()

        return export.export_to_directory(
            ctx=ctx,
            directory=out,
            type_names=[options["type"]] if options["type"] else None,
            since=options["since"],
            progress=None if options["no_progress"] else show,
        )
