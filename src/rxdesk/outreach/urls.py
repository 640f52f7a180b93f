from rxdesk.outreach.views import home

urlpatterns = [
    *home.urlpatterns,
]
