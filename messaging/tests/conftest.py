import pytest
from rest_framework.test import APIClient

from accounts.tests.factories import bearer_for, user_factory


@pytest.fixture
def alice(db):
    return user_factory(username="alice", full_name="Alice Liddell")


@pytest.fixture
def bob(db):
    return user_factory(username="bob", full_name="Bob Builder")


@pytest.fixture
def carol(db):
    return user_factory(username="carol", full_name="Carol Danvers")


@pytest.fixture
def api():
    """An API client; `api.login_as(user)` sets its Bearer token."""

    class Client(APIClient):
        def login_as(self, user):
            self.credentials(HTTP_AUTHORIZATION=bearer_for(user))
            return self

    return Client()
