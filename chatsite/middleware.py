from django.conf import settings

# The demo page loads scripts only from our own origin and runs none inline; the Socket.IO
# connection goes back to the same origin (ws/wss). drf-spectacular's docs UI and the admin
# need inline styles, which the policy allows; inline scripts are never allowed.
POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; media-src 'self' data:; connect-src 'self' ws: wss:; "
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
