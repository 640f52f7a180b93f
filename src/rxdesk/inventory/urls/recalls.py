"""Recall screens under /inventory/recalls/."""

from __future__ import annotations

from django.urls import path

from rxdesk.inventory.views import recalls as views

urlpatterns = [
    path("recalls/", views.recall_list, name="inventory_recalls"),
    path("recalls/new/", views.recall_create, name="inventory_recall_create"),
    path("recalls/import/", views.recall_import, name="inventory_recall_import"),
    path("recalls/<int:pk>/", views.recall_detail, name="inventory_recall_detail"),
    path("recalls/<int:pk>/letters/", views.recall_letters, name="inventory_recall_letters"),
    path(
        "recalls/<int:pk>/stock/<int:stock_pk>/resolve/",
        views.recall_stock_resolve,
        name="inventory_recall_resolve",
    ),
    path("recalls/<int:pk>/close/", views.recall_close, name="inventory_recall_close"),
]
