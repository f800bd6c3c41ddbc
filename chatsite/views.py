"""JSON answers for errors that happen outside DRF views (unknown URLs under /api/, crashes)."""

from django.core.exceptions import RequestDataTooBig
from django.views.defaults import page_not_found, server_error

from chatsite.errors import RequestTooLarge, http_error, json_error


def not_found(request, exception=None):
    if request.path.startswith("/api/"):
        return http_error(404)
    return page_not_found(request, exception)


def internal_error(request):
    if request.path.startswith("/api/"):
        return http_error(500)
    return server_error(request)


def bad_request(request, exception=None):
    if isinstance(exception, RequestDataTooBig):
        error = RequestTooLarge()
        return json_error(error.status, error.code, error.detail)
    return http_error(400)
