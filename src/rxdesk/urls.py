from django.urls import include, path

from rxdesk.api import api
from rxdesk.fhir import views as fhir_views

urlpatterns = [
    path("", include("rxdesk.core.urls")),
    path("patients/", include("rxdesk.patients.urls")),
    path("prescribers/", include("rxdesk.patients.urls_prescribers")),
    path("catalog/", include("rxdesk.catalog.urls")),
    path("inventory/", include("rxdesk.inventory.urls")),
    path("rx/", include("rxdesk.rx.urls")),
    path("pos/", include("rxdesk.pos.urls")),
    path("screening/", include("rxdesk.screening.urls")),
    path("claims/", include("rxdesk.claims.urls")),
    path("controlled/", include("rxdesk.controlled.urls")),
    path("compounding/", include("rxdesk.compounding.urls")),
    path("institutional/", include("rxdesk.institutional.urls")),
    path("immunizations/", include("rxdesk.immunizations.urls")),
    path("care/", include("rxdesk.care.urls")),
    path("people/", include("rxdesk.people.urls")),
    path("operations/", include("rxdesk.operations.urls")),
    path("reports/", include("rxdesk.reports.urls")),
    path("340b/", include("rxdesk.program340b.urls")),
    path("sync/", include("rxdesk.medsync.urls")),
    path("formulary/", include("rxdesk.formulary.urls")),
    path("outreach/", include("rxdesk.outreach.urls")),
    # The FHIR base is /fhir; a transaction Bundle may be POSTed with or without the slash.
    path("fhir", fhir_views.root),
    path("fhir/", include("rxdesk.fhir.urls")),
    path("api/v1/", api.urls),
]
