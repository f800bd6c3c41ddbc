"""A project that already uses Django Channels, mounting the chat's Socket.IO app beside its
own consumer (the example from docs/realtime.md, run by test_channels.py under uvicorn)."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings")

from channels.generic.websocket import WebsocketConsumer
from channels.routing import ProtocolTypeRouter, URLRouter
from django.urls import path, re_path

from chatsite.asgi import application as chat_application


class EchoConsumer(WebsocketConsumer):
    def receive(self, text_data=None, bytes_data=None):
        self.send(text_data=f"echo: {text_data}")


application = ProtocolTypeRouter(
    {
        "http": chat_application,
        "lifespan": chat_application,
        "websocket": URLRouter(
            [
                path("ws/echo/", EchoConsumer.as_asgi()),
                re_path(r"^socket\.io/", chat_application),
            ]
        ),
    }
)
