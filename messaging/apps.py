from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "messaging"
    default_auto_field = "django_mongodb_backend.fields.ObjectIdAutoField"

    def ready(self):
        from accounts.signals import user_deleting
        from messaging.receivers import on_user_deleting

        user_deleting.connect(on_user_deleting, dispatch_uid="messaging.user_deleting")
