from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import UserChangeForm, UserCreationForm

from accounts import services
from accounts.models import User


class ChatUserCreationForm(UserCreationForm):
    class Meta:
        model = User
        fields = ("username", "full_name")


class ChatUserChangeForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        permissions = self.fields.get("user_permissions")
        if permissions is not None:
            # Permission's default order sorts on its content type's fields; SecantusDB then
            # replaces the joined content type instead of merging into it ($addFields), so
            # select_related() yields None. Sort on the permission's own fields instead.
            permissions.queryset = permissions.queryset.order_by("content_type_id", "codename")


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    form = ChatUserChangeForm
    add_form = ChatUserCreationForm
    list_display = ("username", "full_name", "gender", "is_active", "is_staff", "date_joined")
    list_filter = ("is_active", "is_staff", "is_superuser", "gender")
    search_fields = ("username", "full_name")
    ordering = ("username_key",)
    readonly_fields = ("date_joined", "last_login")
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("Profile", {"fields": ("full_name", "gender")}),
        (
            "Permissions",
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {"classes": ("wide",), "fields": ("username", "full_name", "password1", "password2")},
        ),
    )
    actions = ["deactivate"]

    def has_deactivate_permission(self, request) -> bool:
        return request.user.has_perm("accounts.deactivate_user")

    @admin.action(description="Deactivate selected users", permissions=["deactivate"])
    def deactivate(self, request, queryset):
        count = 0
        for user in queryset:
            services.user_deactivate(user=user)
            self.log_change(request, user, "Deactivated")
            count += 1
        self.message_user(request, f"Deactivated {count} user(s).", messages.SUCCESS)
