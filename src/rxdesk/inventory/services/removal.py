"""Inventory services: removal (being written)."""
