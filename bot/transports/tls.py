"""Which certificate authorities the bot trusts when it calls Telegram or WeCom."""

from __future__ import annotations

import ssl
from functools import cache

import certifi


@cache
def trusted() -> ssl.SSLContext:
    """The system's authorities and certifi's together: a slim container without the system's
    bundle still reaches the platforms, and an authority a company adds to the system store
    (a TLS-inspecting proxy) is honoured."""
    context = ssl.create_default_context()
    context.load_verify_locations(certifi.where())
    return context
