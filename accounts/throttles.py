from chatsite.ratelimit import ScopedRateThrottle


class LoginRateThrottle(ScopedRateThrottle):
    scope = "login"
    rate_setting = "LOGIN_RATE"


class SignupRateThrottle(ScopedRateThrottle):
    scope = "signup"
    rate_setting = "SIGNUP_RATE"
