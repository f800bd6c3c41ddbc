"""What error reports may show: Django's debug page (DEBUG on) and the reports mailed or logged
for a crash.

Django hides settings whose *name* looks secret (`SECRET_KEY`, `*_PASSWORD`, `*_TOKEN`...), but
`MONGODB_URI`, `REDIS_URL`, `DATABASES["default"]["HOST"]` and `CACHES[...]["LOCATION"]` carry
their password inside the value, where it was printed in full. This filter keeps such URLs
readable (scheme, user, hosts, options) and replaces the password alone."""

from __future__ import annotations

import re

from django.views.debug import SafeExceptionReporterFilter

# scheme://user:password@ — the password ends at "@"; RFC 3986 leaves "/", "?" and "#" out of
# userinfo, so "https://host:8443/@name" (a port, then a path) is not taken for one.
URL_PASSWORD = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.-]*://[^\s:/?#@]*:)[^\s/?#@]+(?=@)")


def redact_url_passwords(text: str, substitute: str) -> str:
    return URL_PASSWORD.sub(lambda match: match.group(1) + substitute, text)


class UrlPasswordReporterFilter(SafeExceptionReporterFilter):
    """Django's filter, plus the passwords inside URL-like values: of settings (nested ones
    too), of `request.META` and of a crashed frame's local variables."""

    def cleanse_setting(self, key, value):
        cleansed = super().cleanse_setting(key, value)
        if isinstance(cleansed, str):
            return redact_url_passwords(cleansed, self.cleansed_substitute)
        return cleansed

    def cleanse_special_types(self, request, value):
        cleansed = super().cleanse_special_types(request, value)
        if isinstance(cleansed, str):
            return redact_url_passwords(cleansed, self.cleansed_substitute)
        return cleansed
