"""Cold-chain screens under /inventory/cold-chain/."""

from __future__ import annotations

from django.urls import path

from rxdesk.inventory.views import coldchain as views

urlpatterns = [
    path("cold-chain/", views.coldchain_dashboard, name="inventory_coldchain"),
    path(
        "cold-chain/units/<int:pk>/reading/",
        views.reading_create,
        name="inventory_coldchain_reading",
    ),
    path(
        "cold-chain/units/<int:pk>/import/",
        views.logger_import,
        name="inventory_coldchain_import",
    ),
    path("cold-chain/units/<int:pk>/log/", views.temperature_log, name="inventory_coldchain_log"),
    path("cold-chain/excursions/", views.excursion_list, name="inventory_coldchain_excursions"),
    path(
        "cold-chain/excursions/<int:pk>/",
        views.excursion_detail,
        name="inventory_coldchain_excursion",
    ),
    path(
        "cold-chain/excursions/<int:pk>/respond/",
        views.excursion_respond,
        name="inventory_coldchain_excursion_respond",
    ),
    path(
        "cold-chain/excursions/<int:pk>/resolve/",
        views.excursion_resolve,
        name="inventory_coldchain_excursion_resolve",
    ),
]
