from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import AdminPasswordChangeForm, UserChangeForm, UserCreationForm
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from accounts import selectors, services
from accounts.models import LoginSession, User


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


class ChatAdminPasswordChangeForm(AdminPasswordChangeForm):
    """The admin's "change password" form: the new password ends every login session of the
    user (their sockets close), as a reset does."""

    def save(self, commit=True):
        user = super().save(commit=commit)
        if commit:
            services.sessions_end_all(user=user)
        return user


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    form = ChatUserChangeForm
    add_form = ChatUserCreationForm
    change_password_form = ChatAdminPasswordChangeForm
    list_display = ("username", "full_name", "gender", "is_active", "is_staff", "date_joined")
    list_filter = ("is_active", "is_staff", "is_superuser", "gender")
    search_fields = ("username", "full_name", "email")
    ordering = ("username_key",)
    readonly_fields = ("date_joined", "last_login", "live_login_sessions")
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("Profile", {"fields": ("full_name", "gender", "email")}),
        (
            "Permissions",
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        ("Dates", {"fields": ("last_login", "date_joined")}),
        ("Login sessions", {"fields": ("live_login_sessions",)}),
    )
    add_fieldsets = (
        (
            None,
            {"classes": ("wide",), "fields": ("username", "full_name", "password1", "password2")},
        ),
    )
    actions = ["deactivate"]

    @admin.display(description="Live login sessions")
    def live_login_sessions(self, user: User) -> str:
        """A read-only table (not an inline: no formset to post with the user's form); each
        session links to a page that ends it after asking, so pressing Enter in the form can
        never end one."""
        rows = [
            (
                s.sid,
                s.user_agent or "unknown client",
                s.created_at,
                s.last_used_at,
                reverse("admin:accounts_user_end_session", args=[user.pk, s.sid]),
            )
            for s in selectors.login_session_list_for_user(user=user)
        ]
        if not rows:
            return "None"
        return format_html(
            "<table><thead><tr><th>Session</th><th>Client</th><th>Started</th>"
            "<th>Last used</th><th></th></tr></thead><tbody>{}</tbody></table>",
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
                '<td><a class="deletelink" href="{}">End session</a></td></tr>',
                rows,
            ),
        )

    @staticmethod
    def may_end_sessions(request, subject: User) -> bool:
        """Users with `change_user` or `deactivate_user`; a superuser's sessions only by a
        superuser (a moderator must not lock out the people who run the site)."""
        user = request.user
        if subject.is_superuser and not user.is_superuser:
            return False
        return user.has_perm("accounts.change_user") or user.has_perm("accounts.deactivate_user")

    def has_delete_permission(self, request, obj=None) -> bool:
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_delete_permission(request, obj)

    # Deleting goes through `services.user_delete`, as `DELETE /api/auth/me` does: sessions
    # end, sockets close, messaging erases what the person wrote, the row stays anonymised.
    # Django's own delete would cascade to their messages (`Message.sender`) and leave the
    # groups without a "left" line.
    def delete_model(self, request, obj: User) -> None:
        services.user_delete(user=obj)

    def delete_queryset(self, request, queryset) -> None:
        for user in queryset:
            services.user_delete(user=user)

    def get_deleted_objects(self, objs, request):
        """What the confirmation page lists: the accounts only (nothing cascades)."""
        users = list(objs)
        allowed = all(self.has_delete_permission(request, user) for user in users)
        perms_needed = set() if allowed else {self.opts.verbose_name}
        listed = [f"{user} (anonymised; their messages are erased)" for user in users]
        return listed, {self.opts.verbose_name_plural: len(users)}, perms_needed, []

    def get_urls(self):
        end = self.admin_site.admin_view(self.end_session_view)
        return [
            path("<str:user_id>/sessions/<str:sid>/end/", end, name="accounts_user_end_session"),
            *super().get_urls(),
        ]

    def end_session_view(self, request, user_id: str, sid: str):
        """Confirm (GET), then end (POST) one login session: `services.session_end`, so its
        tokens stop working and its sockets close."""
        session = LoginSession.objects.filter(sid=sid, ended_at=None).first()
        if session is None or str(session.user_id) != user_id:
            if not self.may_end_sessions(request, User()):
                raise PermissionDenied
            raise Http404("No such live login session.")
        user = User.objects.get(pk=session.user_id)
        if not self.may_end_sessions(request, user):
            raise PermissionDenied
        back = reverse("admin:accounts_user_change", args=[user.pk])
        if request.method == "POST":
            services.session_end(user_id=str(user.pk), session_id=sid)
            self.log_change(request, user, f"Ended login session {sid}")
            self.message_user(request, f"Ended the login session {sid}.", messages.SUCCESS)
            return HttpResponseRedirect(back)
        context = {
            **self.admin_site.each_context(request),
            "title": "End this login session?",
            "opts": self.opts,
            "subject": user,
            "session": session,
            "back": back,
        }
        return TemplateResponse(request, "admin/accounts/end_session.html", context)

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
