from rxdesk.controlled.views import audits, disposal, inventories, ledger, orders, pmp

urlpatterns = [
    *ledger.urlpatterns,
    *orders.urlpatterns,
    *inventories.urlpatterns,
    *audits.urlpatterns,
    *disposal.urlpatterns,
    *pmp.urlpatterns,
]
