"""Services of the vaccine catalog (CVX, MVX, NDC crosswalk, VIS) and vaccine stock by funding
source."""

from __future__ import annotations
