"""Catalog writes: imports, flags, prices (see the issue: drug catalog)."""
