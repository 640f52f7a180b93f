"""The ``rxdesk`` command: Django's manage.py with rxdesk's own commands.

rxdesk demo | serve [--host H --port P] | migrate | user create --username U --role R
rxdesk token create --username U | audit verify | audit head
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv if argv is None else argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rxdesk.settings")
    command = argv[1] if len(argv) > 1 else "help"
    if command in {"demo", "serve"}:
        # A workstation served straight from this process speaks plain HTTP on loopback;
        # put a TLS proxy in front (RXDESK_HTTPS=1) for anything else.
        os.environ.setdefault("RXDESK_HTTPS", "0")
    from django.core.management import execute_from_command_line

    execute_from_command_line(argv)


if __name__ == "__main__":
    main()
