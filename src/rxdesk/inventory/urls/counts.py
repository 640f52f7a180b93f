"""Screens of counting and removal: cycle counts, expiring stock, returns to vendor."""

from __future__ import annotations

from django.urls import path

from rxdesk.inventory.views import counts as views

urlpatterns = [
    path("counts/", views.count_list, name="inventory_counts"),
    path("counts/new/", views.count_create, name="inventory_count_create"),
    path("counts/<int:pk>/", views.count_detail, name="inventory_count_detail"),
    path("counts/<int:pk>/record/", views.count_record, name="inventory_count_record"),
    path("counts/<int:pk>/lines/new/", views.count_add_line, name="inventory_count_add_line"),
    path("counts/<int:pk>/submit/", views.count_submit, name="inventory_count_submit"),
    path(
        "counts/<int:pk>/lines/<int:line_pk>/investigate/",
        views.count_investigate,
        name="inventory_count_investigate",
    ),
    path("counts/<int:pk>/approve/", views.count_approve, name="inventory_count_approve"),
    path("counts/<int:pk>/cancel/", views.count_cancel, name="inventory_count_cancel"),
    path("stock/expiring/", views.expiring, name="inventory_expiring"),
    path("stock/expiring.csv", views.expiring_csv, name="inventory_expiring_csv"),
    path(
        "stock/expired-quarantine/",
        views.expired_quarantine,
        name="inventory_expired_quarantine",
    ),
    path("returns/", views.return_list, name="inventory_returns"),
    path("returns/new/", views.return_create, name="inventory_return_create"),
    path("returns/<int:pk>/", views.return_detail, name="inventory_return_detail"),
    path("returns/<int:pk>/ship/", views.return_ship, name="inventory_return_ship"),
    path("returns/<int:pk>/credit/", views.return_credit, name="inventory_return_credit"),
    path("returns/<int:pk>/close/", views.return_close, name="inventory_return_close"),
    path("returns/<int:pk>/custody/", views.return_custody, name="inventory_return_custody"),
]
