from django.dispatch import Signal

# Sent with `user` after a new account (a signup) is committed.
user_signed_up = Signal()
# Sent with `user` after an account is deactivated (admin action or service call).
user_deactivated = Signal()
# Sent with `user_id` and `session_id` after a login session ends (logout, a reused refresh
# token); `session_id` None: every session of the user ended (a password reset, a deletion).
session_ended = Signal()
# Sent with `user` while an account is being deleted, after its sessions ended and before it
# is anonymised: apps erase what the person wrote (messaging). Sent synchronously.
user_deleting = Signal()
# Sent with `user` and `user_ids` to learn which of these users share a conversation with
# `user`; each receiver returns a set of their ids (messaging). Sent synchronously.
contacts_among = Signal()
