"""The event contract's schema (docs/realtime-events.schema.json) itself: a valid JSON Schema,
naming exactly the events and error codes docs/realtime.md lists, and strict enough to refuse
payloads the docs do not allow. The live realtime tests check what the server sends against it
(`clients.ChatClient`); these tests keep that check from passing everything."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from chatsite.openapi import WHITESPACE
from realtime import events
from realtime.tests.clients import ChatClient, assert_contract_kept
from realtime.tests.event_schema import (
    SCHEMA_PATH,
    ack_problem,
    client_event_names,
    document,
    event_problem,
    frame_problem,
    server_event_names,
)

DOCS = Path(__file__).resolve().parents[2] / "docs" / "realtime.md"

ID_A, ID_B, ID_C = "64f0" + "0" * 20, "64f1" + "1" * 20, "66a0" + "a" * 20
MESSAGE = {
    "_id": "66a1" + "b" * 20,
    "conversationId": ID_C,
    "senderId": ID_A,
    "receiverId": ID_B,
    "message": "hello",
    "seq": 7,
    "clientMsgId": "c-42",
    "createdAt": "2025-01-31T10:00:00.000Z",
    "updatedAt": "2025-01-31T10:00:00.000Z",
    "editedAt": None,
    "deleted": False,
    "hidden": False,
    "system": None,
    "replyTo": None,
    "reactions": [],
    "attachments": [],
}
PHOTO = {
    "_id": "66a3" + "c" * 20,
    "name": "photo.jpg",
    "size": 52311,
    "contentType": "image/jpeg",
    "width": 1200,
    "height": 900,
    "url": "/api/attachments/66a3" + "c" * 20,
    "thumbnailUrl": "/api/attachments/66a3" + "c" * 20 + "/thumbnail",
}
REPORT = {
    "_id": "66a4" + "d" * 20,
    "name": "report.pdf",
    "size": 1200,
    "contentType": "application/pdf",
    "url": "/api/attachments/66a4" + "d" * 20,
}
WITH_FILES = {**MESSAGE, "attachments": [PHOTO, REPORT]}
HIDDEN = {**MESSAGE, "message": "", "hidden": True}
DELETED = {**MESSAGE, "message": "", "deleted": True}
NEW_USER = {
    "_id": ID_A,
    "fullName": "Ann Example",
    "username": "ann",
    "gender": "",
    "profilePic": "data:image/svg+xml;base64,PHN2Zy8+",
}
THUMBS_UP = [{"emoji": "👍", "count": 2, "userIds": [ID_A, ID_B]}]
REPLY = {
    **MESSAGE,
    "replyTo": {
        "_id": ID_C,
        "seq": 3,
        "senderId": ID_B,
        "message": "hi",
        "deleted": False,
        "hidden": False,
    },
}


def _reactions_event(message: dict, **changes) -> dict:
    return {
        "messageId": MESSAGE["_id"],
        "conversationId": ID_C,
        "seq": 7,
        "reactions": message["reactions"],
        "userId": ID_A,
        "emoji": "👍",
        "added": True,
        "message": message,
        **changes,
    }


def _deleted_event(message: dict) -> dict:
    return {"messageId": MESSAGE["_id"], "conversationId": ID_C, "seq": 7, "message": message}


def _hidden_event(hidden: bool, message: dict) -> dict:
    return {
        "messageId": MESSAGE["_id"],
        "conversationId": ID_C,
        "seq": 7,
        "hidden": hidden,
        "message": message,
    }


def _table(section: str, header: str) -> list[str]:
    """The first column (a `code` span) of each row of the table under `header` in the
    section of docs/realtime.md whose heading is `section`."""
    text = DOCS.read_text(encoding="utf-8")
    body = text.split(f"\n{section}\n", 1)[1].split("\n#", 1)[0]
    lines = body.split("\n")
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    names = []
    for line in lines[start + 2 :]:  # after the header and its |---| line
        if not line.startswith("|"):
            break
        names.append(re.match(r"\| `([^`]+)` \|", line).group(1))
    return names


def test_the_schema_is_a_valid_draft_2020_12_schema():
    Draft202012Validator.check_schema(document())
    assert document()["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_the_docs_list_exactly_the_events_and_codes_the_schema_defines():
    server_to_client = _table("### Server → client", "| Event | Sent to | Payload |")
    client_to_server = _table("### Client → server", "| Event | Payload | Success ack |")
    codes = _table("### Client → server", "| Code | Meaning |")

    assert sorted(server_to_client) == sorted(server_event_names())
    assert sorted(client_to_server) == sorted(client_event_names())
    assert sorted(codes) == sorted(document()["$defs"]["errorCode"]["enum"])
    assert len(codes) == len(set(codes))
    # And the names are the server's own (realtime/events.py).
    names = {value for key, value in vars(events).items() if key.isupper()}
    assert server_event_names() | client_event_names() <= names
    assert SCHEMA_PATH.name in DOCS.read_text(encoding="utf-8")


def test_each_event_acks_only_codes_of_the_docs_table():
    every = set(document()["$defs"]["errorCode"]["enum"])
    acks = document()["$defs"]["acks"]["$defs"]
    for name, ack in acks.items():
        error = next(branch for branch in ack["oneOf"] if branch.get("$ref"))
        assert set(error["properties"]["error"]["properties"]["code"]["enum"]) <= every, name


def test_the_visible_text_pattern_trims_what_str_strip_trims():
    """`message` of a visible message is stored `strip()`ped: the pattern spells out the same
    whitespace as the REST schema (`chatsite.openapi.WHITESPACE`)."""
    schema = document()["$defs"]["message"]["else"]["anyOf"][0]["properties"]["message"]
    assert schema["pattern"] == f"^[^{WHITESPACE}\\u0000](?:[^\\u0000]*[^{WHITESPACE}\\u0000])?$"


GOOD_EVENTS = [
    ("getOnlineUsers", []),
    ("getOnlineUsers", [ID_A, ID_B]),
    ("userOnline", {"userId": ID_A}),
    ("userOffline", {"userId": ID_A}),
    ("newMessage", MESSAGE),
    ("newMessage", {**MESSAGE, "receiverId": None, "clientMsgId": None}),
    ("newMessage", {**MESSAGE, "message": "a\nb", "editedAt": "2025-02-01T00:00:00.500Z"}),
    ("newMessage", HIDDEN),
    ("messageHidden", _hidden_event(True, HIDDEN)),
    ("messageHidden", _hidden_event(False, MESSAGE)),
    ("newMessage", REPLY),
    ("newMessage", {**MESSAGE, "reactions": THUMBS_UP}),
    ("newMessage", WITH_FILES),
    ("newMessage", {**WITH_FILES, "message": ""}),  # attachments only
    ("messageUpdated", {**MESSAGE, "message": "fixed", "editedAt": "2025-02-01T00:00:00.500Z"}),
    ("messageDeleted", _deleted_event(DELETED)),
    ("reactionsUpdated", _reactions_event({**MESSAGE, "reactions": THUMBS_UP})),
    ("reactionsUpdated", _reactions_event(MESSAGE, added=False)),
    ("messagesRead", {"conversationId": ID_C, "userId": ID_A, "seq": 3}),
    ("typing", {"conversationId": ID_C, "userId": ID_A, "isTyping": False}),
    ("sessionEnded", {"reason": "session_ended"}),
    ("sessionEnded", {"reason": "deactivated"}),
    ("userSignedUp", {"user": NEW_USER}),
]

BAD_EVENTS = [
    ("getOnlineUsers", [ID_A, ID_A]),  # twice
    ("getOnlineUsers", [ID_A.upper()]),
    ("getOnlineUsers", {"users": [ID_A]}),
    ("userOnline", {"userId": ID_A, "extra": 1}),
    ("userOffline", {}),
    ("userOffline", {"userId": 42}),
    ("newMessage", {k: v for k, v in MESSAGE.items() if k != "seq"}),
    ("newMessage", {**MESSAGE, "seq": 0}),
    ("newMessage", {**MESSAGE, "seq": "7"}),
    ("newMessage", {**MESSAGE, "_id": "66a1"}),
    ("newMessage", {**MESSAGE, "createdAt": "2025-01-31T10:00:00Z"}),
    ("newMessage", {**MESSAGE, "createdAt": "2025-01-31T10:00:00.000+00:00"}),
    ("newMessage", {**MESSAGE, "clientMsgId": "has space"}),
    ("newMessage", {**MESSAGE, "message": ""}),  # visible and empty
    ("newMessage", {**MESSAGE, "message": " padded "}),  # not trimmed
    ("newMessage", {**MESSAGE, "message": "a\x00b"}),
    ("newMessage", {**HIDDEN, "message": "still shown"}),
    ("newMessage", {**MESSAGE, "body": "hello"}),
    ("messageHidden", _hidden_event(True, MESSAGE)),
    ("newMessage", {**DELETED, "message": "still shown"}),
    ("newMessage", {**HIDDEN, "reactions": THUMBS_UP}),  # withheld while hidden
    ("newMessage", {**MESSAGE, "replyTo": {"_id": ID_C}}),
    ("newMessage", {k: v for k, v in MESSAGE.items() if k != "attachments"}),
    ("newMessage", {**HIDDEN, "attachments": [PHOTO]}),  # withheld while hidden
    ("newMessage", {**DELETED, "attachments": [REPORT]}),
    ("newMessage", {**MESSAGE, "attachments": [{**PHOTO, "url": "https://evil.example/x"}]}),
    ("newMessage", {**MESSAGE, "attachments": [{**PHOTO, "height": None}]}),
    ("newMessage", {**MESSAGE, "attachments": [PHOTO] * 11}),
    ("newMessage", {**MESSAGE, "message": " ", "attachments": [PHOTO]}),  # not trimmed
    ("newMessage", {**MESSAGE, "reactions": [{"emoji": "👍", "count": 0, "userIds": []}]}),
    ("messageDeleted", _deleted_event(MESSAGE)),  # not a tombstone
    ("reactionsUpdated", _reactions_event(MESSAGE, added="yes")),
    ("messagesRead", {"conversationId": ID_C, "userId": ID_A}),
    ("typing", {"conversationId": ID_C, "userId": ID_A, "isTyping": "yes"}),
    ("sessionEnded", {"reason": "logged_out"}),
    ("userSignedUp", NEW_USER),  # not wrapped
    ("userSignedUp", {"user": {**NEW_USER, "email": "ann@example.org"}}),  # never the email
    ("userJoined", {"userId": ID_A}),  # not an event of the contract
]


@pytest.mark.parametrize(("event", "payload"), GOOD_EVENTS)
def test_documented_events_pass(event, payload):
    assert event_problem(event, (payload,)) is None


@pytest.mark.parametrize(("event", "payload"), BAD_EVENTS)
def test_undocumented_payloads_are_refused(event, payload):
    assert event_problem(event, (payload,)) is not None


def test_an_event_must_carry_exactly_one_argument():
    assert event_problem("userOnline", ()) is not None
    assert event_problem("userOnline", ({"userId": ID_A}, "more")) is not None


def _error(code: str, detail: str = "Why.") -> dict:
    return {"ok": False, "error": {"code": code, "detail": detail}}


GOOD_ACKS = [
    ("sendMessage", {"ok": True, "message": MESSAGE}),
    ("sendMessage", _error("message_too_long")),
    ("sendMessage", {**_error("rate_limited"), "retryAfter": 3}),
    ("sendMessage", _error("rate_limited")),  # too many events: no retryAfter
    ("sendMessage", {"ok": True, "message": WITH_FILES}),
    ("sendMessage", _error("attachment_not_found")),
    ("sendMessage", _error("too_many_attachments")),
    ("editMessage", {"ok": True, "message": MESSAGE}),
    ("editMessage", _error("edit_window_passed")),
    ("deleteMessage", {"ok": True, "message": DELETED}),
    ("react", {"ok": True, "message": {**MESSAGE, "reactions": THUMBS_UP}}),
    ("react", _error("too_many_reactions")),
    ("unreact", _error("emoji_invalid")),
    ("typing", {"ok": True}),
    ("typing", _error("conversation_not_found")),
    ("markRead", {"ok": True, "seq": 0}),
    ("markRead", _error("seq_invalid")),
    ("markRead", _error("session_ended")),
    ("watchPresence", {"ok": True, "online": [ID_B]}),
    ("watchPresence", _error("invalid_payload")),
    ("noSuchEvent", _error("unknown_event")),
]

BAD_ACKS = [
    ("sendMessage", {"ok": True}),
    ("sendMessage", {"ok": True, "message": {**MESSAGE, "seq": None}}),
    ("sendMessage", _error("seq_invalid")),  # not a code sendMessage answers
    ("sendMessage", {**_error("message_empty"), "retryAfter": 3}),
    ("sendMessage", {"ok": False, "error": {"code": "message_empty"}}),  # no detail
    ("sendMessage", {"ok": False, "error": "message_empty"}),
    ("sendMessage", _error("no_such_code")),
    ("editMessage", _error("emoji_invalid")),
    ("editMessage", _error("attachment_not_found")),
    ("deleteMessage", {"ok": True}),
    ("typing", {"ok": True, "extra": True}),
    ("typing", {**_error("rate_limited"), "retryAfter": 1}),
    ("markRead", {"ok": True, "seq": -1}),
    ("markRead", {"ok": True}),
    ("watchPresence", {"ok": True, "online": "all"}),
    ("watchPresence", _error("conversation_not_found")),
    ("noSuchEvent", {"ok": True}),
    ("noSuchEvent", _error("invalid_payload")),
    ("sendMessage", None),
]


@pytest.mark.parametrize(("event", "ack"), GOOD_ACKS)
def test_documented_acks_pass(event, ack):
    assert ack_problem(event, ack) is None


@pytest.mark.parametrize(("event", "ack"), BAD_ACKS)
def test_undocumented_acks_are_refused(event, ack):
    assert ack_problem(event, ack) is not None


def test_bare_websocket_frames_are_checked_too():
    """What the tests' bare WebSocket clients (`RawSocket`, test_hostile_input's
    `RawConnection`) check: EVENT packets, and ACK packets of the ack ids they sent."""
    assert frame_problem("42" + json.dumps(["userOnline", {"userId": ID_A}]), {}) is None
    assert frame_problem("42" + json.dumps(["userOnline", {"userId": "nope"}]), {}) is not None
    assert frame_problem('42["userOnline"]', {}) is not None  # no payload
    assert frame_problem("42[7,{}]", {}) is not None
    assert frame_problem("42[not json", {}) is not None

    unknown = "433" + json.dumps([_error("unknown_event")])
    assert frame_problem(unknown, {3: 7}) is None  # any name but the contract's is unknown
    assert frame_problem(unknown, {3: "markRead"}) is not None  # markRead never answers that
    assert frame_problem(unknown, {}) is None  # an ack id sent some other way: not checked
    assert frame_problem("433" + json.dumps([{"ok": True, "seq": 2}]), {3: "markRead"}) is None
    for ignored in ("2", "3", "40{}", '44{"message":"unauthorized"}', b"\x04binary"):
        assert frame_problem(ignored, {}) is None


def test_a_client_that_received_a_wrong_payload_fails_its_test():
    """What the `make_client` fixture does at teardown, fed an event the way python-socketio
    hands it over (on the reader thread, through the catch-all handler)."""
    client = ChatClient("http://127.0.0.1:9")
    client._on_event("userOnline", {"userId": ID_A})
    assert_contract_kept([client])  # a good event: nothing to say

    client._on_event("newMessage", {**MESSAGE, "seq": "7"})

    assert client.received("newMessage") == [{**MESSAGE, "seq": "7"}]  # still recorded
    with pytest.raises(pytest.fail.Exception, match=r"newMessage.*seq"):
        assert_contract_kept([client])
