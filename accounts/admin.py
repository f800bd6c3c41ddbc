from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import UserChangeForm, UserCreationForm
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from accounts import services
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


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    form = ChatUserChangeForm
    add_form = ChatUserCreationForm
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
        sessions = LoginSession.objects.filter(user=user, ended_at=None).order_by("-last_used_at")
        rows = [
            (
                s.sid,
                s.user_agent or "unknown client",
                s.created_at,
                s.last_used_at,
                reverse("admin:accounts_user_end_session", args=[user.pk, s.sid]),
            )
            for s in sessions[:200]
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
    def may_end_sessions(request) -> bool:
        user = request.user
        return user.has_perm("accounts.change_user") or user.has_perm("accounts.deactivate_user")

    def get_urls(self):
        end = self.admin_site.admin_view(self.end_session_view)
        return [
            path("<str:user_id>/sessions/<str:sid>/end/", end, name="accounts_user_end_session"),
            *super().get_urls(),
        ]

    def end_session_view(self, request, user_id: str, sid: str):
        """Confirm (GET), then end (POST) one login session: `services.session_end`, so its
        tokens stop working and its sockets close."""
        if not self.may_end_sessions(request):
            raise PermissionDenied
        session = LoginSession.objects.filter(sid=sid, ended_at=None).first()
        if session is None or str(session.user_id) != user_id:
            raise Http404("No such live login session.")
        user = User.objects.get(pk=session.user_id)
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
