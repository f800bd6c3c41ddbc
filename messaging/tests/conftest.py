import pytest
from rest_framework.test import APIClient

from messaging.tests.factories import bearer, user_factory


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    # The real hasher costs ~0.3 s per user; these tests never log in with a password.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


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
            self.credentials(HTTP_AUTHORIZATION=bearer(user))
            return self

    return Client()
