from rxdesk.screening.views import urlpatterns

__all__ = ["urlpatterns"]
