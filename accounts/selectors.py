import re
from collections.abc import Iterable
from datetime import UTC, datetime

from bson import ObjectId
from django.conf import settings
from django.db import connection
from django.db.models import Q
from django.utils import timezone

from accounts.models import DELETED_USERNAME_PREFIX, LoginSession, User
from accounts.signals import contacts_among
from chatsite.errors import ValidationFailed


def is_ascii_number(raw: str) -> bool:
    """Only 0-9: `str.isdigit()` also takes other scripts' digits (U+FF15, read by `int()` as 5)
    and superscripts (U+00B2, which `int()` refuses)."""
    return raw.isascii() and raw.isdigit()


def parse_limit(raw: str | None, *, default: int, maximum: int) -> int:
    """A query's `limit`. `str.isdigit` alone would let other scripts' digits and superscripts
    through ("²", which `int` refuses); an empty value is refused, as the schema's integer is."""
    if raw is None:
        return default
    if not is_ascii_number(raw) or len(raw) > 9 or not 1 <= int(raw) <= maximum:
        raise ValidationFailed(f"limit must be a whole number from 1 to {maximum}.",
                               fields={"limit": ["invalid"]})  # fmt: skip
    return int(raw)


def user_list_for_sidebar(*, user: User, search: str = "", limit: int = 500) -> list[User]:
    """Active users other than `user`, by username. With `CHAT["HIDE_STAFF_FROM_CONTACTS"]`,
    staff and superusers only if they share a conversation with `user`: the people who run
    the site are not everyone's chat contacts."""
    users = User.objects.filter(is_active=True).exclude(pk=user.pk)
    hidden = staff_ids_not_contacts(user=user) if settings.CHAT["HIDE_STAFF_FROM_CONTACTS"] else []
    if hidden:
        users = users.exclude(pk__in=hidden)
    if search:
        pattern = re.escape(search)
        users = users.filter(username_key__regex=pattern.lower()) | users.filter(
            full_name__iregex=pattern
        )
    return list(users.order_by("username_key")[:limit])


def staff_ids_not_contacts(*, user: User) -> list[ObjectId]:
    """Active staff users and superusers who share no conversation with `user`: one query for
    the staff (few), one for those of them among `user`'s contacts (`contacts_among`)."""
    staff = set(
        User.objects.filter(Q(is_staff=True) | Q(is_superuser=True), is_active=True)
        .exclude(pk=user.pk)
        .values_list("pk", flat=True)
    )
    if not staff:
        return []
    contacts: set = set()
    for _, found in contacts_among.send(sender=User, user=user, user_ids=staff):
        contacts |= set(found or ())
    return sorted(staff - contacts)


def user_ids_active(user_ids: Iterable[str], *, batch: int = 100) -> set[str]:
    """Which of these user ids belong to existing, active users.

    Asked in batches: the embedded database answers an `$in` in a time that grows with the
    square of its length, and serves nothing else meanwhile; MongoDB does not mind either way
    (measured: docs/benchmarks.md, "Measurements behind the code")."""
    ids = sorted(set(user_ids))
    active: set[str] = set()
    for start in range(0, len(ids), batch):
        users = User.objects.filter(pk__in=ids[start : start + batch], is_active=True)
        active.update(str(pk) for pk in users.values_list("pk", flat=True))
    return active


def user_is_active(pk: ObjectId) -> bool:
    """Whether this user exists and is active: one indexed read through the driver, for the
    hot paths (every socket connect, every send to a user), where the ORM's query building
    costs more CPU than the query. Asked by `_id` alone: the embedded database spends more CPU
    on `{_id, is_active}` than on `{_id}` (measured: docs/benchmarks.md, "Measurements behind
    the code")."""
    users = connection.get_collection(User._meta.db_table)
    doc = users.find_one({"_id": pk}, {"is_active": 1})
    return doc is not None and doc.get("is_active") is True


def user_get_by_id(user_id: object) -> User | None:
    """The user with this id, or None; read through the driver (see `user_from_document`)."""
    if not isinstance(user_id, str) or not ObjectId.is_valid(user_id):
        return None
    doc = connection.get_collection(User._meta.db_table).find_one({"_id": ObjectId(user_id)})
    return None if doc is None else user_from_document(doc)


def user_from_document(doc: dict) -> User:
    """The User the ORM would build from this MongoDB document: for reads on every request,
    where the ORM's query building costs more CPU than the query (measured: docs/benchmarks.md,
    "Measurements behind the code"). Stored datetimes are UTC; fields missing from the document
    are left deferred."""
    names, values = [], []
    for field in User._meta.concrete_fields:
        if field.column in doc:
            value = doc[field.column]
            if isinstance(value, datetime) and value.tzinfo is None:
                value = value.replace(tzinfo=UTC)
            names.append(field.attname)
            values.append(value)
    return User.from_db(connection.alias, names, values)


LOGIN_SESSION_LIST_LIMIT = 200


def login_session_expiry() -> datetime:
    """Sessions last used before this are over: every token they issued has expired (a refresh
    token lives `REFRESH_TOKEN_LIFETIME` from its issue, and `last_used_at` is at least as
    recent as the last refresh)."""
    return timezone.now() - settings.SIMPLE_JWT["REFRESH_TOKEN_LIFETIME"]


def login_session_list_for_user(*, user: User) -> list[LoginSession]:
    """The user's live login sessions (not ended, not expired), most recently used first (at
    most 200)."""
    sessions = LoginSession.objects.filter(
        user=user, ended_at=None, last_used_at__gte=login_session_expiry()
    ).order_by("-last_used_at")
    return list(sessions[:LOGIN_SESSION_LIST_LIMIT])


def user_list_deletion_pending() -> list[User]:
    """Accounts whose deletion began (`deleted_at`) but did not finish (no placeholder
    username yet): the process stopped half-way (the database went away, a crash)."""
    started = User.objects.filter(deleted_at__isnull=False)
    return list(started.exclude(username_key__startswith=DELETED_USERNAME_PREFIX))
