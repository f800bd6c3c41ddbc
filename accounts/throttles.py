from chatsite.ratelimit import ScopedRateThrottle


class LoginRateThrottle(ScopedRateThrottle):
    scope = "login"
    rate_setting = "LOGIN_RATE"


class SignupRateThrottle(ScopedRateThrottle):
    scope = "signup"
    rate_setting = "SIGNUP_RATE"


class PasswordResetRateThrottle(ScopedRateThrottle):
    """Reset requests per client address; the service also counts them per account asked
    about."""

    scope = "password_reset"
    rate_setting = "PASSWORD_RESET_RATE"


class PasswordResetConfirmRateThrottle(ScopedRateThrottle):
    """Attempts to set a password with a reset link's `uid` and `token`, per client address:
    a count of their own, so asking for links doesn't use up the tries to use one."""

    scope = "password_reset_confirm"
    rate_setting = "PASSWORD_RESET_CONFIRM_RATE"


class PasswordCheckRateThrottle(ScopedRateThrottle):
    """Requests that check the caller's password (change it, delete the account) or may
    (`PATCH /api/auth/me`: a new email takes it), per user: every attempt counts, right or
    wrong, as for logins, so a stolen token can't guess the password nor probe which emails
    have accounts."""

    scope = "password_check"
    rate_setting = "PASSWORD_CHECK_RATE"
    per_user = True
