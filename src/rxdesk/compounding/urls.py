from rxdesk.compounding.views import (
    bud,
    calc,
    cleanroom,
    competency,
    formulas,
    hd,
    home,
    records,
)

urlpatterns = [
    *home.urlpatterns,
    *bud.urlpatterns,
    *calc.urlpatterns,
    *formulas.urlpatterns,
    *records.urlpatterns,
    *cleanroom.urlpatterns,
    *competency.urlpatterns,
    *hd.urlpatterns,
]
