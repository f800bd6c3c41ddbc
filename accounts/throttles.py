from chatsite.ratelimit import ScopedRateThrottle


class LoginRateThrottle(ScopedRateThrottle):
    scope = "login"
    rate_setting = "LOGIN_RATE"


class SignupRateThrottle(ScopedRateThrottle):
    scope = "signup"
    rate_setting = "SIGNUP_RATE"


class PasswordResetRateThrottle(ScopedRateThrottle):
    """Reset requests per client address; the view also counts them per account asked about."""

    scope = "password_reset"
    rate_setting = "PASSWORD_RESET_RATE"


class PasswordCheckRateThrottle(ScopedRateThrottle):
    """Requests that check the caller's password (change it, delete the account), per user:
    every attempt counts, as for logins, so a stolen token can't guess the password."""

    scope = "password_check"
    rate_setting = "PASSWORD_CHECK_RATE"
    per_user = True
