"""WSGI entry point for Django alone. `manage.py serve` wraps it with Socket.IO
(see realtime/server.py); use this one only behind a separate Socket.IO process."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings")
application = get_wsgi_application()
