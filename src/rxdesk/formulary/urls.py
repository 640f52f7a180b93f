from rxdesk.formulary.views import home, protocols, rx

urlpatterns = [
    *home.urlpatterns,
    *protocols.urlpatterns,
    *rx.urlpatterns,
]
