"""Server-rendered account pages: setting a new password from a reset link (the mail of
`POST /api/auth/password/reset`). Django's own views and `SetPasswordForm`, with the chat's
look and no script; the link is checked and the password set by the same services as
`POST /api/auth/password/reset/confirm` (every login session of the user ends)."""

from django.contrib.auth import views as auth_views
from django.http import HttpResponseRedirect
from django.urls import reverse_lazy

from accounts import services


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("password-reset-complete")
    post_reset_login = False

    def get_user(self, uidb64):
        # A deactivated or deleted account gets no new password.
        return services.password_reset_user_of_uid(uid=uidb64)

    def form_valid(self, form):
        # Django's view keeps the link's token in the session once it has checked it.
        token = self.request.session.pop(auth_views.INTERNAL_RESET_SESSION_TOKEN, "")
        try:
            services.password_reset_confirm(
                uid=self.kwargs["uidb64"],
                token=token,
                new=form.cleaned_data["new_password1"],
                field="new_password1",
            )
        except services.ResetLinkInvalid:  # used meanwhile, from another tab
            self.validlink = False
            return self.render_to_response(self.get_context_data(form=None))
        return HttpResponseRedirect(self.get_success_url())


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "accounts/password_reset_complete.html"
