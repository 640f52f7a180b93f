from rxdesk.care.views import (
    counsel,
    home,
    inquiries,
    medrec,
    poct,
    quality,
)

urlpatterns = [
    *home.urlpatterns,
    *medrec.urlpatterns,
    *counsel.urlpatterns,
    *quality.urlpatterns,
    *inquiries.urlpatterns,
    *poct.urlpatterns,
]
