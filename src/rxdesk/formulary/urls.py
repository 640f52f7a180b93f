from rxdesk.formulary.views import home

urlpatterns = [
    *home.urlpatterns,
]
