from rxdesk.claims.views import billing, pa, plans, rejects, reports

urlpatterns = [
    *billing.urlpatterns,
    *rejects.urlpatterns,
    *pa.urlpatterns,
    *plans.urlpatterns,
    *reports.urlpatterns,
]
