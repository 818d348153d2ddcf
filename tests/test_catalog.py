"""Every user-facing string exists in Chinese and English, with the same placeholders."""

from __future__ import annotations

import re
import string
from pathlib import Path

from bot.i18n import LANGS, PLURAL, catalog

ROOT = Path(__file__).resolve().parent.parent


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_every_message_has_every_language_with_the_same_placeholders() -> None:
    messages = catalog()
    for key in messages.all_keys():
        entry = messages.entry(key)
        languages = {name for name in entry if name in LANGS}
        assert languages == set(LANGS), key
        assert all(entry[lang].strip() for lang in LANGS), key
        assert placeholders(entry["zh"]) == placeholders(entry["en"]), key
        if counted := entry.get(PLURAL):
            assert counted in placeholders(entry["en"]) and "en_one" in entry, key
            assert set(entry) == {*LANGS, "en_one", PLURAL}, key
            assert placeholders(entry["en_one"]) <= placeholders(entry["en"]), key
        else:
            assert set(entry) == set(LANGS), key


def test_english_counts_one_thing_in_the_singular() -> None:
    messages = catalog()
    assert messages.t("en", "branch.list_title", count=1) == "🏠 1 organisation:"
    assert messages.t("en", "branch.list_title", count=2) == "🏠 2 organisations:"
    one = messages.t("en", "join.line", ref="SQ-1", about="", count=1)
    assert one.endswith("(1 rider)")
    assert messages.t("zh", "join.line", ref="SQ-1", about="", count=1).endswith("（1人反映）")


def test_every_literal_key_in_the_code_is_in_the_catalog() -> None:
    known = catalog().all_keys()
    groups = {key.split(".")[0] for key in known}
    literal = re.compile(r'"((?:{})\.[a-z_]+)"'.format("|".join(sorted(groups))))
    sources = [*ROOT.glob("bot/**/*.py"), *ROOT.glob("handlers/**/*.py")]
    used = {m for path in sources for m in literal.findall(path.read_text(encoding="utf-8"))}
    assert used, "the scan found no keys at all"
    assert used - known == set()


def test_every_message_a_code_names_exists() -> None:
    """Keys built from codes (a kind, an amenity, a status) escape the literal scan above."""
    from handlers import activities, broadcast, declare, exports, organisation, stations
    from handlers.actions import Role
    from handlers.registry import build_registry

    built = [
        *(f"activity.kind.{k}" for k in activities.KINDS),
        *(f"activity.recurrence.{r}" for r in activities.RECURRENCES),
        *(f"activity.{v}" for v in ("yes", "no")),
        *(f"activity.answered_{v}" for v in ("yes", "no")),
        *(f"stations.amenity.{a}" for a in stations.AMENITIES),
        *(f"stations.filter.{f}" for f in stations.FILTERS),
        *(f"branch.kind.{k}" for k in organisation.KINDS),
        *(f"review.status.{s}" for s in ("pending", "verified", "rejected")),
        *(f"review.{p}_{s}" for p in ("done", "you") for s in ("verified", "rejected")),
        *(f"deadline.{p}_{s}" for p in ("soon", "overdue") for s in ("ack", "answer")),
        *(f"handle.ask_{v}" for v in ("res", "rej", "dup")),
        *(f"export.{w}" for w in exports.WHAT),
        *(f"broadcast.audience.{a.value}" for a in broadcast.AUDIENCES),
        *(f"command.{c}" for c in build_registry().commands(Role.ADMIN)),
        *(f"political.{p.value}" for p in declare.POLITICAL_STATUSES),
        *(f"duty.{d.value}" for d in declare.DUTIES),
    ]
    assert [key for key in built if key not in catalog().all_keys()] == []
