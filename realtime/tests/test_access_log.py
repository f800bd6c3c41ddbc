"""`serve --access-log` (ACCESS_LOG=true): a line per request and per socket connect and
disconnect, naming the process, with no secret in it."""

import pytest
import requests

from chatsite.testing import wait_until
from realtime.tests.clients import TIMEOUT

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module", params=["eventlet", "asgi"])
def logged_server(request, chat_server_factory):
    return chat_server_factory(request.param, ACCESS_LOG="true")


def _access_lines(server) -> list[str]:
    text = server.log_path.read_text(errors="replace")
    return [line.split(" realtime.access: ", 1)[1] for line in text.splitlines()
            if " realtime.access: " in line]  # fmt: skip


def test_requests_and_sockets_are_logged_with_the_process_name_and_no_secret(
    logged_server, make_client, alice
):
    name = f"127.0.0.1:{logged_server.port}"  # the default: serve's host:port
    secret_query = "tok3n-in-the-query"
    answer = requests.get(
        f"{logged_server.url}/api/users",
        params={"token": secret_query, "q": "someone"},
        headers={**alice.headers, "Cookie": "jwt=cookie-value"},
        timeout=TIMEOUT,
    )
    assert answer.status_code == 200
    by_query = make_client(logged_server).connect(query=f"token={alice.access}")
    polling = make_client(logged_server).connect(token=alice.access, transports=("polling",))
    sockets = {by_query.sio.get_sid(): "websocket", polling.sio.get_sid(): "polling"}
    polling_session = polling.sio.eio.sid
    by_query.close()
    polling.close()

    def both_disconnects():
        lines = _access_lines(logged_server)
        return (
            lines if all(f"disconnect sid={sid} " in "\n".join(lines) for sid in sockets) else None
        )

    lines = wait_until(both_disconnects, what="the disconnect lines")

    assert f"{name} GET /api/users?token=-&q=- 200 " in "\n".join(lines)
    for sid, transport in sockets.items():
        assert f"{name} socket connect sid={sid} user={alice.id} transport={transport}" in lines
        assert f"{name} socket disconnect sid={sid} user={alice.id}" in lines
    polls = [line for line in lines if f"sid={polling_session}" in line]
    assert polls and all(line.startswith(f"{name} ") for line in lines)
    assert any(line.startswith(f"{name} GET /socket.io/?") for line in polls)
    assert any(line.startswith(f"{name} POST /socket.io/?") for line in polls)
    text = "\n".join(lines)
    for secret in (secret_query, alice.access, "cookie-value"):
        assert secret not in text
