"""A person's rights over what the bot keeps about them (PIPL arts. 45 and 47): a copy of it
all (``/mydata``), withdrawal of the declaration, and erasure of everything.

Withdrawal takes back the declaration and every place its words reached: the messages that
showed it (secretaries' cards are edited in their chats to say so), the name and number quoted
in notes and logs, the badge. The items a rider filed
are the public's and stay, showing the reporter as withdrawn. Erasure goes further: every
row of the person, and the items they filed unless someone else reported them too; an item
still open is erased once it closes (the nightly sweep sees to it).
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.badge import badge_path
from bot.config import Settings
from bot.events import Reply
from bot.i18n import DEFAULT_LANG, Catalog
from bot.photos import remove_stored
from handlers import engine
from handlers.context import Context, rows
from handlers.engine import Flow
from handlers.phone import mask
from handlers.steps import YES_NO, ChoiceStep, Draft
from storage import audit, conversations, declarations, outbox, personal, users
from storage.db import Tx
from storage.declarations import Declaration

STORED_FILE = re.compile(r"\b[0-9a-f]{64}\b")
"""How a stored photo or voice note is named (its sha256), wherever a draft keeps it."""


def needles(declaration: Declaration) -> list[str]:
    """What identifies the person in free text: their name and number (also masked), and
    a pledge in their own words."""
    found = [declaration.name, declaration.phone, mask(declaration.phone)]
    if not declaration.pledge.isascii() and len(declaration.pledge) > 8:
        found.append(declaration.pledge)
    return found


async def withdraw_declaration(
    tx: Tx, catalog: Catalog, settings: Settings, user_id: str, now: datetime
) -> None:
    declaration = await declarations.get(tx, user_id)
    mark = catalog.t(DEFAULT_LANG, "privacy.redacted")
    if declaration is not None:
        await personal.redact(tx, needles(declaration), mark)
    shown = await outbox.showing(tx, user_id)
    langs = await users.langs_of(tx, [recipient for _, recipient in shown])
    for message_id, recipient in shown:
        lang = langs.get(recipient, DEFAULT_LANG)
        withdrawn = Reply(text=catalog.t(lang, "privacy.card_withdrawn"), edit_of=message_id)
        await outbox.add(tx, recipient, withdrawn, now)
    card = Reply(text=catalog.t(DEFAULT_LANG, "privacy.card_withdrawn"))
    await personal.forget_declaration(tx, user_id, card.to_json(), now)
    await asyncio.to_thread(badge_path(settings.media_dir, user_id).unlink, missing_ok=True)


async def erase_person(
    tx: Tx, catalog: Catalog, settings: Settings, user_id: str, actor: str, now: datetime
) -> personal.Erased:
    """Erases what can go now and records the request for what must wait; audited."""
    await withdraw_declaration(tx, catalog, settings, user_id, now)
    conversation = await conversations.get(tx, user_id)
    drafted = draft_files(conversation.draft) if conversation else []
    await personal.ask_erasure(tx, user_id, actor, now)
    erased = await personal.erase(tx, user_id)
    unused = set(erased.files) | (set(drafted) - await personal.files_in_use(tx, drafted))
    await drop_files(settings, unused)
    detail = f"reports={erased.reports} waiting={erased.waiting}"
    await audit.record(tx, actor, "erase", user_id, now, detail)
    return erased


async def finish_erasures(tx: Tx, settings: Settings) -> int:
    """Erases the items of earlier requests that have closed since; how many went."""
    gone = 0
    for user_id in await personal.waiting_erasures(tx):
        erased = await personal.erase(tx, user_id)
        await drop_files(settings, erased.files)
        gone += erased.reports
    return gone


def draft_files(draft: dict[str, Any]) -> list[str]:
    return STORED_FILE.findall(json.dumps(draft))


async def drop_files(settings: Settings, shas: set[str] | tuple[str, ...]) -> None:
    for sha in shas:
        await asyncio.to_thread(remove_stored, settings.media_dir, sha)


async def subject_export(tx: Tx, user_id: str, now: datetime) -> bytes:
    """Everything kept about the person, as JSON a person or an office can read."""
    document = {
        "user": user_id,
        "generated_at": now.isoformat(),
        "tables": await personal.about(tx, user_id),
    }
    return json.dumps(document, ensure_ascii=False, indent=2, default=str).encode("utf-8")


async def my_data(ctx: Context, _: str) -> None:
    """``/mydata``: the copy as a file in chat (removed from the server once sent), with the
    way to erase it all."""
    data = await subject_export(ctx.tx, ctx.user.id, ctx.now)
    target = ctx.settings.data_dir / "exports" / f"mydata-{secrets.token_hex(8)}.json"
    await asyncio.to_thread(_write, target, data)
    await audit.record(ctx.tx, ctx.actor, "subject_export", ctx.user.id, ctx.now)
    buttons = rows([ctx.menu_button("button.erase_all", "erase")], 1)
    await ctx.reply(ctx.t("mydata.ready"), buttons, document=str(target))


def _write(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)


class DeletionFlow(Flow):
    """One question, yes or no; yes runs ``act``."""

    def __init__(self, name: str, act: Callable[[Context], Awaitable[None]]) -> None:
        self.name = name
        self.title_key = f"{name}.title"
        self.steps = (
            ChoiceStep(
                name="confirm",
                field="confirm",
                prompt_key=f"{name}.confirm",
                label_key=None,
                choices=YES_NO,
            ),
        )
        self._act = act

    async def complete(self, ctx: Context, draft: Draft) -> None:
        if draft["confirm"] != "yes":
            await ctx.say(f"{self.name}.kept")
            return
        ctx.forgot = True
        await self._act(ctx)


async def _withdraw_mine(ctx: Context) -> None:
    await withdraw_declaration(ctx.tx, ctx.catalog, ctx.settings, ctx.user.id, ctx.now)
    await ctx.say("withdraw.done")


async def _erase_mine(ctx: Context) -> None:
    me = ctx.user.id
    erased = await erase_person(ctx.tx, ctx.catalog, ctx.settings, me, me, ctx.now)
    if erased.waiting:
        await ctx.say("erase.done_waiting", count=erased.waiting)
    else:
        await ctx.say("erase.done")


WITHDRAWAL = DeletionFlow("withdraw", _withdraw_mine)
ERASURE = DeletionFlow("erase", _erase_mine)


async def withdraw(ctx: Context, _: str) -> None:
    if await declarations.get(ctx.tx, ctx.user.id) is None:
        await ctx.say("withdraw.nothing")
        return
    await engine.begin(ctx, WITHDRAWAL)


async def erase(ctx: Context, _: str) -> None:
    await engine.begin(ctx, ERASURE)
