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
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups",
                                    "user_permissions")}),  # fmt: skip
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("username", "full_name", "password1",
                                                 "password2")}),  # fmt: skip
    )
    actions = ["deactivate"]

    @admin.action(description="Deactivate selected users", permissions=["change"])
    def deactivate(self, request, queryset):
        count = 0
        for user in queryset:
            services.user_deactivate(user=user)
            self.log_change(request, user, "Deactivated")
            count += 1
        self.message_user(request, f"Deactivated {count} user(s).", messages.SUCCESS)
