"""QR codes of join links, for posters at stations and for secretaries to show riders."""

from __future__ import annotations

from pathlib import Path

import qrcode
from qrcode.constants import ERROR_CORRECT_M


def render_qr(link: str, target: Path) -> Path:
    """A PNG with a quiet zone wide enough for phone cameras at arm's length on a poster."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=12, border=4)
    code.add_data(link)
    code.make(fit=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("wb") as out:
        code.make_image(fill_color="black", back_color="white").save(out)
    return target
