"""Sign-in, second factor, account and the workstation home."""

from __future__ import annotations

import base64
import io
from typing import Any

import qrcode
import qrcode.image.svg
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.http import require_POST
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from rxdesk.core.middleware import mfa_needed
from rxdesk.core.services import auth_event


class SignInView(LoginView):
    template_name = "core/signin.html"
    redirect_authenticated_user = True

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        if mfa_needed(self.request.user):
            target = "mfa_verify" if TOTPDevice.objects.filter(
                user=self.request.user, confirmed=True).exists() else "mfa_enroll"
            return redirect(f"{reverse(target)}?{urlencode({'next': self.get_success_url()})}")
        return response


@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    logout(request)
    messages.info(request, "You are signed out.")
    return redirect("login")


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "core/home.html")


@login_required
def account(request: HttpRequest) -> HttpResponse:
    has_device = TOTPDevice.objects.filter(user=request.user, confirmed=True).exists()
    return render(request, "core/account.html", {"has_device": has_device})


def _next_url(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or "/"
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return "/"
    return target


def _qr_svg(uri: str) -> str:
    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    buf = io.BytesIO()
    image.save(buf)
    return buf.getvalue().decode()


@login_required
def mfa_enroll(request: HttpRequest) -> HttpResponse:
    """Enrol a TOTP authenticator: show the secret as a QR code, confirm with one code."""
    user = request.user
    if TOTPDevice.objects.filter(user=user, confirmed=True).exists() and not user.is_verified():  # type: ignore[union-attr]
        return redirect("mfa_verify")
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)
    error = ""
    if request.method == "POST":
        token = "".join(request.POST.get("code", "").split())
        if token.isdigit() and len(token) == 6 and device.verify_token(token):
            with transaction.atomic():
                device.confirmed = True
                device.save(update_fields=["confirmed"])
                TOTPDevice.objects.filter(user=user, confirmed=False).delete()
            otp_login(request, device)
            auth_event(actor=user, action="auth.mfa_enrolled")  # type: ignore[arg-type]
            messages.success(request, "Your authenticator is set up. You will be asked for a "
                                      "code each time you sign in.")
            return redirect(_next_url(request))
        error = "That code did not match. Check the time on your phone and try the newest code."
    secret_b32 = base64.b32encode(device.bin_key).decode()
    return render(request, "core/mfa_enroll.html", {
        "qr_svg": _qr_svg(device.config_url), "secret": secret_b32, "error": error,
        "next": _next_url(request),
    }, status=422 if error else 200)


@login_required
def mfa_verify(request: HttpRequest) -> HttpResponse:
    """Ask for the authenticator code after the password."""
    user = request.user
    devices = list(TOTPDevice.objects.filter(user=user, confirmed=True))
    if not devices:
        return redirect("mfa_enroll")
    error = ""
    if request.method == "POST":
        token = "".join(request.POST.get("code", "").split())
        device = next((d for d in devices if token.isdigit() and d.verify_token(token)), None)
        if device is not None:
            otp_login(request, device)
            auth_event(actor=user, action="auth.mfa_verified")  # type: ignore[arg-type]
            return redirect(_next_url(request))
        auth_event(actor=user, action="auth.mfa_failed")  # type: ignore[arg-type]
        error = "That code did not match. Try the newest code from your authenticator."
    return render(request, "core/mfa_verify.html", {"error": error, "next": _next_url(request)},
                  status=422 if error else 200)


# --- placeholders: replaced by the full screens --------------------------------------------
def _todo(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    return render(request, "core/home.html")


site_detail = site_edit = staff_list = staff_create = staff_edit = login_required(_todo)
audit_list = audit_export = audit_verify_view = login_required(_todo)
