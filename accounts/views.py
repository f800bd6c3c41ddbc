"""Server-rendered account pages: setting a new password from a reset link (the mail of
`POST /api/auth/password/reset`). Django's own views and `SetPasswordForm`, with the chat's
look, no script, and every login session of the user ended once the password is set."""

from django.contrib.auth import views as auth_views
from django.urls import reverse_lazy

from accounts import services


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("password-reset-complete")
    post_reset_login = False

    def get_user(self, uidb64):
        user = super().get_user(uidb64)
        # A deactivated or deleted account gets no new password.
        return user if user is not None and user.is_active else None

    def form_valid(self, form):
        response = super().form_valid(form)
        services.sessions_end_all(user=form.user)
        return response


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "accounts/password_reset_complete.html"
