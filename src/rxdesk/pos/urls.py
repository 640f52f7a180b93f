from rxdesk.pos.views import counter, pickup, pse, sales

urlpatterns = [*counter.urlpatterns, *sales.urlpatterns, *pse.urlpatterns, *pickup.urlpatterns]
