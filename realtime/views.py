from django.db import connection
from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from pymongo.errors import PyMongoError


@never_cache
def health(request):
    """Liveness and database reachability, for load balancers and the test harness."""
    try:
        connection.ensure_connection()
        connection.connection.admin.command("ping")
    except PyMongoError:
        return JsonResponse({"status": "degraded", "database": "unavailable"}, status=503)
    return JsonResponse({"status": "ok"})


def chat_page(request):
    """The demo chat page (plain JavaScript in static/chat/)."""
    return render(request, "chat.html")
