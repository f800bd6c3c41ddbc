from django.dispatch import Signal

# Sent with `user` after an account is deactivated (admin action or service call).
user_deactivated = Signal()
