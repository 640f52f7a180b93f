"""Inventory services: recalls (being written)."""
