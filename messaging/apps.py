from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "messaging"
    default_auto_field = "django_mongodb_backend.fields.ObjectIdAutoField"

    def ready(self):
        from accounts.signals import contacts_among, user_deleting
        from messaging.receivers import on_contacts_among, on_user_deleting

        user_deleting.connect(on_user_deleting, dispatch_uid="messaging.user_deleting")
        contacts_among.connect(on_contacts_among, dispatch_uid="messaging.contacts_among")
