"""Chinese text on images, drawn character by character from a chain of shipped fonts.

A rider's name may hold any character the 通用规范汉字表 lists, and some only older
dictionaries have. One font cannot hold them all (an OpenType font stops at 65,535 glyphs),
so each character is drawn by the first font that has it: a Noto Sans SC subset covering the
通用规范汉字表 and GB 18030-2022 implementation level 2, then a Hanazono subset holding
the rest of the ideographs from China's national sources. A character neither font has is
drawn as a boxed code point, so a badge never shows a blank where a name should be.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources

from PIL import ImageDraw, ImageFont

FONT_FILES = ("NotoSansSC-Regular-subset.otf", "HanaMin-subset.ttf")
PROBE_SIZE = 32
NOT_A_CHARACTER = "\U0010fffd"
Colour = tuple[int, int, int]
# Closing marks stay at the end of a line rather than start the next one (行首禁则).
NO_LINE_START = frozenset("，。、；：！？）》」』】〉”’…—,.;:!?)]}%")


@cache
def face(index: int, size: int) -> ImageFont.FreeTypeFont:
    path = resources.files("bot").joinpath("assets", "fonts", FONT_FILES[index])
    with resources.as_file(path) as real_path:
        return ImageFont.truetype(str(real_path), size)


@cache
def _missing_glyph(index: int) -> tuple[tuple[int, int], bytes]:
    mask = face(index, PROBE_SIZE).getmask(NOT_A_CHARACTER)
    return mask.size, bytes(mask)


@lru_cache(maxsize=16384)
def font_for(char: str) -> int | None:
    """Which font draws the character, or None when no shipped font has it.

    Pillow cannot read a font's character map, but a character a font lacks is drawn as
    that font's missing-glyph shape (empty in our subsets), so ink that differs from it
    means the glyph is there.
    """
    if char.isspace():
        return 0
    for index in range(len(FONT_FILES)):
        mask = face(index, PROBE_SIZE).getmask(char)
        if mask.getbbox() is not None and (mask.size, bytes(mask)) != _missing_glyph(index):
            return index
    return None


@dataclass(frozen=True)
class Pen:
    """What a piece of text is drawn with: the size in pixels and the colour."""

    size: int
    fill: Colour
    bold: bool = False


def runs(text: str) -> Iterator[tuple[int | None, str]]:
    """Consecutive characters drawn by the same font, so each run is one Pillow call."""
    current: int | None = None
    start = 0
    for position, char in enumerate(text):
        index = font_for(char)
        if position and index != current:
            yield current, text[start:position]
            start = position
        current = index
    if text:
        yield current, text[start:]


def width(text: str, size: int) -> float:
    return sum(
        size * len(run) if index is None else face(index, size).getlength(run)
        for index, run in runs(text)
    )


def draw_text(draw: ImageDraw.ImageDraw, xy: tuple[float, float], text: str, pen: Pen) -> None:
    x, y = xy
    stroke = 1 if pen.bold else 0
    for index, run in runs(text):
        if index is None:
            for char in run:
                _draw_code_point(draw, (x, y), char, pen)
                x += pen.size
            continue
        font = face(index, pen.size)
        draw.text((x, y), run, font=font, fill=pen.fill, stroke_width=stroke, stroke_fill=pen.fill)
        x += font.getlength(run)


def _draw_code_point(
    draw: ImageDraw.ImageDraw, xy: tuple[float, float], char: str, pen: Pen
) -> None:
    """The last-resort glyph: a box holding the character's code point, as Unicode's own
    Last Resort font does, so the reader sees that a character is there and which."""
    x, y = xy
    size = pen.size
    draw.rectangle((x + 2, y + 4, x + size - 2, y + size), outline=pen.fill, width=2)
    label = f"{ord(char):X}"
    small = face(0, max(8, int(size * 1.6 / max(len(label), 4))))
    left = x + (size - small.getlength(label)) / 2
    draw.text((left, y + size * 0.3), label, font=small, fill=pen.fill)


def wrap(text: str, size: int, line_width: float) -> list[str]:
    """Lines no wider than line_width: Chinese breaks between any two characters, other
    words only at spaces, and closing punctuation never starts a line."""
    lines: list[str] = []
    line = ""
    for token in _tokens(text, size, line_width):
        if line and width(line + token, size) > line_width and token[0] not in NO_LINE_START:
            lines.append(line.rstrip())
            line = token.lstrip()
        else:
            line += token
    if line.strip():
        lines.append(line.rstrip())
    return lines


def _tokens(text: str, size: int, line_width: float) -> Iterator[str]:
    """Each ideograph and space alone; Latin words and numbers whole unless one alone is
    wider than a line."""
    for token in re.findall(r"[!-~]+|.", text, flags=re.DOTALL):
        if len(token) > 1 and width(token, size) > line_width:
            yield from token
        else:
            yield token
