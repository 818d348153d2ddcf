"""The message catalog: every user-facing string, Chinese first, English second.

Strings live in ``messages.toml`` as ``[key] zh = … en = …`` so a missing translation shows
up right beside its original. Placeholders use ``str.format`` names. English counts things:
an entry may name its counting placeholder (``plural = "count"``) and give the singular
(``en_one``), used when that count is 1.
"""

from __future__ import annotations

import re
import tomllib
from functools import cache
from importlib import resources

LANGS: tuple[str, ...] = ("zh", "en")
PLURAL = "plural"
"""An entry's field naming the placeholder that counts; ``<lang>_one`` is its singular."""
DEFAULT_LANG = "zh"


class Refusal(ValueError):
    """A request the rules refuse, explained by the catalog entry ``key`` filled with
    ``params``; a parameter that is itself a refusal is explained in the same language."""

    def __init__(self, key: str, **params: object) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


class Catalog:
    def __init__(self, messages: dict[str, dict[str, str]]) -> None:
        self._messages = messages

    def all_keys(self) -> set[str]:
        return set(self._messages)

    def entry(self, key: str) -> dict[str, str]:
        return self._messages[key]

    def t(self, lang: str, key: str, /, **params: object) -> str:
        """The text for ``key`` in ``lang``, falling back to Chinese; a missing key raises."""
        params = {
            name: _inner(self.explain(lang, value)) if isinstance(value, Refusal) else value
            for name, value in params.items()
        }
        entry = self._messages[key]
        template = entry.get(lang) or entry[DEFAULT_LANG]
        counted = entry.get(PLURAL)
        if counted and params.get(counted) == 1 and f"{lang}_one" in entry:
            template = entry[f"{lang}_one"]
        return template.format(**params) if params else template

    def explain(self, lang: str, refusal: Refusal) -> str:
        return self.t(lang, refusal.key, **refusal.params)


def _inner(explanation: str) -> str:
    """A refusal quoted inside another sentence, without the sign (⚠️) it opens with alone."""
    return re.sub(r"^[^\w“「（(]+", "", explanation)


@cache
def catalog() -> Catalog:
    raw = resources.files("bot").joinpath("messages.toml").read_text(encoding="utf-8")
    return Catalog(tomllib.loads(raw))
