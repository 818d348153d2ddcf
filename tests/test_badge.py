"""What a badge shows: every character of a rider's name and the whole pledge."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest
from fontTools.ttLib import TTFont
from PIL import Image, ImageChops

from bot import typeface
from bot.badge import MARGIN, BadgeText, render_badge

GIVEN_NAME_CHARACTERS = "祎玥喆堃珺镕赟彧垚璟瑄旻䶮𬭎"
TONGYONG_GUIFAN = (Path(__file__).parent / "data" / "tongyong-guifan-hanzi.txt").read_text()
NAME_SIZE, NAME_TOP = 56, 140


@cache
def font_characters(file: str) -> frozenset[int]:
    with TTFont(Path(typeface.__file__).parent / "assets" / "fonts" / file) as font:
        return frozenset(font.getBestCmap())


def badge(tmp_path: Path, name: str, pledge: str = "安全配送") -> Image.Image:
    text = BadgeText("亮身份", name, ("平台：美团",), "承诺", pledge, "暖新")
    with Image.open(render_badge(text, tmp_path / f"{len(name)}-{ord(name[-1])}.png")) as image:
        return image.copy()


def inked(image: Image.Image, box: tuple[int, int, int, int]) -> bool:
    region = image.crop(box).convert("L")
    return ImageChops.invert(region).getbbox() is not None


def test_the_first_font_holds_the_tongyong_guifan_table_and_gb18030_level_2() -> None:
    assert len(TONGYONG_GUIFAN) == 8105
    first = font_characters(typeface.FONT_FILES[0])
    missing = [c for c in TONGYONG_GUIFAN if ord(c) not in first]
    assert missing == []
    assert sum(1 for c in TONGYONG_GUIFAN if ord(c) > 0xFFFF) == 196
    assert all(code in first for code in range(0x4E00, 0x9FA6))
    assert all(code in first for code in range(0x3400, 0x4DB6))


def test_each_character_is_drawn_by_a_font_that_has_it() -> None:
    shipped = [font_characters(file) for file in typeface.FONT_FILES]
    rare = "𠀀𪜁𫝈𫠡𬺲"  # Extensions B, C, D, E and F: only the second font has them
    for char in GIVEN_NAME_CHARACTERS + rare:
        index = typeface.font_for(char)
        assert index is not None, char
        assert ord(char) in shipped[index]
        assert all(ord(char) not in shipped[before] for before in range(index))
    assert {typeface.font_for(c) for c in rare} == {1}


@pytest.mark.parametrize("char", list(GIVEN_NAME_CHARACTERS + "𠀀𬺲"))
def test_a_badge_draws_every_character_of_a_name(tmp_path: Path, char: str) -> None:
    image = badge(tmp_path, "王" + char)
    second_character = (MARGIN + NAME_SIZE + 2, NAME_TOP, MARGIN + 2 * NAME_SIZE, NAME_TOP + 80)
    assert inked(image, second_character), char


def test_a_character_no_font_has_is_shown_as_its_code_point_not_a_blank(tmp_path: Path) -> None:
    unknown = "\U00031350"  # Extension H: newer than both fonts
    assert typeface.font_for(unknown) is None
    image = badge(tmp_path, "王" + unknown)
    box = (MARGIN + NAME_SIZE + 2, NAME_TOP, MARGIN + 2 * NAME_SIZE, NAME_TOP + 80)
    assert inked(image, box)


def test_a_pledge_of_200_characters_is_drawn_whole(tmp_path: Path) -> None:
    pledge = ("我承诺安全配送，遇到隐患随手拍" + GIVEN_NAME_CHARACTERS + "。") * 7
    pledge = pledge[:200]
    short = badge(tmp_path, "王祎")
    long = badge(tmp_path, "王祎玥", pledge)
    lines = typeface.wrap(pledge, 28, long.width - 2 * MARGIN)
    assert "".join(lines) == pledge
    assert len(lines) >= 7
    assert long.height > short.height
    last_line = (MARGIN, long.height - 50 - 70, long.width - MARGIN, long.height - 50)
    assert inked(long, last_line)


def test_lines_break_between_characters_but_not_before_closing_marks() -> None:
    line_width = typeface.width("我" * 10, 28)
    lines = typeface.wrap("我" * 10 + "。继续 nuanxin", 28, line_width)
    assert lines == ["我" * 10 + "。", "继续 nuanxin"]
