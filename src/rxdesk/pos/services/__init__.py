"""Writes of the point of sale. Importing the package registers every audit action."""

from rxdesk.pos.services import common  # noqa: F401
