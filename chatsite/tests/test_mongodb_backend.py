"""The database engine's flat filters: the same query, in the form the embedded database can
serve from an index. The same rows as django-mongodb-backend's own compiler answers, for the
examples here and for random ORM filters (hypothesis, at the end)."""

import operator
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from bson import ObjectId
from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import F, Q
from django_mongodb_backend import compiler as stock
from hypothesis import HealthCheck, Phase, event, given, note
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from accounts.models import User
from chatsite.mongodb import compiler as flat
from chatsite.mongodb.compiler import flat_conjunction, included_paths
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
    try:
        match = compiler.build_query(compiler.columns).match_mql
    except EmptyResultSet:  # `pk__in=[]`: no query at all
        return None, []
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


# --- The rewrite against the stock compiler, on random filters ---------------------------------
# A fixed set of rows (fixed ids, so that the generated filters can name them and a failure
# prints a filter that can be pasted), and random ORM filters over every kind of condition the
# ORM writes for Message: ranges, `__in`, isnull, date parts, strings, foreign keys (joined
# too), `F()` comparisons, combined with `&`, `|` and `~`. Each filter must answer the same
# rows through this engine's compiler as through django-mongodb-backend's, on the same data.
USERS = [ObjectId(f"{n:024x}") for n in range(0xA1, 0xA4)]
CONVERSATIONS = [ObjectId(f"{n:024x}") for n in range(0xC1, 0xC4)]
MESSAGES = [ObjectId(f"{n:024x}") for n in range(0x100, 0x100 + 36)]
START = datetime(2026, 10, 1, 8, tzinfo=UTC)
BODIES = ["hello", "Hello world", "bye", "", "héllo", "hello"]


def _created_at(i: int) -> datetime:
    return START + timedelta(days=3 * i, hours=7 * i)  # October 2026 to January 2027


def _make_rows() -> None:
    for n, pk in enumerate(USERS):
        User.objects.create(pk=pk, username=f"rewrite-{n}", full_name=f"Rewrite {n}")
    for n, pk in enumerate(CONVERSATIONS):
        Conversation.objects.create(pk=pk, participants=USERS[: n + 2], title=f"c{n}")
    for i, pk in enumerate(MESSAGES):
        hidden = i % 5 == 0
        Message.objects.create(
            pk=pk,
            conversation_id=CONVERSATIONS[i % 3],
            sender_id=USERS[i % 3],
            receiver_id=USERS[(i + 1) % 3] if i % 4 else None,
            body=BODIES[i % len(BODIES)],
            seq=i // 3 + 1,
            version=(i * 7) % 13,
            client_msg_id=None if i % 4 == 0 else f"c{i // 2}",
            hidden_by_id=USERS[0] if hidden else None,
        )
        # `created_at` is auto_now_add: set afterwards.
        Message.objects.filter(pk=pk).update(
            created_at=_created_at(i),
            edited_at=_created_at(i) + timedelta(hours=i) if i % 3 == 0 else None,
            hidden_at=_created_at(i) + timedelta(days=1) if hidden else None,
        )


RANGE_OPS = st.sampled_from(["exact", "gt", "gte", "lt", "lte"])
DATE_FIELDS = st.sampled_from(["created_at", "edited_at", "hidden_at"])
DATES = st.integers(0, 40).map(_created_at) | st.sampled_from(
    [datetime(2026, 11, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)]
)
PARTS = {"year": (2025, 2028), "month": (1, 12), "day": (1, 31), "hour": (0, 23)}
SMALL = st.integers(0, 15)


def _q(lookup: str, value) -> Q:
    return Q(**{lookup: value})


def _date_part():
    return st.sampled_from(sorted(PARTS)).flatmap(
        lambda part: st.builds(
            lambda field, op, value: _q(f"{field}__{part}__{op}", value),
            DATE_FIELDS,
            RANGE_OPS,
            st.integers(*PARTS[part]),
        )
    )


NUMBERS = st.sampled_from(["seq", "version"])
NULLABLE = st.sampled_from(["receiver", "edited_at", "hidden_at", "hidden_by", "client_msg_id"])
USER_FKS = st.sampled_from(["sender", "receiver"])
LEAVES = st.one_of(
    st.builds(lambda f, op, v: _q(f"{f}__{op}", v), NUMBERS, RANGE_OPS, SMALL),
    st.builds(lambda f, vs: _q(f"{f}__in", vs), NUMBERS, st.lists(SMALL, max_size=4)),
    st.builds(lambda a, b: Q(seq__range=(a, b)), SMALL, SMALL),
    st.builds(lambda f, op, v: _q(f"{f}__{op}", v), DATE_FIELDS, RANGE_OPS, DATES),
    st.builds(lambda f, a, b: _q(f"{f}__range", (a, b)), DATE_FIELDS, DATES, DATES),
    _date_part(),
    st.builds(lambda f, v: _q(f"{f}__isnull", v), NULLABLE, st.booleans()),
    st.builds(
        lambda op, v: _q(f"body__{op}", v),
        st.sampled_from(["exact", "startswith", "icontains", "gt"]),
        st.sampled_from([*BODIES, "h", "HEL", "zzz"]),
    ),
    st.builds(lambda vs: Q(body__in=vs), st.lists(st.sampled_from(BODIES), max_size=3)),
    st.builds(
        lambda op, v: _q(f"client_msg_id__{op}", v),
        st.sampled_from(["exact", "gt", "lte"]),
        st.sampled_from(["", "c3", "c10", "c9"]),
    ),
    st.builds(_q, st.sampled_from(["sender", "receiver", "hidden_by"]), st.sampled_from(USERS)),
    st.builds(
        lambda f, us: _q(f"{f}__in", us), USER_FKS, st.lists(st.sampled_from(USERS), max_size=2)
    ),
    st.builds(lambda c: Q(conversation=c), st.sampled_from(CONVERSATIONS)),
    # Joined: a `$lookup` before the `$match`.
    st.builds(lambda f, n: _q(f"{f}__username", f"rewrite-{n}"), USER_FKS, st.integers(0, 3)),
    st.builds(lambda t: Q(conversation__title=t), st.sampled_from(["c0", "c2", "x"])),
    st.builds(lambda m: Q(pk=m), st.sampled_from(MESSAGES)),
    st.builds(lambda ms: Q(pk__in=ms), st.lists(st.sampled_from(MESSAGES), max_size=4)),
    st.builds(lambda op, k: _q(f"seq__{op}", F("version") + k), RANGE_OPS, st.integers(-2, 2)),
    st.builds(lambda op: _q(f"edited_at__{op}", F("created_at")), RANGE_OPS),
    st.sampled_from(
        [Q(receiver=F("sender")), Q(hidden_by=F("sender")), Q(hidden_by=F("receiver"))]
    ),
)
FILTERS = st.recursive(
    LEAVES,
    lambda children: st.one_of(
        st.builds(operator.and_, children, children),
        st.builds(operator.or_, children, children),
        st.builds(operator.inv, children),
    ),
    max_leaves=6,
)
REWRITE = hypothesis_settings(
    derandomize=True,  # the same examples on every run
    max_examples=200,
    deadline=None,
    database=None,
    phases=[Phase.generate, Phase.shrink],  # explaining a failure took a minute
    # The rows are made once per test, by a fixture, and shared by its examples.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def rows(db):
    _make_rows()


@REWRITE
@given(filters=st.lists(FILTERS, min_size=1, max_size=3), exclude=st.none() | FILTERS)
def test_rewritten_filters_answer_the_same_rows_as_the_stock_compiler(rows, filters, exclude):
    note(f"filter{tuple(filters)!r}, exclude({exclude!r})")  # Q's repr, for the report
    queryset = Message.objects.filter(*filters)
    if exclude is not None:
        queryset = queryset.exclude(exclude)

    match, found = _compiled(queryset, flat)
    stock_match, expected = _compiled(queryset, stock)

    event(f"rows: {'none' if not expected else 'all' if len(expected) == 36 else 'some'}")
    event(f"rewritten: {match != stock_match}")
    assert found == expected, (match, stock_match)
    for expression in [d["$expr"] for d in _dicts(match) if "$expr" in d]:
        assert not isinstance(expression, dict) or len(expression) == 1


# --- Which engine runs ------------------------------------------------------------------------
def _engine(**env: str | None) -> str:
    environment = {k: v for k, v in {**os.environ, **env}.items() if v is not None}
    script = "from django.conf import settings; print(settings.DATABASES['default']['ENGINE'])"
    result = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {script}"],
        env={**environment, "DJANGO_SETTINGS_MODULE": "chatsite.settings"},
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.strip()


def test_the_adapter_runs_only_on_the_embedded_database():
    embedded = "mongodb://127.0.0.1:1/?directConnection=true"
    assert _engine(MONGODB_URI=embedded, EMBEDDED_MONGODB_URI=embedded) == "chatsite.mongodb"
    # MongoDB: stock, even if a launcher's variable was left behind.
    mongodb = "mongodb://db1,db2,db3/?replicaSet=rs0"
    assert _engine(MONGODB_URI=mongodb, EMBEDDED_MONGODB_URI=embedded) == "django_mongodb_backend"
    assert _engine(MONGODB_URI=mongodb, EMBEDDED_MONGODB_URI=None) == "django_mongodb_backend"


@pytest.mark.skipif("TEST_MONGODB_URI" in os.environ, reason="the tests run on MongoDB")
def test_the_test_run_uses_the_adapter():
    assert connection.settings_dict["ENGINE"] == "chatsite.mongodb"
    assert connection.ops.compiler_module == "chatsite.mongodb.compiler"


# --- Joined fields: projected by path -----------------------------------------------------------
def test_joined_inclusions_become_paths():
    project = {"codename": 1, "T2": {"app_label": 1, "model": 1}}
    assert included_paths(project) == {"codename": 1, "T2.app_label": 1, "T2.model": 1}
    # Beside an expression, an inclusion becomes the same field as an expression.
    mixed = {"T2": {"app_label": 1, "x": "$T2.model"}}
    assert included_paths(mixed) == {"T2": {"app_label": "$T2.app_label", "x": "$T2.model"}}
    assert included_paths({"a": 1, "b": {"$literal": 1}}) == {"a": 1, "b": {"$literal": 1}}
    assert included_paths(None) is None


@pytest.mark.skipif("TEST_MONGODB_URI" in os.environ, reason="the tests run on MongoDB")
@pytest.mark.django_db
def test_the_embedded_database_still_answers_a_nested_inclusion_with_1():
    """If this fails, SecantusDB answers `{"T": {"f": 1}}` correctly now: `included_paths`
    (and this test) can go."""
    collection = connection.database["adapter_nested_inclusion"]
    collection.insert_one({"_id": 1, "s": {"a": 5, "b": 6}})
    try:
        nested = list(collection.aggregate([{"$project": {"s": {"a": 1}}}]))
        dotted = list(collection.aggregate([{"$project": {"s.a": 1}}]))
    finally:
        collection.drop()
    assert nested == [{"_id": 1, "s": {"a": 1}}]
    assert dotted == [{"_id": 1, "s": {"a": 5}}]


@pytest.mark.django_db
def test_permission_names_read_through_the_join():
    from django.contrib.auth.models import Permission

    user = User.objects.create_user(username="perm-staff", password="pw-123456789")
    user.is_staff = True
    user.save()
    user.user_permissions.add(Permission.objects.get(codename="hide_message"))
    rows = set(
        Permission.objects.filter(codename__in=["hide_message", "view_user"]).values_list(
            "content_type__app_label", "codename"
        )
    )
    assert rows == {("messaging", "hide_message"), ("accounts", "view_user")}
    user = User.objects.get(pk=user.pk)  # no permission cache
    assert user.get_all_permissions() == {"messaging.hide_message"}
    assert user.has_perm("messaging.hide_message")
    permission = Permission.objects.select_related("content_type").get(codename="view_user")
    assert permission.content_type.app_label == "accounts"


def _rows(queryset, compilers) -> list[tuple]:
    """The rows of the values_list `queryset` as the `SQLCompiler` of `compilers` runs it."""
    query = queryset.query.clone()
    compiler = compilers.SQLCompiler(query, connection, queryset.db)
    try:
        return sorted(tuple(row) for row in compiler.results_iter())
    except EmptyResultSet:
        return []


JOINED = [
    "sender__username",
    "sender__full_name",
    "receiver__username",
    "hidden_by__username",
    "conversation__title",
    "conversation__kind",
    "conversation__last_seq",
    "conversation__created_at",
]
PLAIN = ["seq", "body", "client_msg_id", "receiver"]


@REWRITE
@given(
    fields=st.lists(st.sampled_from(JOINED + PLAIN), min_size=1, max_size=5, unique=True),
    annotated=st.none() | st.sampled_from(JOINED),
    filters=st.lists(FILTERS, max_size=1),
)
def test_joined_fields_answer_the_values_the_stock_compiler_reads_as_expressions(
    rows, fields, annotated, filters
):
    """The adapter's paths against the stock compiler's `F()` annotations of the same fields:
    expressions, which SecantusDB answers correctly (its nested inclusions it does not)."""
    note(f"values_list(pk, *{fields!r}), annotated={annotated!r}, filter{tuple(filters)!r}")
    base = Message.objects.filter(*filters)
    queryset = base
    names = ["pk", *fields]
    if annotated is not None:
        queryset = queryset.annotate(extra=F(annotated))
        names.append("extra")
    found = _rows(queryset.values_list(*names), flat)

    as_expressions = {f"v{i}": F(field) for i, field in enumerate(fields)}
    if annotated is not None:
        as_expressions["extra"] = F(annotated)
    reference = base.annotate(**as_expressions).values_list("pk", *as_expressions)
    expected = _rows(reference, stock)

    event(f"rows: {'none' if not expected else 'some'}")
    assert found == expected
    assert len(found) == base.count()
