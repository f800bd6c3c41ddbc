"""Size limits: a packet over REALTIME_MAX_PACKET_BYTES (64 KiB here) closes its connection and
nothing else; a message over MESSAGE_MAX_LENGTH inside a packet under it gets an error ack."""

import json
import threading
import time

import pytest
import requests
import websocket
from django.conf import settings

from realtime.tests.clients import TIMEOUT

pytestmark = pytest.mark.django_db(transaction=True)

PACKET_LIMIT = settings.REALTIME["MAX_HTTP_BUFFER_SIZE"]
MAX_LENGTH = settings.CHAT["MESSAGE_MAX_LENGTH"]


def _assert_still_serving(connect, api, sender, receiver) -> None:
    """Others keep their connections, and the server answers events and new connections."""
    receiver_socket = connect(receiver)
    ack = connect(sender).call("sendMessage", {"to": receiver.id, "message": "still served"})
    assert ack["ok"] is True
    assert receiver_socket.wait_for("newMessage") == ack["message"]
    assert ack["message"]["seq"] == 1  # the refused packet stored nothing


def test_a_long_message_in_a_packet_under_the_limit_gets_message_too_long(connect, alice, bob):
    body = "x" * (PACKET_LIMIT - 1000)
    assert len(body) > MAX_LENGTH
    sender, receiver = connect(alice), connect(bob)

    ack = sender.call("sendMessage", {"to": bob.id, "message": body})

    assert ack["ok"] is False
    assert ack["error"]["code"] == "message_too_long"
    assert sender.connected
    good = sender.call("sendMessage", {"to": bob.id, "message": "short"})
    assert good["ok"] is True
    assert receiver.wait_for("newMessage") == good["message"]


def test_an_oversized_packet_closes_only_its_connection(connect, api, alice, bob, carol):
    bystander = connect(carol)
    receiver = connect(bob)
    sender = connect(alice)

    sender.sio.emit("sendMessage", {"to": bob.id, "message": "x" * (PACKET_LIMIT + 1)})

    sender.wait_disconnected()
    assert not sender.connected
    assert bystander.connected and receiver.connected
    receiver.barrier()
    assert receiver.received("newMessage") == []
    _assert_still_serving(connect, api, alice, bob)
    assert api.get(bob, f"/api/messages/{alice.id}") == receiver.received("newMessage")


@pytest.mark.parametrize("poll_pending", [True, False], ids=["poll-pending", "between-polls"])
def test_an_oversized_long_polling_post_closes_the_session(
    chat_server, connect, api, alice, bob, poll_pending
):
    """Long-polling, as browsers start: the POST is answered 400 at once and the session ends
    (a pending poll gets Engine.IO CLOSE, or the next poll is refused), whether or not the
    client had a poll pending when it posted."""
    polling = f"{chat_server.url}/socket.io/?EIO=4&transport=polling"
    http = requests.Session()
    handshake = http.get(polling, timeout=TIMEOUT)
    session = f"{polling}&sid={json.loads(handshake.text[1:])['sid']}"
    connected = http.post(session, data="40" + json.dumps({"token": alice.access}), timeout=TIMEOUT)
    assert connected.status_code == 200
    assert "40{" in http.get(session, timeout=TIMEOUT).text  # Socket.IO CONNECT answered
    oversized = "42" + json.dumps(["sendMessage", {"to": bob.id, "message": "x" * PACKET_LIMIT}])
    polls = []

    def poll_until_the_session_ends():
        while True:
            answer = http.get(session, timeout=TIMEOUT)
            polls.append(answer)
            if answer.status_code != 200 or "1" in answer.text.split("\x1e"):
                return

    poller = threading.Thread(target=poll_until_the_session_ends)
    if poll_pending:
        poller.start()
        # Nothing a client can see says that its long-poll is waiting at the server, so this
        # pause stays. A poll that came late would find the session gone (the same 400): the
        # test would pass without the pending case, never fail because of it.
        time.sleep(0.2)
    refused = requests.post(session, data=oversized, timeout=TIMEOUT)
    if not poll_pending:
        poller.start()
    poller.join(TIMEOUT)

    assert refused.status_code == 400
    assert not poller.is_alive()
    assert polls[-1].status_code == 400 or polls[-1].text.split("\x1e")[-1] == "1"
    assert http.get(session, timeout=TIMEOUT).status_code == 400  # the session is gone
    _assert_still_serving(connect, api, alice, bob)


def test_the_limit_counts_bytes_not_characters(
    chat_server, make_raw_socket, connect, api, alice, bob
):
    tab = make_raw_socket(chat_server).connect(alice.access)
    body = "é" * (PACKET_LIMIT // 2 + 100)  # fewer characters than the limit, more bytes
    packet = "42" + json.dumps(["sendMessage", {"to": bob.id, "message": body}], ensure_ascii=False)
    assert len(packet) < PACKET_LIMIT < len(packet.encode())

    tab.send_text(packet)

    assert tab.closed.wait(TIMEOUT)
    _assert_still_serving(connect, api, alice, bob)


def test_an_oversized_frame_is_refused_before_it_is_all_received(
    chat_server, make_raw_socket, connect, api, alice, bob
):
    """The server must not buffer a huge packet to find out it is too big."""
    tab = make_raw_socket(chat_server).connect(alice.access)
    packet = "42" + json.dumps(["sendMessage", {"to": bob.id, "message": "x" * 4 * PACKET_LIMIT}])

    tab.send_text(packet, withhold=PACKET_LIMIT)  # 3 limits' worth arrive, the rest never does

    assert tab.closed.wait(TIMEOUT)
    _assert_still_serving(connect, api, alice, bob)


def test_an_oversized_message_in_small_frames_is_refused_before_it_is_all_received(
    chat_server, make_raw_socket, connect, api, alice, bob
):
    """Each frame is under the limit; the message they add up to is not."""
    tab = make_raw_socket(chat_server).connect(alice.access)
    packet = "42" + json.dumps(["sendMessage", {"to": bob.id, "message": "x" * 4 * PACKET_LIMIT}])
    frames = [packet[i : i + PACKET_LIMIT // 4] for i in range(0, len(packet), PACKET_LIMIT // 4)]

    for number, frame in enumerate(frames[:-1]):  # the final frame never comes
        opcode = websocket.ABNF.OPCODE_CONT if number else websocket.ABNF.OPCODE_TEXT
        try:
            tab.ws.send_frame(websocket.ABNF.create_frame(frame, opcode, fin=0))
        except (websocket.WebSocketException, OSError):
            break  # the server has closed the connection already

    assert tab.closed.wait(TIMEOUT)
    _assert_still_serving(connect, api, alice, bob)


def test_websockets_are_accepted_without_compression(chat_server):
    """Browsers offer permessage-deflate; the server declines it (each socket's zlib streams
    would hold ~90 KB) and the connection works uncompressed."""
    url = chat_server.url.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket"
    offer = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits"
    ws = websocket.create_connection(url, timeout=TIMEOUT, header=[offer])
    try:
        assert "sec-websocket-extensions" not in {k.lower() for k in ws.getheaders()}
        assert ws.recv().startswith("0")  # Engine.IO OPEN, readable as it is
        ws.send("40")  # Socket.IO CONNECT without a token
        assert ws.recv().startswith("44")  # CONNECT_ERROR: refused, uncompressed
    finally:
        ws.close()
