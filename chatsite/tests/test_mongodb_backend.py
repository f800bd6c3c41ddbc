"""The database engine's flat filters: the same query, in the form the embedded database can
serve from an index."""

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from bson import ObjectId
from django.db import connection
from django_mongodb_backend import compiler as stock

from accounts.models import User
from chatsite.mongodb import compiler as flat
from chatsite.mongodb.compiler import flat_conjunction
from messaging.models import Conversation, Message

NOT_NULL = {"$and": [{"seq": {"$exists": True}}, {"seq": {"$ne": None}}]}


def test_a_conjunction_of_fields_becomes_one_filter():
    assert flat_conjunction({"$and": [{"is_active": True}, {"_id": 1}]}) == {
        "is_active": True,
        "_id": 1,
    }


def test_range_conditions_on_one_field_merge_and_drop_the_implied_not_null():
    mql = {
        "$and": [
            {"conversation_id": 7},
            {"$and": [{"seq": {"$gte": 1}}, NOT_NULL]},
            {"$and": [{"seq": {"$lte": 50}}, NOT_NULL]},
        ]
    }
    assert flat_conjunction(mql) == {"conversation_id": 7, "seq": {"$gte": 1, "$lte": 50}}


@pytest.mark.parametrize(
    "mql",
    [
        {"$and": [{"a": 1}, {"a": 2}]},  # a value twice: an empty result, kept as written
        {"$and": [{"a": {"$gt": 1}}, {"a": {"$gt": 2}}]},  # one operator, two values
        {"$and": [{"$or": [{"a": 1}]}, {"$or": [{"b": 1}]}]},  # two $or
    ],
)
def test_what_cannot_merge_stays_as_written(mql):
    assert flat_conjunction(mql) == mql


def test_membership_of_one_value_becomes_an_equality():
    assert flat_conjunction({"participants": {"$all": [5]}}) == {"participants": 5}
    assert flat_conjunction({"participants": {"$all": [5, 6]}}) == {
        "participants": {"$all": [5, 6]}
    }


def test_not_null_alone_is_kept():
    assert flat_conjunction(NOT_NULL) == {"seq": {"$exists": True, "$ne": None}}


@pytest.mark.django_db
def test_orm_filters_answer_the_same_rows():
    active = User.objects.create_user(username="flat-active", password="pw-123456789")
    inactive = User.objects.create_user(username="flat-inactive", password="pw-123456789")
    inactive.is_active = False
    inactive.save()
    ids = [active.pk, inactive.pk, ObjectId()]

    assert User.objects.filter(pk=active.pk, is_active=True).exists()
    assert not User.objects.filter(pk=inactive.pk, is_active=True).exists()
    assert list(User.objects.filter(pk__in=ids, is_active=True)) == [active]
    assert User.objects.filter(pk__in=ids, is_active=True, username="nobody").count() == 0


@pytest.mark.django_db
def test_array_membership_answers_the_same_rows():
    a, b, c = ObjectId(), ObjectId(), ObjectId()
    ab = Conversation.objects.create(participants=[a, b])
    Conversation.objects.create(participants=[b, c])
    assert list(Conversation.objects.filter(participants__contains=[a])) == [ab]
    assert Conversation.objects.filter(participants__contains=[b]).count() == 2
    assert list(Conversation.objects.filter(participants__contains=[a, b])) == [ab]


def _compiled(queryset, compilers) -> tuple[dict, list]:
    """The `$match` filter and the primary keys of `queryset` as the `SQLCompiler` of the
    module `compilers` writes and runs it, on the same connection."""
    query = queryset.values_list("pk", flat=True).query.clone()
    compiler = compilers.SQLCompiler(query, connection, queryset.db)
    compiler.pre_sql_setup()
    match = compiler.build_query(compiler.columns).match_mql
    return match, sorted(row[0] for row in compiler.results_iter())


def _dicts(mql: object) -> Iterator[dict]:
    if isinstance(mql, dict):
        yield mql
        mql = list(mql.values())
    if isinstance(mql, list):
        for item in mql:
            yield from _dicts(item)


def test_two_expressions_stay_two_conditions():
    """`$expr` conditions (date parts, `F()` comparisons) are never merged into one object
    with two operators: MongoDB refuses that, and SecantusDB (0.7.0b3) matched every row."""
    mql = {"$and": [{"$expr": {"$gt": ["$a", 5]}}, {"$expr": {"$eq": ["$b", 11]}}]}
    assert flat_conjunction(mql) == mql


@pytest.mark.django_db
def test_date_parts_answer_the_same_rows_as_the_stock_compiler():
    sender = User.objects.create_user(username="dates-sender", password="pw-123456789")
    conversation = Conversation.objects.create(participants=[sender.pk])
    for seq, day in enumerate([(11, 3), (11, 6), (11, 20), (10, 9), (12, 25)], start=1):
        message = Message.objects.create(
            conversation=conversation, sender=sender, body=f"m{seq}", seq=seq, version=seq
        )
        Message.objects.filter(pk=message.pk).update(
            created_at=datetime(2026, *day, 12, tzinfo=UTC)
        )
    queryset = Message.objects.filter(created_at__month=11, created_at__day__gt=5)

    match, rows = _compiled(queryset, flat)
    stock_match, stock_rows = _compiled(queryset, stock)

    assert len(rows) == 2
    assert rows == stock_rows
    assert match == stock_match  # nothing to flatten: two `$expr`
    assert not [d for d in _dicts(match) if sum(key.startswith("$") for key in d) > 1]
