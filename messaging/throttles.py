from chatsite.ratelimit import ScopedRateThrottle


class SendRateThrottle(ScopedRateThrottle):
    """Messages per user (setting CHAT["SEND_RATE"], env SEND_RATE); the socket event shares
    the same counter."""

    scope = "send"
    rate_setting = "SEND_RATE"
    per_user = True


class ActionRateThrottle(ScopedRateThrottle):
    """Edits, deletes and reactions per user (setting CHAT["ACTION_RATE"], env ACTION_RATE);
    the socket events share the same counter."""

    scope = "action"
    rate_setting = "ACTION_RATE"
    per_user = True


class UploadRateThrottle(ScopedRateThrottle):
    """Attachment uploads per user (setting CHAT["UPLOAD_RATE"], env UPLOAD_RATE)."""

    scope = "upload"
    rate_setting = "UPLOAD_RATE"
    per_user = True


class SearchRateThrottle(ScopedRateThrottle):
    """Searches per user (setting CHAT["SEARCH_RATE"], env SEARCH_RATE): a search reads up to
    one index range per conversation."""

    scope = "search"
    rate_setting = "SEARCH_RATE"
    per_user = True


class ExportRateThrottle(ScopedRateThrottle):
    """Exports of one's own data per user (setting CHAT["EXPORT_RATE"], env EXPORT_RATE): an
    export reads every message the user wrote."""

    scope = "export"
    rate_setting = "EXPORT_RATE"
    per_user = True
