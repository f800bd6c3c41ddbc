"""Property-based tests (hypothesis) of the one code path that creates messages.

`message_send` and the REST send endpoints get arbitrary bodies (any text, surrogates and NULs
included, lengths around the limit, JSON values of every type, MongoDB operators), arbitrary
targets (real users and conversations, oneself, a deactivated user, a conversation of others,
garbage ids) and arbitrary `clientMsgId`s, reused so that retries happen. After every example
the whole database must hold `assert_invariants`, every message the caller was given must be
stored exactly once, and:

- the service either returns a stored message or raises a `ChatError` with a code;
- REST answers 201 with a stored message or a 4xx with the error shape, never a 500.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import quote

import pytest
from bson import ObjectId
from django.conf import settings as django_settings
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from accounts.models import User
from accounts.services import user_deactivate
from accounts.tests.factories import bearer_for, user_factory
from chatsite.errors import ChatError
from messaging.models import Conversation, Message
from messaging.serializers import MessageSerializer
from messaging.services import message_send
from messaging.tests.factories import message_factory
from messaging.tests.invariants import assert_invariants, database

pytestmark = pytest.mark.django_db

settings.register_profile(
    "messaging-fuzz",
    deadline=None,  # a send is a database transaction: its time is not what is tested
    max_examples=100,
    database=None,  # nothing written into the working tree; a failure prints its example
    # The users and conversations are made once per test and shared by its examples, which
    # is the point: the invariants must hold over everything the examples wrote together.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
FUZZ = settings(settings.get_profile("messaging-fuzz"))

LIMIT = django_settings.CHAT["MESSAGE_MAX_LENGTH"]
OPERATORS = st.dictionaries(
    st.sampled_from(["$gt", "$ne", "$where", "$regex", "$set", "$expr"]),
    st.one_of(st.text(max_size=5), st.none(), st.integers()),
    min_size=1,
    max_size=2,
)
ANY_TEXT = st.text(
    # Surrogates (category Cs) are left out by default: these bodies include them.
    alphabet=st.characters(exclude_categories=()),
    max_size=40,
)
WITH_A_SURROGATE = st.tuples(
    st.text(max_size=10), st.characters(categories=["Cs"]), st.text(max_size=10)
).map("".join)
HOSTILE_BODIES = st.one_of(
    ANY_TEXT,
    WITH_A_SURROGATE,
    st.sampled_from(["", " ", "\n\t ", "\x00", "a\x00b"]),
    st.integers(LIMIT - 2, LIMIT + 2).map(lambda n: "é" * n),
    st.integers(1, 3).map(lambda n: " " * n + "x" * LIMIT + " " * n),
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.lists(st.text(max_size=3), max_size=3),
    OPERATORS,
)


def half(usual: st.SearchStrategy, other: st.SearchStrategy) -> st.SearchStrategy:
    """`usual` or `other`, each half of the time (st.one_of would flatten `other`'s branches
    and give `usual` a share of one among them)."""
    return st.booleans().flatmap(lambda pick: usual if pick else other)


# Half of the bodies are sendable text, so that sends succeed between the refusals.
BODIES = half(st.text(min_size=1, max_size=60).filter(str.strip), HOSTILE_BODIES)
CLIENT_MSG_IDS = half(
    st.one_of(
        st.none(),
        st.sampled_from(["retry-1", "retry-2", "r"]),  # reused: retries and clashes
        st.from_regex(r"[A-Za-z0-9_-]{1,64}", fullmatch=True),
    ),
    st.one_of(st.text(max_size=70), st.integers(), OPERATORS),
)
PEOPLE = ["alice", "bob", "carol"]
# Where a send goes: a user by name, a conversation by name, or a raw id.
TARGETS = st.one_of(
    st.tuples(st.just("user"), st.sampled_from([*PEOPLE, "dave"])),
    st.tuples(st.just("conversation"), st.sampled_from(["alice-bob", "bob-carol"])),
)


@dataclass
class World:
    people: dict[str, User]
    conversations: dict[str, Conversation]


@pytest.fixture
def world(db) -> World:
    people = {name: user_factory(username=name) for name in [*PEOPLE, "dave"]}
    user_deactivate(user=people["dave"])
    conversations = {
        "alice-bob": message_factory(sender=people["alice"], receiver=people["bob"]),
        "bob-carol": message_factory(sender=people["bob"], receiver=people["carol"]),
    }
    return World(
        people=people,
        conversations={
            name: Conversation.objects.get(pk=m.conversation_id)
            for name, m in conversations.items()
        },
    )


def first_with(sender: User, client_msg_id: object) -> Message | None:
    if not isinstance(client_msg_id, str) or not client_msg_id:
        return None
    return Message.objects.filter(sender=sender, client_msg_id=client_msg_id).first()


# --- the service ----------------------------------------------------------------------------

SENDS = st.lists(
    st.tuples(st.sampled_from(PEOPLE), TARGETS, BODIES, CLIENT_MSG_IDS), min_size=1, max_size=6
)


@FUZZ
@given(sends=SENDS)
def test_message_send_stores_a_message_or_raises_a_coded_error(world, sends):
    acknowledged = []
    for sender_name, (kind, target), body, client_msg_id in sends:
        sender = world.people[sender_name]
        if kind == "user":
            where = {"receiver": world.people[target]}
        else:
            where = {"conversation": world.conversations[target]}
        earlier = first_with(sender, client_msg_id)
        try:
            message = message_send(sender=sender, body=body, client_msg_id=client_msg_id, **where)
        except ChatError as error:
            assert isinstance(error.code, str) and error.code != "error", error
            assert isinstance(error.detail, str) and error.detail
            event(error.code)
            continue
        event("stored")
        stored = Message.objects.get(pk=message.pk)
        assert stored.sender_id == sender.pk
        assert stored.body == message.body
        if earlier is not None:
            # A retry: the first message comes back, nothing new is stored.
            assert message.pk == earlier.pk
        else:
            assert isinstance(body, str) and stored.body == body.strip()
        acknowledged.append(MessageSerializer(message).data)
    assert_invariants(database(), acknowledged=acknowledged)


# --- the REST endpoints ---------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text()),
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)
REQUEST_BODIES = half(
    st.fixed_dictionaries(
        {"message": BODIES},
        optional={
            "clientMsgId": CLIENT_MSG_IDS,
            "senderId": st.text(max_size=24),
            "seq": st.integers(),
            "hidden": st.booleans(),
            "extra": JSON_VALUES,
        },
    ).map(lambda d: json.dumps(d).encode()),
    st.one_of(
        JSON_VALUES.map(lambda v: json.dumps(v).encode()),
        st.binary(max_size=40),
        # Nested deeper than Python's recursion limit, or not quite.
        st.integers(900, 20_000).map(lambda n: b'{"message": ' + b"[" * n + b"]" * n + b"}"),
    ),
)
RAW_IDS = st.one_of(
    st.text(min_size=1, max_size=30),
    st.just(str(ObjectId())),
    st.sampled_from(["$gt", '{"$gt": ""}', "..", "%00", "null", "0" * 24]),
)
REST_TARGETS = half(TARGETS, st.tuples(st.sampled_from(["user", "conversation"]), RAW_IDS))


def target_url(world: World, kind: str, target: str) -> str:
    if kind == "user":
        person = world.people.get(target)
        raw = str(person.pk) if person else target
        return f"/api/messages/send/{quote(raw, safe='')}"
    conversation = world.conversations.get(target)
    raw = str(conversation.pk) if conversation else target
    return f"/api/conversations/{quote(raw, safe='')}/messages"


@FUZZ
@given(
    requests=st.lists(
        st.tuples(st.sampled_from(PEOPLE), REST_TARGETS, REQUEST_BODIES), min_size=1, max_size=4
    )
)
def test_rest_send_never_answers_500(world, api, requests):
    acknowledged = []
    for sender_name, (kind, target), raw in requests:
        sender = world.people[sender_name]
        api.credentials(HTTP_AUTHORIZATION=bearer_for(sender))

        response = api.post(target_url(world, kind, target), raw, content_type="application/json")

        assert response.status_code in {200, 201, 400, 404, 413}, (response.status_code, raw)
        body = response.json()
        event(str(response.status_code) + (f" {body['code']}" if "code" in body else ""))
        if response.status_code in {200, 201}:
            stored = Message.objects.get(pk=body["_id"])
            assert stored.sender_id == sender.pk
            acknowledged.append(body)
        else:
            assert isinstance(body["code"], str) and isinstance(body["error"], str), body
    assert_invariants(database(), acknowledged=acknowledged)
