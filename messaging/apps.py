from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "messaging"
    default_auto_field = "django_mongodb_backend.fields.ObjectIdAutoField"
