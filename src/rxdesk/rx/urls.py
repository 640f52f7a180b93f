from django.urls import path

from rxdesk.rx import views

urlpatterns = [
    path("", views.rx_queue, name="rx_queue"),
    path("queue/counts/", views.rx_queue_counts, name="rx_queue_counts"),
    path("new/", views.rx_intake, name="rx_intake"),
    path("transfer-in/", views.rx_transfer_in, name="rx_transfer_in"),
    path("lookup/", views.rx_lookup, name="rx_lookup"),
    path("settings/", views.rx_settings, name="rx_settings"),
    path("scans/", views.rx_image_upload, name="rx_image_upload"),
    path("scans/<int:pk>/", views.rx_image, name="rx_image"),
    path("sig-preview/", views.rx_sig_preview, name="rx_sig_preview"),
    path("find/patients/", views.rx_find_patient, name="rx_find_patient"),
    path("find/prescribers/", views.rx_find_prescriber, name="rx_find_prescriber"),
    path("find/drugs/", views.rx_find_drug, name="rx_find_drug"),
    path("patients/<int:pk>/profile/", views.rx_profile, name="rx_profile"),
    path("<int:pk>/", views.rx_detail, name="rx_detail"),
    path("<int:pk>/refill/", views.rx_refill, name="rx_refill"),
    path("<int:pk>/renewal/", views.rx_renewal_request, name="rx_renewal_request"),
    path("<int:pk>/hold/", views.rx_hold, name="rx_hold"),
    path("<int:pk>/activate/", views.rx_activate, name="rx_activate"),
    path("<int:pk>/inactivate/", views.rx_inactivate, name="rx_inactivate"),
    path("<int:pk>/auto-refill/", views.rx_auto_refill, name="rx_auto_refill"),
    path("<int:pk>/transfer-out/", views.rx_transfer_out, name="rx_transfer_out"),
    path("<int:pk>/fills/<int:fill_pk>/cancel/", views.fill_cancel, name="fill_cancel"),
    path("erx/", views.erx_inbox, name="erx_inbox"),
    path("erx/<int:pk>/", views.erx_message, name="erx_message"),
    path("erx/<int:pk>/resolve/", views.erx_resolve, name="erx_resolve"),
    path("erx/<int:pk>/reject/", views.erx_reject, name="erx_reject"),
]
