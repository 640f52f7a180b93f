from rxdesk.operations.views import home

urlpatterns = [
    *home.urlpatterns,
]
