"""ASGI entry point: Django and Socket.IO in one application.

    uvicorn chatsite.asgi:application        (or: daphne chatsite.asgi:application)

To mount the chat beside Django Channels consumers, see docs/realtime.md ("ASGI and Channels")."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings")
django_application = get_asgi_application()

from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402

from realtime.asgi import build_socketio_app  # noqa: E402

application = build_socketio_app(ASGIStaticFilesHandler(django_application))
