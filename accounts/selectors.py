import re

from accounts.models import User
from chatsite.errors import ValidationFailed


def parse_limit(raw: str | None, *, default: int, maximum: int) -> int:
    if raw in (None, ""):
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise ValidationFailed(f"limit must be a whole number from 1 to {maximum}.",
                               fields={"limit": ["invalid"]})  # fmt: skip
    return int(raw)


def user_list_for_sidebar(*, user: User, search: str = "", limit: int = 500) -> list[User]:
    users = User.objects.filter(is_active=True).exclude(pk=user.pk)
    if search:
        pattern = re.escape(search)
        users = users.filter(username_key__regex=pattern.lower()) | users.filter(
            full_name__iregex=pattern
        )
    return list(users.order_by("username_key")[:limit])
