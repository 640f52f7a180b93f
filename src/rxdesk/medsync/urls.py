from rxdesk.medsync.views import home

urlpatterns = [
    *home.urlpatterns,
]
