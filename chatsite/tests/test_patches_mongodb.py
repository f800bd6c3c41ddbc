"""Contract tests of `chatsite.patches.django_mongodb_backend` against the installed
django-mongodb-backend and the real database: the ORM still joins a transaction the way the
patch makes it, and the public `atomic()` still has the problems that make the patch necessary.
A failure here after an upgrade says which of the two changed."""

import pytest
from django.db import connection, transaction
from django_mongodb_backend import transaction as mongo_transaction
from pymongo.client_session import ClientSession
from pymongo.errors import AutoReconnect

from accounts.tests.factories import user_factory
from chatsite.patches.django_mongodb_backend import (
    current_session,
    in_transaction,
    orm_in_transaction,
)
from messaging.models import SyncCheckpoint

pytestmark = pytest.mark.django_db(transaction=True)


def run(commit: bool) -> list:
    user = user_factory()
    connection.ensure_connection()
    with connection.connection.start_session() as session:
        session.start_transaction()
        with orm_in_transaction(session) as callbacks:
            assert in_transaction()
            assert current_session() is session
            SyncCheckpoint.objects.create(user=user, versions={"a": 1})
            transaction.on_commit(lambda: None)
            # Inside the transaction, the ORM sees its own write.
            assert SyncCheckpoint.objects.filter(user=user).count() == 1
            if commit:
                session.commit_transaction()
            else:
                session.abort_transaction()
    assert not in_transaction()
    assert current_session() is None
    return callbacks


def test_orm_writes_join_the_session_and_an_abort_takes_them_back():
    callbacks = run(commit=False)
    assert not SyncCheckpoint.objects.exists(), "the ORM wrote outside the session's transaction"
    assert len(callbacks) == 1


def test_orm_writes_join_the_session_and_a_commit_stores_them():
    callbacks = run(commit=True)
    assert SyncCheckpoint.objects.count() == 1
    # Collected for the caller, not run, not left on the connection.
    assert len(callbacks) == 1
    assert connection.run_on_commit == []


def test_the_public_atomic_still_fails_inside_djangos_atomic():
    user = user_factory()
    try:
        with transaction.atomic(), mongo_transaction.atomic():
            SyncCheckpoint.objects.create(user=user, versions={})
    except transaction.TransactionManagementError:
        return
    pytest.fail(
        "django_mongodb_backend.transaction.atomic() now commits inside Django's atomic(): "
        "messaging.transactions can use it instead of chatsite.patches.django_mongodb_backend"
    )


def test_the_public_atomic_still_keeps_the_session_after_a_failed_commit(monkeypatch):
    user = user_factory()

    def commit_cut_off(self):
        raise AutoReconnect("connection closed")

    monkeypatch.setattr(ClientSession, "commit_transaction", commit_cut_off)
    with pytest.raises(AutoReconnect), mongo_transaction.atomic():
        SyncCheckpoint.objects.create(user=user, versions={})
    left_open = connection.session is not None
    if left_open:
        connection.session.end_session()
        connection.session = None
    assert left_open, (
        "django_mongodb_backend.transaction.atomic() now ends the session when the commit "
        "fails: check whether messaging.transactions can use it"
    )
