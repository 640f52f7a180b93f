"""Inventory services: counts (being written)."""
