"""Attachments over a real server: uploaded over HTTP (multipart), sent with `sendMessage`,
delivered to the other participant's socket in `newMessage` and downloadable by them."""

import io

import pytest
import requests
from PIL import Image

from realtime.tests.clients import TIMEOUT

pytestmark = pytest.mark.django_db(transaction=True)


def upload(chat_server, person, name: str, data: bytes) -> dict:
    response = requests.post(
        f"{chat_server.url}/api/attachments",
        files={"file": (name, data, "application/octet-stream")},
        headers=person.headers,
        timeout=TIMEOUT,
    )
    assert response.status_code == 201, response.text
    return response.json()


def png(size=(640, 480)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 40, 40)).save(out, "PNG")
    return out.getvalue()


def test_send_message_with_attachments_reaches_the_other_participant(
    chat_server, connect, alice, bob, carol
):
    alices, bobs, carols = connect(alice), connect(bob), connect(carol)
    photo = upload(chat_server, alice, "photo.png", png())
    report = upload(chat_server, alice, "report.pdf", b"%PDF-1.4\n%%EOF\n")

    ack = alices.call(
        "sendMessage", {"to": bob.id, "message": "", "attachments": [photo["_id"], report["_id"]]}
    )
    assert ack["ok"] is True, ack
    event = bobs.wait_for("newMessage", lambda m: m["_id"] == ack["message"]["_id"])
    assert event["message"] == ""
    assert event["attachments"] == ack["message"]["attachments"] == [photo, report]
    assert (photo["width"], photo["height"]) == (640, 480)

    # Bob downloads what the event names; Carol, who is not in the conversation, can't.
    image = requests.get(chat_server.url + photo["url"], headers=bob.headers, timeout=TIMEOUT)
    assert image.status_code == 200 and image.headers["Content-Type"] == "image/png"
    thumbnail = requests.get(
        chat_server.url + photo["thumbnailUrl"], headers=bob.headers, timeout=TIMEOUT
    )
    assert Image.open(io.BytesIO(thumbnail.content)).size == (320, 240)
    stranger = requests.get(chat_server.url + report["url"], headers=carol.headers, timeout=TIMEOUT)
    assert stranger.status_code == 404
    carols.barrier()
    assert carols.received("newMessage") == []

    # The same upload can't be sent twice.
    again = alices.call("sendMessage", {"to": bob.id, "attachments": [photo["_id"]]})
    assert again["ok"] is False and again["error"]["code"] == "attachment_not_found"
