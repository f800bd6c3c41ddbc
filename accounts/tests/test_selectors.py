"""Account reads."""

import pytest
from bson import ObjectId
from django.utils import timezone

from accounts import selectors, services
from accounts.models import User
from accounts.tests.factories import PASSWORD, user_factory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("batch", [1, 2, 100])
def test_user_ids_active_leaves_out_deactivated_and_unknown_users(batch):
    users = [user_factory() for _ in range(5)]
    services.user_deactivate(user=users[1])
    unknown = str(ObjectId())
    asked = [str(u.pk) for u in users] + [unknown, str(users[0].pk)]

    active = selectors.user_ids_active(asked, batch=batch)

    assert active == {str(u.pk) for u in users} - {str(users[1].pk)}


def test_a_user_read_through_the_driver_is_the_user_the_orm_reads():
    user = user_factory(full_name="Zoë <b>", gender="female")
    User.objects.filter(pk=user.pk).update(last_login=timezone.now(), is_staff=True)
    fields = [f.attname for f in User._meta.concrete_fields]

    from_orm = User.objects.get(pk=user.pk)
    from_driver = selectors.user_get_by_id(str(user.pk))

    assert from_driver.get_deferred_fields() == set()
    assert {f: getattr(from_driver, f) for f in fields} == {f: getattr(from_orm, f) for f in fields}
    assert from_driver.last_login.tzinfo is not None
    assert from_driver.check_password(PASSWORD)


@pytest.mark.parametrize("user_id", [str(ObjectId()), "nope", None, 42])
def test_no_user_for_an_unknown_or_malformed_id(user_id):
    assert selectors.user_get_by_id(user_id) is None
