"""Account reads."""

import pytest
from bson import ObjectId

from accounts import selectors, services
from accounts.tests.factories import user_factory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("batch", [1, 2, 100])
def test_user_ids_active_leaves_out_deactivated_and_unknown_users(batch):
    users = [user_factory() for _ in range(5)]
    services.user_deactivate(user=users[1])
    unknown = str(ObjectId())
    asked = [str(u.pk) for u in users] + [unknown, str(users[0].pk)]

    active = selectors.user_ids_active(asked, batch=batch)

    assert active == {str(u.pk) for u in users} - {str(users[1].pk)}
