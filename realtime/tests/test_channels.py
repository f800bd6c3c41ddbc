"""The Socket.IO app inside a Django Channels ProtocolTypeRouter, next to a plain consumer."""

import os
import subprocess
import sys
import time

import pytest
import requests
import websocket

from accounts import services as account_services
from chatsite.embedded_db import free_port
from chatsite.testing import ARTIFACTS, BASE_DIR, _database_name
from realtime.tests.clients import ChatClient


@pytest.fixture(scope="module")
def channels_server(django_db_setup):
    port = free_port()
    env = {**os.environ, "MONGODB_NAME": _database_name(), "PYTHONUNBUFFERED": "1"}
    log = open(ARTIFACTS / f"channels-{port}.log", "ab")  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "realtime.tests.channels_app:application",
         "--host", "127.0.0.1", "--port", str(port), "--lifespan", "on"],
        cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            requests.get(url + "/healthz", timeout=1)
            break
        except requests.ConnectionError:
            time.sleep(0.1)
    yield url
    process.terminate()
    process.wait(20)


@pytest.mark.django_db
def test_socketio_and_a_channels_consumer_share_one_asgi_app(channels_server):
    ws = websocket.create_connection(channels_server.replace("http", "ws") + "/ws/echo/")
    ws.send("ping")
    assert ws.recv() == "echo: ping"
    ws.close()

    alice = account_services.user_create(username="alice", full_name="Alice", password="pw-1x")
    bob = account_services.user_create(username="bob", full_name="Bob", password="pw-1x")
    alice_tokens = account_services.tokens_issue(user=alice)
    bob_tokens = account_services.tokens_issue(user=bob)
    receiver = ChatClient(channels_server).connect(token=bob_tokens["access"])
    try:
        response = requests.post(
            f"{channels_server}/api/messages/send/{bob.pk}",
            json={"message": "through channels"},
            headers={"Authorization": f"Bearer {alice_tokens['access']}"},
            timeout=10,
        )
        assert response.status_code == 201
        assert receiver.wait_for("newMessage")["message"] == "through channels"
    finally:
        receiver.close()
