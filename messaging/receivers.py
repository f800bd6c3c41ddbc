"""What messaging does when accounts announce a change (connected in `MessagingConfig.ready`)."""

from accounts.models import User
from messaging import services


def on_user_deleting(sender, user: User, **kwargs) -> None:
    """An account is being deleted: erase what the person wrote (`services.user_data_erase`)."""
    services.user_data_erase(user=user)
