"""Django's contrib apps with MongoDB's ObjectId primary keys.

django-mongodb-backend requires every model to use `ObjectIdAutoField`; these configs replace
the contrib apps' own, and `MIGRATION_MODULES` points their migrations at
`chatsite/mongo_migrations`.
"""

from django.contrib.admin.apps import AdminConfig
from django.contrib.auth.apps import AuthConfig
from django.contrib.contenttypes.apps import ContentTypesConfig
from django.contrib.sessions.apps import SessionsConfig

OBJECT_ID = "django_mongodb_backend.fields.ObjectIdAutoField"


class MongoAdminConfig(AdminConfig):
    default_auto_field = OBJECT_ID
    default_site = "chatsite.admin.ChatAdminSite"


class MongoAuthConfig(AuthConfig):
    default_auto_field = OBJECT_ID


class MongoContentTypesConfig(ContentTypesConfig):
    default_auto_field = OBJECT_ID


class MongoSessionsConfig(SessionsConfig):
    default_auto_field = OBJECT_ID
