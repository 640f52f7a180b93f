from rxdesk.immunizations.views import (
    administer,
    catalog,
    home,
    outreach,
    registry,
)

urlpatterns = [
    *home.urlpatterns,
    *catalog.urlpatterns,
    *administer.urlpatterns,
    *registry.urlpatterns,
    *outreach.urlpatterns,
]
