"""Services of Patients due for vaccines by age and history."""

from __future__ import annotations
