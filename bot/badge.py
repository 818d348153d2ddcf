"""The rider's badge (亮身份 card): a PNG that renders any name and pledge a rider can type.

Fonts come with the package (see bot/typeface.py), since no CJK font comes with a fresh
machine. The card grows downwards to hold the whole pledge.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw

from bot.typeface import Pen, draw_text, wrap

WIDTH, MIN_HEIGHT = 900, 560
MARGIN = 40
FOOTER = 50
RED = (196, 30, 36)
GOLD = (255, 215, 120)
INK = (40, 40, 40)
PLEDGE_SIZE, PLEDGE_LEADING = 28, 40


@dataclass(frozen=True)
class BadgeText:
    title: str
    name: str
    lines: tuple[str, ...]
    pledge_label: str
    pledge: str
    footer: str


def badge_path(media_dir: Path, user_id: str) -> Path:
    """Named by a hash so the file name reveals no platform id."""
    digest = hashlib.sha256(user_id.encode()).hexdigest()[:24]
    return media_dir / "badges" / f"{digest}.png"


def render_badge(text: BadgeText, target: Path) -> Path:
    """Draws the card and writes it; blocking, so callers run it in a worker thread."""
    pledge_lines = wrap(text.pledge, PLEDGE_SIZE, WIDTH - 2 * MARGIN)
    pledge_top = 225 + 44 * len(text.lines) + 8
    pledge_bottom = pledge_top + PLEDGE_LEADING * (len(pledge_lines) + 1)
    height = max(MIN_HEIGHT, pledge_bottom + 20 + FOOTER)
    image = Image.new("RGB", (WIDTH, height), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, WIDTH, 110), fill=RED)
    draw_text(draw, (MARGIN, 28), text.title, Pen(44, GOLD, bold=True))
    draw_text(draw, (MARGIN, 140), text.name, Pen(56, INK, bold=True))
    y = 225
    for line in text.lines:
        draw_text(draw, (MARGIN, y), line, Pen(30, INK))
        y += 44
    draw_text(draw, (MARGIN, pledge_top), text.pledge_label, Pen(PLEDGE_SIZE, RED))
    pen = Pen(PLEDGE_SIZE, INK)
    for number, line in enumerate(pledge_lines, start=1):
        draw_text(draw, (MARGIN, pledge_top + PLEDGE_LEADING * number), line, pen)
    draw.rectangle((0, height - FOOTER, WIDTH, height), fill=RED)
    draw_text(draw, (MARGIN, height - 42), text.footer, Pen(24, GOLD))
    target.parent.mkdir(parents=True, exist_ok=True)
    image.save(target, format="PNG", optimize=True)
    return target
