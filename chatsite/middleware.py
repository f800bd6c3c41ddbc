from django.conf import settings
from rest_framework.response import Response

from chatsite.errors import http_error

# The demo page loads scripts only from our own origin and runs none inline; the Socket.IO
# connection goes back to the same origin (ws/wss). drf-spectacular's docs UI and the admin
# need inline styles, which the policy allows; inline scripts are never allowed. Images may be
# blob: URLs: the demo page previews the files being attached from the picked files themselves
# (attachments already sent load from their own URLs, with the session cookie).
POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; media-src 'self' data:; connect-src 'self' ws: wss:; "
    "font-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'; "
    "form-action 'self'"
)


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", POLICY)
        if settings.DEBUG is False:
            response.headers.setdefault("Referrer-Policy", "same-origin")
        return response


class ApiErrorMiddleware:
    """Every error under /api/ answers the documented JSON shape, whatever DEBUG is.

    With DEBUG on, Django answers an unknown URL, a `Host` not in ALLOWED_HOSTS and a crash
    with its debug page (HTML, with the traceback and the settings) instead of the handlers in
    chatsite/views.py: a page API clients cannot parse. Answers of DRF views are
    left as they are: JSON already, or the browsable API's page for a browser that asked for
    HTML. Placed before CommonMiddleware, which is where a bad `Host` is refused."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            response.status_code >= 400
            and request.path.startswith("/api/")
            and not isinstance(response, Response)
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            return http_error(response.status_code)
        return response
