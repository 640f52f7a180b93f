from django.urls import path

from rxdesk.core import views

urlpatterns = [
    path("", views.home, name="home"),
    path("signin/", views.SignInView.as_view(), name="login"),
    path("signout/", views.sign_out, name="logout"),
    path("account/", views.account, name="account"),
    path("account/mfa/enroll/", views.mfa_enroll, name="mfa_enroll"),
    path("account/mfa/verify/", views.mfa_verify, name="mfa_verify"),
    path("account/pharmacy/", views.site_switch, name="site_switch"),
]

urlpatterns += [
    path("site/", views.site_detail, name="site_detail"),
    path("site/edit/", views.site_edit, name="site_edit"),
    path("staff/", views.staff_list, name="staff_list"),
    path("staff/new/", views.staff_create, name="staff_create"),
    path("staff/<int:pk>/", views.staff_edit, name="staff_edit"),
    path("staff/visiting/", views.site_assignment_list, name="site_assignments"),
    path("audit/", views.audit_list, name="audit_list"),
    path("audit/export.csv", views.audit_export, name="audit_export"),
    path("audit/verify/", views.audit_verify_view, name="audit_verify"),
]
