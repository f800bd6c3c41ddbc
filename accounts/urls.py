from django.urls import path

from accounts import apis, views

urlpatterns = [
    path("auth/signup", apis.SignupApi.as_view(), name="auth-signup"),
    path("auth/login", apis.LoginApi.as_view(), name="auth-login"),
    path("auth/refresh", apis.RefreshApi.as_view(), name="auth-refresh"),
    path("auth/logout", apis.LogoutApi.as_view(), name="auth-logout"),
    path("auth/me", apis.MeApi.as_view(), name="auth-me"),
    path("auth/sessions", apis.SessionListApi.as_view(), name="auth-sessions"),
    path("auth/sessions/<str:session_id>", apis.SessionEndApi.as_view(), name="auth-session"),
    path("auth/password", apis.PasswordChangeApi.as_view(), name="auth-password"),
    path("auth/password/reset", apis.PasswordResetApi.as_view(), name="auth-password-reset"),
    path(
        "auth/password/reset/confirm",
        apis.PasswordResetConfirmApi.as_view(),
        name="auth-password-reset-confirm",
    ),
    path("users", apis.UserListApi.as_view(), name="user-list"),
]

# Pages, served at the site's root (chatsite/urls.py): the link of a password reset mail.
page_urlpatterns = [
    path(
        "reset/<uidb64>/<token>/",
        views.PasswordResetConfirmView.as_view(),
        name="password-reset-confirm",
    ),
    path("reset/done/", views.PasswordResetCompleteView.as_view(), name="password-reset-complete"),
]
