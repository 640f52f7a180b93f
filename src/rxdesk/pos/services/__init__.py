"""Writes of the point of sale. Importing the package registers every audit action."""

from rxdesk.pos.services import (  # noqa: F401
    accounts,
    common,
    delivery,
    drawers,
    pickup,
    pse,
    returns,
    sales,
)
