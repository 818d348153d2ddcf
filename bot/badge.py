"""The rider's badge (亮身份 card): a PNG that renders Chinese with the font we ship.

No CJK font comes with a fresh machine, so a subset of Noto Sans SC (OFL) is packaged in
``bot/assets/fonts``; GB2312 covers the names and words riders use.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

FONT_FILE = "NotoSansSC-Regular-subset.otf"
WIDTH, HEIGHT = 900, 560
RED = (196, 30, 36)
GOLD = (255, 215, 120)
INK = (40, 40, 40)


@dataclass(frozen=True)
class BadgeText:
    title: str
    name: str
    lines: tuple[str, ...]
    pledge_label: str
    pledge: str
    footer: str


@cache
def font(size: int) -> ImageFont.FreeTypeFont:
    path = resources.files("bot").joinpath("assets", "fonts", FONT_FILE)
    with resources.as_file(path) as real_path:
        return ImageFont.truetype(str(real_path), size)


def render_badge(text: BadgeText, target: Path) -> Path:
    """Draws the card and writes it; blocking, so callers run it in a worker thread."""
    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, WIDTH, 110), fill=RED)
    draw.text((40, 28), text.title, font=font(44), fill=GOLD, stroke_width=1, stroke_fill=GOLD)
    draw.text((40, 140), text.name, font=font(56), fill=INK, stroke_width=1, stroke_fill=INK)
    y = 225
    for line in text.lines:
        draw.text((40, y), line, font=font(30), fill=INK)
        y += 44
    draw.text((40, y + 8), text.pledge_label, font=font(28), fill=RED)
    for line in textwrap.wrap(text.pledge, width=24)[:3]:
        y += 40
        draw.text((40, y + 12), line, font=font(28), fill=INK)
    draw.rectangle((0, HEIGHT - 50, WIDTH, HEIGHT), fill=RED)
    draw.text((40, HEIGHT - 42), text.footer, font=font(24), fill=GOLD)
    target.parent.mkdir(parents=True, exist_ok=True)
    image.save(target, format="PNG", optimize=True)
    return target
