from rxdesk.program340b.views import home

urlpatterns = [
    *home.urlpatterns,
]
