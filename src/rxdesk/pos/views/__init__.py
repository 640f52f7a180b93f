"""The point-of-sale screens, one module per part of the counter."""
