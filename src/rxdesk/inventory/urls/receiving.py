"""Screens of ordering and receiving (under /inventory/): deliveries, purchase orders and
suggested orders, suppliers, par levels and discrepancies."""

from __future__ import annotations

from django.urls import path

from rxdesk.inventory.views import receiving as views

urlpatterns = [
    # Deliveries
    path("receipts/", views.receipt_list, name="inventory_receipts"),
    path("receipts/new/", views.receipt_create, name="inventory_receipt_create"),
    path("receipts/<int:pk>/", views.receipt_detail, name="inventory_receipt"),
    path("receipts/<int:pk>/scan/", views.receipt_scan, name="inventory_receipt_scan"),
    path("receipts/<int:pk>/edit/", views.receipt_edit, name="inventory_receipt_edit"),
    path("receipts/<int:pk>/import/", views.receipt_import, name="inventory_receipt_import"),
    path("receipts/<int:pk>/post/", views.receipt_post, name="inventory_receipt_post"),
    path(
        "receipts/<int:pk>/discrepancies/new/",
        views.receipt_discrepancy_add,
        name="inventory_receipt_discrepancy_add",
    ),
    path(
        "receipts/<int:pk>/lines/<int:line_pk>/",
        views.receipt_line_edit,
        name="inventory_receipt_line_edit",
    ),
    path(
        "receipts/<int:pk>/lines/<int:line_pk>/remove/",
        views.receipt_line_remove,
        name="inventory_receipt_line_remove",
    ),
    # Orders
    path("orders/", views.purchase_order_list, name="inventory_purchase_orders"),
    path("orders/new/", views.purchase_order_create, name="inventory_purchase_order_create"),
    path("orders/suggestions/", views.order_suggestions, name="inventory_order_suggestions"),
    path(
        "orders/from-suggestions/",
        views.purchase_order_from_suggestions,
        name="inventory_purchase_order_from_suggestions",
    ),
    path("orders/<int:pk>/", views.purchase_order_detail, name="inventory_purchase_order"),
    path(
        "orders/<int:pk>/lines/add/",
        views.purchase_order_line_add,
        name="inventory_purchase_order_line_add",
    ),
    path(
        "orders/<int:pk>/lines/<int:line_pk>/",
        views.purchase_order_line_edit,
        name="inventory_purchase_order_line_edit",
    ),
    path(
        "orders/<int:pk>/lines/<int:line_pk>/remove/",
        views.purchase_order_line_remove,
        name="inventory_purchase_order_line_remove",
    ),
    path("orders/<int:pk>/send/", views.purchase_order_send, name="inventory_purchase_order_send"),
    path(
        "orders/<int:pk>/close/", views.purchase_order_close, name="inventory_purchase_order_close"
    ),
    path(
        "orders/<int:pk>/cancel/",
        views.purchase_order_cancel,
        name="inventory_purchase_order_cancel",
    ),
    path(
        "orders/<int:pk>/order-file/",
        views.purchase_order_file,
        name="inventory_purchase_order_file",
    ),
    # Suppliers and par levels
    path("suppliers/", views.supplier_list, name="inventory_suppliers"),
    path("suppliers/new/", views.supplier_create, name="inventory_supplier_create"),
    path("suppliers/<int:pk>/edit/", views.supplier_edit, name="inventory_supplier_edit"),
    path("par-levels/", views.par_level_list, name="inventory_par_levels"),
    path("par-levels/set/", views.par_level_set, name="inventory_par_level_set"),
    # Discrepancies
    path("discrepancies/", views.discrepancy_list, name="inventory_discrepancies"),
    path("discrepancies/<int:pk>/", views.discrepancy_detail, name="inventory_discrepancy"),
]
