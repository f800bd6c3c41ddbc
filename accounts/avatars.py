"""Default avatars drawn by the server itself: the user's initials on a colour derived from
their id, as an SVG data URI (no third-party avatar service, nothing fetched)."""

import base64
import hashlib
from functools import lru_cache

from django.utils.html import escape

PALETTE = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#008080", "#9a6324",
           "#800000", "#808000", "#000075", "#c2185b", "#5d4037"]  # fmt: skip


def initials(full_name: str, username: str) -> str:
    words = [w for w in full_name.split() if w] or [username]
    letters = "".join(w[0] for w in words[:2]).upper()
    return letters or "?"


@lru_cache(maxsize=4096)
def avatar_data_uri(user_id: str, full_name: str, username: str) -> str:
    colour = PALETTE[int(hashlib.sha256(user_id.encode()).hexdigest(), 16) % len(PALETTE)]
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64">'
        f'<rect width="64" height="64" rx="32" fill="{colour}"/>'
        '<text x="32" y="40" font-family="sans-serif" font-size="24" fill="#fff" '
        f'text-anchor="middle">{escape(initials(full_name, username))}</text></svg>'
    )
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()
