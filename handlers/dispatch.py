"""Routes each event to an action or to the flow in progress, in one transaction.

The transaction covers the record of the delivery, the conversation, the domain change and the
outbox, so an update handled twice changes nothing the second time, and a reference number is
never announced unless the change behind it committed.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime
from functools import partial

from bot.clock import Clock
from bot.config import Settings
from bot.events import Event, EventKind, Handled, Reply
from bot.i18n import Catalog
from bot.media import Media, prepare_media
from handlers import afterwards, engine
from handlers.actions import Action, Registry, Role, role_of
from handlers.buttons import MENU_SCOPE, Malformed
from handlers.context import Context
from handlers.personal_data import draft_files, drop_files
from storage import conversations, inbox, outbox, personal, turns, users
from storage.conversations import Conversation
from storage.db import Database, is_storage_failure
from storage.owed import Owed

log = logging.getLogger(__name__)

DECODERS = 2
"""Photos decoded at once. A large photo takes a few hundred megabytes while it is decoded;
more at once would not be faster on a small machine, only larger."""


class Dispatcher:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        clock: Clock,
        registry: Registry,
        catalog: Catalog,
    ) -> None:
        self._db = db
        self._settings = settings
        self._clock = clock
        self._registry = registry
        self._catalog = catalog
        self._decoders = ThreadPoolExecutor(DECODERS, thread_name_prefix="decode")
        self.on_committed: Callable[[], None] | None = None
        """Told when an event has committed and work it left is about to start, so what it
        queued (“being prepared”) goes out now, not once the work is done."""

    def close(self) -> None:
        self._decoders.shutdown(cancel_futures=True)

    async def handle(self, event: Event) -> Handled:
        notice: str = ""
        wake_at: tuple[datetime, ...] = ()
        forgot = False
        left_behind: set[str] = set()
        left: list[Owed] = []
        try:
            media = await self._prepare_media(event)
            opening = turns.opening(event.user, event.update_key, self._clock.now)
            async with self._db.transaction_from(opening) as (tx, turn):
                if turn is None:
                    return Handled(fresh=False)
                now, user, authority = turn.now, turn.user, turn.authority
                conversation = turn.conversation
                role = role_of(self._settings, user.id, authority)
                is_admin = role is Role.ADMIN
                ctx = Context(
                    tx=tx,
                    user=user,
                    now=now,
                    settings=self._settings,
                    catalog=self._catalog,
                    conversation=conversation,
                    menu_items=self._registry.menu(),
                    commands=self._registry.commands(role),
                    media=media,
                    is_admin=is_admin,
                    secretary_of=authority.runs,
                )
                await self._expire_stale_draft(ctx)
                await self._route(ctx, event)
                if ctx.conversation is not None:
                    self._db.at_commit(partial(conversations.save_in, conv=ctx.conversation))
                elif conversation is not None:
                    self._db.at_commit(partial(conversations.delete_in, user_id=user.id))
                left_behind = await self._files_left_behind(ctx, conversation)
                notice, wake_at = ctx.notice, tuple(sorted(set(ctx.wake_at)))
                forgot, left = ctx.forgot, ctx.owed
            await drop_files(self._settings, left_behind)
            if forgot:
                await self._db.empty_log()
            if left and self.on_committed is not None:
                self.on_committed()
            for work in left:
                await afterwards.do(self._db, self._settings, self._catalog, self._clock, work)
        except Exception as error:
            if is_storage_failure(error):
                raise
            log.exception(
                "handling %s from %s failed (update %s)", event.kind, event.user, event.update_key
            )
            await self._apologise(event)
        return Handled(fresh=True, notice=notice, wake_at=wake_at)

    @staticmethod
    async def _files_left_behind(ctx: Context, before: Conversation | None) -> set[str]:
        """Photos and voice notes of a form that ended without becoming an item (cancelled,
        expired, replaced by another): nothing holds them any more, so they are deleted."""
        if before is None:
            return set()
        after = ctx.conversation
        if after is not None and after.token == before.token:
            return set()
        drafted = draft_files(before.draft)
        if after is not None:
            drafted = [sha for sha in drafted if sha not in draft_files(after.draft)]
        return set(drafted) - await personal.files_in_use(ctx.tx, drafted, besides=ctx.user.id)

    async def _prepare_media(self, event: Event) -> Media | None:
        """Processes a photo or voice note only when the current step wants one, so files
        sent at random are neither decoded nor kept."""
        if event.file is None and event.file_size is None and not event.download_failed:
            return None
        async with self._db.reading() as tx:
            conv = await conversations.get(tx, event.user)
        flow = self._registry.flows.get(conv.flow) if conv else None
        if conv is None or flow is None or not flow.step(conv.step).takes_media:
            return None
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._decoders, prepare_media, event, self._settings)

    async def _apologise(self, event: Event) -> None:
        """Tells the user something went wrong, and records the delivery so a poisonous
        update is not retried forever."""
        async with self._db.transaction() as tx:
            now = self._clock.now()
            if event.update_key:
                await inbox.claim(tx, event.update_key, now)
            user = await users.touch(tx, event.user, now)
            text = self._catalog.t(user.lang, "error.internal")
            await outbox.add(tx, user.id, Reply(text=text), now)

    async def _expire_stale_draft(self, ctx: Context) -> None:
        conv = ctx.conversation
        if conv is None or ctx.now - conv.updated_at < self._settings.draft_ttl:
            return
        flow = self._registry.flows.get(conv.flow)
        title = ctx.t(flow.title_key) if flow else conv.flow
        minutes = int(self._settings.draft_ttl.total_seconds() // 60)
        await ctx.say("flow.expired", title=title, minutes=minutes)
        ctx.conversation = None

    async def _route(self, ctx: Context, event: Event) -> None:
        if event.kind is EventKind.COMMAND:
            action = self._registry.by_command(event.command)
            if action is None:
                await ctx.say("hint.unknown_command", command=event.command)
                return
            await self._run(ctx, action, event.text, from_button=False)
            return
        if event.kind is EventKind.BUTTON:
            await self._button(ctx, event)
            return
        if ctx.conversation is None:
            await ctx.show_menu("hint.edited" if event.edited else "hint.no_flow")
            return
        await engine.feed(ctx, self._flow(ctx), event)

    async def _button(self, ctx: Context, event: Event) -> None:
        if _holds_oversized_number(event.data):
            ctx.alert("hint.unknown_button")
            return
        scope, _, value = event.data.partition(":")
        if scope == MENU_SCOPE:
            name, _, argument = value.partition(":")
            action = self._registry.by_name(name)
            if action is None:
                ctx.alert("hint.unknown_button")
                return
            await self._run(ctx, action, argument, from_button=True)
            return
        if ctx.conversation is not None and scope == ctx.conversation.token:
            await engine.feed(ctx, self._flow(ctx), replace(event, data=value))
            return
        ctx.alert("hint.stale_button")
        if ctx.conversation is not None:
            await engine.reprompt(ctx, self._flow(ctx))

    async def _run(
        self, ctx: Context, action: Action, argument: str, *, from_button: bool
    ) -> None:
        allowed = {
            Role.RIDER: True,
            Role.SECRETARY: ctx.is_admin or bool(ctx.secretary_of),
            Role.ADMIN: ctx.is_admin,
        }
        if not allowed[action.role]:
            if from_button:
                ctx.alert("hint.not_allowed")
            else:
                await ctx.say("hint.not_allowed")
            return
        if ctx.conversation is not None and action.ends_flow:
            await engine.leave(ctx, self._flow(ctx))
        if ctx.conversation is not None and not action.during_flow:
            flow = self._flow(ctx)
            await ctx.say("flow.busy", title=ctx.t(flow.title_key))
            await engine.reprompt(ctx, flow)
            return
        try:
            await action.run(ctx, argument.strip())
        except Malformed:
            if not from_button:
                raise
            ctx.alert("hint.stale_button")
        if ctx.show_step_again and ctx.conversation is not None:
            await engine.reprompt(ctx, self._flow(ctx))

    def commands(self, role: Role) -> tuple[str, ...]:
        return self._registry.commands(role)

    def _flow(self, ctx: Context) -> engine.Flow:
        assert ctx.conversation is not None
        return self._registry.flows[ctx.conversation.flow]


SQLITE_MAX_INTEGER = 2**63 - 1


def _holds_oversized_number(data: str) -> bool:
    """No button of ours carries a number SQLite cannot hold: such data was forged."""
    runs = re.findall(r"\d+", data)
    return any(len(run) > 19 or int(run) > SQLITE_MAX_INTEGER for run in runs)
