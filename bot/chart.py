"""Bar charts for admins' statistics, drawn with Pillow and the fonts we ship (no plotting
library: three horizontal bar groups do not need one)."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

from bot.badge import INK, RED
from bot.typeface import Pen, draw_text

Group = tuple[str, list[tuple[str, int]]]
WIDTH = 900
ROW = 40
LABEL_W = 300


def render_bars(title: str, groups: list[Group], target: Path) -> Path:
    """Blocking; callers run it in a worker thread."""
    rows = sum(len(bars) + 2 for _, bars in groups)
    image = Image.new("RGB", (WIDTH, 90 + rows * ROW), "white")
    draw = ImageDraw.Draw(image)
    draw_text(draw, (30, 24), title, Pen(36, RED))
    y = 90
    for group_title, bars in groups:
        draw_text(draw, (30, y), group_title, Pen(28, INK))
        y += ROW + 4
        widest = max((value for _, value in bars), default=0) or 1
        for label, value in bars:
            draw_text(draw, (50, y), label[:14], Pen(24, INK))
            length = int((WIDTH - LABEL_W - 120) * value / widest)
            draw.rectangle((LABEL_W, y + 4, LABEL_W + max(length, 2), y + ROW - 10), fill=RED)
            draw_text(draw, (LABEL_W + length + 10, y), str(value), Pen(24, INK))
            y += ROW
        y += ROW - 4
    target.parent.mkdir(parents=True, exist_ok=True)
    image.save(target, format="PNG", optimize=True)
    return target
