from rxdesk.institutional.views import (
    cabinets,
    census,
    cycles,
    discrepancies,
    feeds,
    home,
    packaging,
)

urlpatterns = [
    *home.urlpatterns,
    *census.urlpatterns,
    *cycles.urlpatterns,
    *packaging.urlpatterns,
    *cabinets.urlpatterns,
    *feeds.urlpatterns,
    *discrepancies.urlpatterns,
]
