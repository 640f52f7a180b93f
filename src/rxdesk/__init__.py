"""rxdesk — an open-source pharmacy information system."""

__version__ = "0.1.0"
