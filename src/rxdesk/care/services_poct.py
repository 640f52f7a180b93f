"""Services of Point-of-care tests (CLIA-waived) and the site's testing settings."""

from __future__ import annotations
