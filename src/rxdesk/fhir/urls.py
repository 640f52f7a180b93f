from django.urls import path

from rxdesk.fhir import views

app_name = "fhir"

urlpatterns = [
    path("", views.root, name="root"),
    path("metadata", views.metadata, name="metadata"),
    path("$export", views.export_kickoff, name="export"),
    path("$export-status/<int:pk>", views.export_status, name="export_status"),
    path("$export-file/<int:pk>/<str:type_name>.ndjson", views.export_file, name="export_file"),
    path("Patient/<str:fhir_id>/$everything", views.everything, name="everything"),
    path("<str:type_name>/_search", views.search_post, name="search"),
    path("<str:type_name>/<str:fhir_id>", views.read, name="read"),
    path("<str:type_name>", views.type_level, name="type"),
]
