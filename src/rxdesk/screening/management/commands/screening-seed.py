"""``rxdesk screening-seed``: the dashed spelling of ``screening_seed``."""

from rxdesk.screening.management.commands.screening_seed import Command

__all__ = ["Command"]
