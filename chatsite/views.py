"""JSON answers for errors that happen outside DRF views (unknown URLs under /api/, crashes)."""

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.views.defaults import page_not_found, server_error

from chatsite.errors import json_error


def not_found(request, exception=None):
    if request.path.startswith("/api/"):
        return json_error(404, "not_found", "Not found.")
    return page_not_found(request, exception)


def internal_error(request):
    if request.path.startswith("/api/"):
        return json_error(500, "internal_error", "Internal server error.")
    return server_error(request)


def bad_request(request, exception=None):
    if isinstance(exception, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return json_error(
            413, "request_too_large", f"The request body is larger than {limit} bytes."
        )
    return json_error(400, "bad_request", "Bad request.")
