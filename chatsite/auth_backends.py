"""Django's ModelBackend, with permission names read without a joined projection.

`ModelBackend` reads `values_list("content_type__app_label", "codename")`, which
django-mongodb-backend turns into `{"$project": {"django_content_type": {"app_label": 1}}}`
after a `$lookup`. SecantusDB (0.7.0b3) answers that nested inclusion with the literal `1`
instead of the joined value, so every permission of a non-superuser came out as "1.<codename>"
and `has_perm()` was always False (staff without superuser could use no admin page). The
content type is resolved through ContentType's own cache instead.
"""

from django.contrib.auth.backends import ModelBackend as DjangoModelBackend
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType


class ModelBackend(DjangoModelBackend):
    def _get_permissions(self, user_obj, obj, from_name):
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        cache_name = f"_{from_name}_perm_cache"
        if not hasattr(user_obj, cache_name):
            if user_obj.is_superuser:
                perms = Permission.objects.all()
            else:
                perms = getattr(self, f"_get_{from_name}_permissions")(user_obj)
            rows = perms.values_list("content_type_id", "codename").order_by()
            names = {
                f"{ContentType.objects.get_for_id(content_type_id).app_label}.{codename}"
                for content_type_id, codename in rows
            }
            setattr(user_obj, cache_name, names)
        return getattr(user_obj, cache_name)
