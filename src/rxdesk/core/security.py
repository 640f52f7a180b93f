"""Browser security headers that Django does not send by itself.

Content-Security-Policy: pages load scripts, styles and images from this server only; no
inline script, no inline style, no plugins, no framing by other sites. Permissions-Policy:
no page uses the camera, the microphone or the location.

The middleware sits just after SecurityMiddleware and before WhiteNoise, so static files get
the same headers as pages. Two narrow exceptions, both chosen by the response, not the path:

* a response that allows same-origin framing (``@xframe_options_sameorigin``: the label
  preview and the scanned prescription, shown in an iframe beside a form) gets
  ``frame-ancestors 'self'`` instead of ``'none'``;
* the API's Swagger page (/api/v1/docs, served from django-ninja's own static files)
  sets ``style-src 'self' 'unsafe-inline'``: Swagger UI writes style attributes into its
  markup. Scripts stay ``'self'`` only.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

CSP_DIRECTIVES: dict[str, str] = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}

PERMISSIONS_POLICY = (
    "camera=(), microphone=(), geolocation=(), payment=(), usb=(), serial=(), bluetooth=()"
)

# Swagger UI sets style attributes from its own script; only that page may use them.
_RELAXED_STYLE_PATHS = ("/api/v1/docs",)


def content_security_policy(*, frame_ancestors: str = "'none'", inline_styles: bool = False) -> str:
    directives = dict(CSP_DIRECTIVES, **{"frame-ancestors": frame_ancestors})
    if inline_styles:
        directives["style-src"] = "'self' 'unsafe-inline'"
    return "; ".join(f"{name} {value}" for name, value in directives.items())


def _is_pdf(response: HttpResponse) -> bool:
    return response.get("Content-Type", "").startswith("application/pdf")


class SecurityHeadersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        # Inner middleware (XFrameOptionsMiddleware) and view decorators have run by now.
        same_origin = response.get("X-Frame-Options", "").upper() == "SAMEORIGIN"
        if "Content-Security-Policy" not in response and _is_pdf(response):
            # A PDF (label, report, receipt) is shown by the browser's PDF viewer, which a
            # policy's object-src 'none' would block; it keeps only the framing rule.
            frame = "'self'" if same_origin else "'none'"
            response["Content-Security-Policy"] = f"frame-ancestors {frame}"
        elif "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = content_security_policy(
                frame_ancestors="'self'" if same_origin else "'none'",
                inline_styles=request.path.startswith(_RELAXED_STYLE_PATHS),
            )
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        # WhiteNoise answers static files before XFrameOptionsMiddleware is reached.
        if not getattr(response, "xframe_options_exempt", False):
            response.headers.setdefault("X-Frame-Options", settings.X_FRAME_OPTIONS)
        return response
