"""What messaging does when accounts announce a change (connected in `MessagingConfig.ready`)."""

from accounts.models import User
from messaging import selectors, services


def on_user_deleting(sender, user: User, **kwargs) -> None:
    """An account is being deleted: erase what the person wrote (`services.user_data_erase`)."""
    services.user_data_erase(user=user)


def on_contacts_among(sender, user: User, user_ids, **kwargs) -> set:
    """Which of `user_ids` share a conversation with `user` (`selectors.contact_ids_among`)."""
    return selectors.contact_ids_among(user_id=user.pk, user_ids=user_ids)
