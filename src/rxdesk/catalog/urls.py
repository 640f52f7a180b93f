from django.urls import path

from rxdesk.catalog import views

urlpatterns = [
    path("", views.catalog_search, name="catalog_search"),
    path("scan/", views.catalog_scan, name="catalog_scan"),
    path("products/<int:pk>/", views.product_detail, name="catalog_product"),
    path("products/<int:pk>/flags/", views.product_flags, name="catalog_product_flags"),
]
