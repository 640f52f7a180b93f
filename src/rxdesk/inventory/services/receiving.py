"""Inventory services: receiving (being written)."""
