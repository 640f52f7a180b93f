"""Inventory services: ordering (being written)."""
