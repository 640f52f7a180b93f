from django.urls import path

from rxdesk.patients import views

urlpatterns = [
    path("", views.patient_list, name="patient_list"),
    path("new/", views.patient_create, name="patient_create"),
    path("<int:pk>/", views.patient_detail, name="patient_detail"),
    path("<int:pk>/edit/", views.patient_edit, name="patient_edit"),
    path("<int:pk>/allergies/add/", views.allergy_add, name="allergy_add"),
    path(
        "<int:pk>/allergies/<int:allergy_pk>/remove/", views.allergy_remove, name="allergy_remove"
    ),
    path("<int:pk>/allergies/none/", views.allergies_none, name="allergies_none"),
    path("<int:pk>/conditions/add/", views.condition_add, name="condition_add"),
    path(
        "<int:pk>/conditions/<int:condition_pk>/resolve/",
        views.condition_resolve,
        name="condition_resolve",
    ),
    path("<int:pk>/measurements/add/", views.measurement_add, name="measurement_add"),
    path("<int:pk>/coverages/add/", views.coverage_add, name="coverage_add"),
    path("<int:pk>/coverages/<int:coverage_pk>/end/", views.coverage_end, name="coverage_end"),
    path("<int:pk>/identifiers/add/", views.identifier_add, name="identifier_add"),
]
