"""Screens of stock on the shelf, storage locations and transfers (under /inventory/)."""

from __future__ import annotations

from django.urls import path

from rxdesk.inventory.views import stock as views

urlpatterns = [
    path("", views.stock_list, name="inventory_stock"),
    path("stock/receive/", views.stock_receive, name="inventory_stock_receive"),
    path("stock/<int:pk>/", views.balance_detail, name="inventory_balance"),
    path("stock/<int:pk>/adjust/", views.balance_adjust, name="inventory_balance_adjust"),
    path("stock/<int:pk>/status/", views.balance_status, name="inventory_balance_status"),
    path("stock/<int:pk>/relocate/", views.balance_relocate, name="inventory_balance_relocate"),
    path("packages/<int:pk>/", views.package_stock, name="inventory_package_stock"),
    path("locations/", views.location_list, name="inventory_locations"),
    path("locations/new/", views.location_create, name="inventory_location_create"),
    path("locations/<int:pk>/edit/", views.location_edit, name="inventory_location_edit"),
    path("transfers/", views.transfer_list, name="inventory_transfers"),
    path("transfers/new/", views.transfer_create, name="inventory_transfer_create"),
    path("transfers/<int:pk>/", views.transfer_detail, name="inventory_transfer_detail"),
    path("transfers/<int:pk>/receive/", views.transfer_receive, name="inventory_transfer_receive"),
]
