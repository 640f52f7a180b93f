from django.urls import path

from rxdesk.patients import views

urlpatterns = [
    path("", views.prescriber_list, name="prescriber_list"),
    path("new/", views.prescriber_create, name="prescriber_create"),
    path("<int:pk>/", views.prescriber_detail, name="prescriber_detail"),
    path("<int:pk>/edit/", views.prescriber_edit, name="prescriber_edit"),
    path("<int:pk>/addresses/add/", views.prescriber_address_add, name="prescriber_address_add"),
]
