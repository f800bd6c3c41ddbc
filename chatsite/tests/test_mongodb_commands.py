"""`chatsite.mongodb.find_one_and_update`: pymongo's `find_one_and_update` on MongoDB, an
indexed update and find with the embedded database; the same documents either way."""

import os

import pytest
from bson import Int64, ObjectId
from django.db import connection, connections
from django_mongodb_backend.base import DatabaseWrapper as StockDatabaseWrapper
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatsite.mongodb import find_ids_holding_all, find_one_and_update
from chatsite.testing import database_commands

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif("TEST_MONGODB_URI" in os.environ, reason="the tests run on MongoDB"),
]
INC = {"$inc": {"version": Int64(1)}}


@pytest.fixture
def stock():
    """The same database through the stock backend, as production talks to MongoDB."""
    wrapper = StockDatabaseWrapper(
        {**connection.settings_dict, "ENGINE": "django_mongodb_backend"}, alias="stock"
    )
    connections["stock"] = wrapper
    try:
        yield wrapper
    finally:
        wrapper.close()
        del connections["stock"]


@pytest.fixture
def collection():
    documents = connection.database["adapter_find_one_and_update"]
    documents.insert_many(
        {"_id": ObjectId(f"{n:024x}"), "key": f"k{n}", "version": Int64(n % 3)} for n in range(6)
    )
    documents.create_index("key")
    yield documents
    documents.drop()


def _calls(collection, using: str) -> tuple[list, list[str]]:
    """Each filter's answer, and the commands sent for them."""
    first, third = ObjectId(f"{0:024x}"), ObjectId(f"{2:024x}")
    filters = [
        ({"_id": first}, None),
        ({"key": "k2", "version": 2}, {"version": 1}),
        ({"_id": third, "version": 0}, None),  # no longer matches: None
        ({"_id": {"$in": [third]}}, {"key": 1}),
        ({"key": "missing"}, None),
    ]
    answers = []
    with database_commands() as commands:
        for filter_, projection in filters:
            answers.append(
                find_one_and_update(collection, filter_, INC, projection=projection, using=using)
            )
    return answers, [next(iter(command)) for command in commands]


def test_the_embedded_database_gets_an_indexed_update_and_find(collection):
    answers, commands = _calls(collection, using="default")
    assert "findAndModify" not in commands
    assert {"update", "find"} <= set(commands)
    assert answers == [
        {"_id": ObjectId(f"{0:024x}"), "key": "k0", "version": 1},
        {"_id": ObjectId(f"{2:024x}"), "version": 3},
        None,
        {"_id": ObjectId(f"{2:024x}"), "key": "k2"},
        None,
    ]
    assert collection.find_one({"key": "k2"})["version"] == 4


def test_mongodb_gets_find_and_modify_with_the_same_answers(collection, stock):
    answers, commands = _calls(collection, using="stock")
    assert [c for c in commands if c != "endSessions"] == ["findAndModify"] * 5
    assert answers == [
        {"_id": ObjectId(f"{0:024x}"), "key": "k0", "version": 1},
        {"_id": ObjectId(f"{2:024x}"), "version": 3},
        None,
        {"_id": ObjectId(f"{2:024x}"), "key": "k2"},
        None,
    ]


def test_inside_a_transaction_the_caller_s_session_is_used(collection):
    pk = ObjectId(f"{1:024x}")
    with connection.connection.start_session() as session:
        session.start_transaction()
        doc = find_one_and_update(collection, {"_id": pk}, INC, session=session)
        assert doc["version"] == 2
        session.abort_transaction()
    assert collection.find_one({"_id": pk})["version"] == 1  # rolled back with the caller's


def test_outside_a_transaction_the_update_and_the_read_are_one_transaction(collection):
    with database_commands() as commands:
        find_one_and_update(collection, {"_id": ObjectId(f"{1:024x}")}, INC)
    assert [c for c in commands if "commitTransaction" in c]
    assert all(c.get("startTransaction") for c in commands[:1])


# --- find_ids_holding_all ---------------------------------------------------------------------

WORDS = ["a", "bb", "ccc", "dddd", "e"]


@pytest.fixture(scope="module")
def holders(django_db_setup, django_db_blocker):
    """Documents with random words in random groups, and the index search uses."""
    import random

    rng = random.Random(11)
    with django_db_blocker.unblock():
        documents = connection.database["adapter_find_ids_holding_all"]
        documents.drop()
        documents.insert_many(
            {
                "_id": ObjectId(f"{n:024x}"),
                "group": n % 4,
                "words": rng.sample(WORDS, rng.randint(0, 3)),
            }
            for n in range(120)
        )
        documents.create_index([("words", 1), ("group", 1), ("_id", -1)])
        yield documents
        documents.drop()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    values=st.lists(st.sampled_from(WORDS), min_size=1, max_size=3, unique=True),
    group=st.integers(min_value=0, max_value=4),
    below=st.none() | st.integers(min_value=0, max_value=130),
    limit=st.integers(min_value=1, max_value=30),
)
def test_the_embedded_form_finds_the_same_ids_as_all(holders, stock, values, group, below, limit):
    arguments = {
        "field": "words",
        "values": values,
        "equal": {"group": group},
        "below": None if below is None else ObjectId(f"{below:024x}"),
        "limit": limit,
    }
    embedded = find_ids_holding_all(holders, **arguments, using="default")
    mongodb = find_ids_holding_all(holders, **arguments, using="stock")
    assert embedded == mongodb
    expected = sorted(
        (
            d["_id"]
            for d in holders.find({"group": group})
            if set(values) <= set(d["words"])
            and (arguments["below"] is None or d["_id"] < arguments["below"])
        ),
        reverse=True,
    )[:limit]
    assert embedded == expected


def test_the_embedded_database_is_asked_for_equalities_alone(holders):
    with database_commands() as commands:
        find_ids_holding_all(holders, field="words", values=["a", "dddd"], equal={"group": 1},
                             below=ObjectId(f"{90:024x}"), limit=5)  # fmt: skip
    finds = [c for c in commands if "find" in c]
    assert [c["filter"] for c in finds] == [{"words": "dddd", "group": 1}]
