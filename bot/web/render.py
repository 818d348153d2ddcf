"""Pages from Jinja2 templates, escaped by default (a rider's ``<script>`` is shown as text),
worded from the bot's message catalogue in the reader's language."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, select_autoescape

from bot.clock import CHINA
from bot.i18n import Catalog

TEMPLATES = Path(__file__).parent / "templates"


def local_time(moment: datetime | None) -> str:
    """Times as the officials read them: Beijing time, to the minute."""
    return moment.astimezone(CHINA).strftime("%Y-%m-%d %H:%M") if moment else "—"


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


class Pages:
    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog
        self._env = Environment(
            loader=FileSystemLoader(TEMPLATES),
            autoescape=select_autoescape(default=True, default_for_string=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._env.filters["when"] = local_time
        self._env.filters["percent"] = percent

    def word(self, lang: str, key: str, /, **params: object) -> str:
        return self._catalog.t(lang, key, **params)

    def render(self, name: str, lang: str, status: int = 200, **values: Any) -> web.Response:
        def t(key: str, /, **params: object) -> str:
            return self._catalog.t(lang, key, **params)

        html = self._env.get_template(name).render(t=t, lang=lang, **values)
        return web.Response(text=html, status=status, content_type="text/html", charset="utf-8")
