from rxdesk.reports.views import daily, hub, metrics

urlpatterns = [
    *hub.urlpatterns,
    *daily.urlpatterns,
    *metrics.urlpatterns,
]
