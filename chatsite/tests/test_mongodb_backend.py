"""The database engine's flat filters: the same query, in the form the embedded database can
serve from an index."""

import pytest
from bson import ObjectId

from accounts.models import User
from chatsite.mongodb.compiler import flat_conjunction

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
    from messaging.models import Conversation

    a, b, c = ObjectId(), ObjectId(), ObjectId()
    ab = Conversation.objects.create(participants=[a, b])
    Conversation.objects.create(participants=[b, c])
    assert list(Conversation.objects.filter(participants__contains=[a])) == [ab]
    assert Conversation.objects.filter(participants__contains=[b]).count() == 2
    assert list(Conversation.objects.filter(participants__contains=[a, b])) == [ab]
