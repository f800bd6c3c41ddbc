from chatsite.ratelimit import ScopedRateThrottle


class SendRateThrottle(ScopedRateThrottle):
    """Messages per user (setting CHAT["SEND_RATE"], env SEND_RATE); the socket event shares
    the same counter."""

    scope = "send"
    rate_setting = "SEND_RATE"
    per_user = True
