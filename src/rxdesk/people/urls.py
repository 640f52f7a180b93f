from rxdesk.people.views import home

urlpatterns = [
    *home.urlpatterns,
]
