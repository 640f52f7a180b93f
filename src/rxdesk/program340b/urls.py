from rxdesk.program340b.views import home, orders, setup

urlpatterns = [
    *home.urlpatterns,
    *setup.urlpatterns,
    *orders.urlpatterns,
]
