"""Inventory services: coldchain (being written)."""
