"""WSGI entry point for application servers. It refuses to start on database settings
that can lose saved records in a crash (rxdesk.core.dbsafety)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rxdesk.settings")
application = get_wsgi_application()

from rxdesk.core.dbsafety import refuse_if_unsafe  # noqa: E402  (needs the apps loaded)

refuse_if_unsafe()
