"""Sign-in, sign-out and failed sign-in go to the audit log whichever door they use
(the login page, the admin, a test client): Django's auth signals are the one place all
of them pass through."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver
from django.utils import timezone

from rxdesk.core.middleware import LAST_SEEN_AT, SIGNED_IN_AT
from rxdesk.core.models import User


@receiver(user_logged_in)
def _signed_in(sender: Any, request: Any, user: User, **kwargs: Any) -> None:
    from rxdesk.core.services import auth_event

    if request is not None and hasattr(request, "session"):
        now = timezone.now().timestamp()
        request.session[SIGNED_IN_AT] = now
        request.session[LAST_SEEN_AT] = now
    auth_event(actor=user, action="auth.signed_in")


@receiver(user_logged_out)
def _signed_out(sender: Any, request: Any, user: User | None, **kwargs: Any) -> None:
    from rxdesk.core.services import auth_event

    if user is not None and not (request and request.session.get("rx_expiring")):
        auth_event(actor=user, action="auth.signed_out")


@receiver(user_login_failed)
def _sign_in_failed(
    sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any
) -> None:
    from rxdesk.core.services import auth_event

    username = str(credentials.get("username", ""))[:150]
    known = User.objects.filter(username=username).select_related("site").first()
    auth_event(
        actor=None,
        action="auth.sign_in_failed",
        username=f"failed:{username}",
        site=known.site if known else None,
    )
