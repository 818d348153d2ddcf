"""Mainland mobile numbers: what riders type, what we keep, what exports show."""

from __future__ import annotations

import re

from handlers.steps import InvalidInput

_MOBILE = re.compile(r"1[3-9]\d{9}")
_SEPARATORS = re.compile(r"[\s\-()（）]")


def normalize_mobile(raw: str) -> str:
    """``+86 138-0013-8000`` → ``13800138000``; anything else is refused."""
    digits = _SEPARATORS.sub("", raw)
    digits = digits.removeprefix("+")
    if digits.startswith("0086"):
        digits = digits[4:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    if not _MOBILE.fullmatch(digits):
        raise InvalidInput("hint.bad_phone")
    return digits


def mask(phone: str) -> str:
    """``13812341234`` → ``138****1234``."""
    return f"{phone[:3]}****{phone[-4:]}" if len(phone) >= 8 else "****"
