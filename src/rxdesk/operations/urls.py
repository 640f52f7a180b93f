from rxdesk.operations.views import home, logs

urlpatterns = [
    *home.urlpatterns,
    *logs.urlpatterns,
]
