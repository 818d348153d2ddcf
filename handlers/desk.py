"""What the web console does, as the person signed in: the chat's own actions, run in one
transaction each, with the same role rules, history, audit log, pushes and card edits.

A chat action answers in the chat; from the desk, the words it would have said there are
returned to be shown on the page instead (see :attr:`Context.via`).
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from pathlib import Path

from bot.clock import Clock
from bot.config import Settings
from bot.i18n import Catalog
from handlers.actions import Role, role_of
from handlers.context import Context
from handlers.exports import FORMATS, WHAT, write_file
from handlers.handling import VERBS_WITH_NOTE, apply, forward
from handlers.review import branch_of, conclude
from storage import audit, branches, declarations, reports, users, web
from storage.db import Database, Tx
from storage.timefmt import to_db
from storage.users import User

WEB = "web"
LINK_LIFETIME = timedelta(minutes=10)
SESSION_LIFETIME = timedelta(hours=12)


async def sign_in_link(ctx: Context, _: str) -> None:
    """``/web``: a link that signs this secretary or admin in to the console, once, within
    ten minutes; only its hash is kept."""
    base = ctx.settings.web_url.rstrip("/")
    if not base:
        await ctx.say("web.not_served")
        return
    token = secrets.token_urlsafe(24)
    await web.add_link(ctx.tx, token, ctx.user.id, ctx.now)
    minutes = int(LINK_LIFETIME.total_seconds() // 60)
    await ctx.say("web.link", url=f"{base}/signin/{token}", minutes=minutes)


@dataclass(frozen=True)
class Desk:
    """A secretary or an admin at the console."""

    user_id: str
    is_admin: bool
    runs: frozenset[int]

    @property
    def scope(self) -> frozenset[int] | None:
        """The organisations whose items and people they see; None: all of them."""
        return None if self.is_admin else self.runs

    def handles(self, branch_id: int | None) -> bool:
        return self.is_admin or (branch_id is not None and branch_id in self.runs)


async def desk_of(tx: Tx, settings: Settings, user_id: str) -> Desk | None:
    """The person's desk, or None for a rider: the same rule as the chat's."""
    authority = await branches.authority(tx, user_id)
    role = role_of(settings, user_id, authority)
    if role is Role.RIDER:
        return None
    return Desk(user_id, role is Role.ADMIN, authority.runs)


class Result(StrEnum):
    DONE = "done"
    REFUSED = "refused"
    """Not theirs to act on."""
    CHANGED = "changed"
    """Someone changed the item since the page was drawn: nothing was done."""
    GONE = "gone"
    MALFORMED = "malformed"
    """Not an action the console offers: a hand-made request."""


@dataclass(frozen=True)
class Outcome:
    result: Result
    said: tuple[str, ...] = ()
    """What the action would have said in the chat: its confirmation or why it could not."""


ITEM_VERBS = frozenset({"ack", "fwd", *VERBS_WITH_NOTE})


class DeskActions:
    """The console's actions; each one is a transaction, after which the outbox sends."""

    def __init__(self, db: Database, settings: Settings, clock: Clock, catalog: Catalog) -> None:
        self._db = db
        self._settings = settings
        self._clock = clock
        self._catalog = catalog

    @asynccontextmanager
    async def _as(self, user_id: str) -> AsyncIterator[tuple[Context, Desk | None]]:
        async with self._db.transaction() as tx:
            now = self._clock.now()
            user = User(user_id, await users.lang_of(tx, user_id))
            desk = await desk_of(tx, self._settings, user_id)
            yield (
                Context(
                    tx=tx,
                    user=user,
                    now=now,
                    settings=self._settings,
                    catalog=self._catalog,
                    is_admin=desk.is_admin if desk else False,
                    secretary_of=desk.runs if desk else frozenset(),
                    via=WEB,
                ),
                desk,
            )

    async def act_on_item(
        self, user_id: str, ref: str, verb: str, note: str, seen: str
    ) -> Outcome:
        """``verb`` as the chat card's buttons name it; ``seen``: the item's last change as
        the page showed it."""
        async with self._as(user_id) as (ctx, desk):
            report = await reports.get(ctx.tx, ref)
            if report is None:
                return Outcome(Result.GONE)
            if verb not in ITEM_VERBS:
                return Outcome(Result.MALFORMED)
            if desk is None or not desk.handles(report.branch_id):
                return Outcome(Result.REFUSED)
            if to_db(report.updated_at) != seen:
                return Outcome(Result.CHANGED)
            if verb == "fwd":
                await forward(ctx, report)
                done = True
            else:
                status = VERBS_WITH_NOTE.get(verb, "acknowledged")
                done = await apply(ctx, report, status, note.strip())
            return Outcome(Result.DONE if done else Result.REFUSED, tuple(ctx.shown))

    async def review_declaration(
        self, user_id: str, rider: str, verified: bool, reason: str
    ) -> Outcome:
        async with self._as(user_id) as (ctx, desk):
            declaration = await declarations.get(ctx.tx, rider)
            if declaration is None:
                return Outcome(Result.GONE)
            if desk is None or not desk.handles(await branch_of(ctx, rider)):
                return Outcome(Result.REFUSED)
            if declaration.status != "pending":
                return Outcome(Result.CHANGED)
            if not verified and not reason.strip():
                return Outcome(Result.REFUSED, (ctx.t("web.reason_needed"),))
            await conclude(
                ctx, declaration, "verified" if verified else "rejected", reason.strip()
            )
            return Outcome(Result.DONE, tuple(ctx.shown))

    async def export(self, user_id: str, what: str, fmt: str) -> Path | None:
        """An admin's export, written off the event loop from one snapshot, phone numbers
        masked; None for anyone else. Audited like the chat's."""
        async with self._as(user_id) as (ctx, desk):
            if desk is None or not desk.is_admin or what not in WHAT or fmt not in FORMATS:
                return None
            if fmt == "open311" and what != "hazards":
                return None
            await audit.record(ctx.tx, ctx.actor, "export", what, ctx.now, fmt)
            name = f"{what}-{ctx.now:%Y%m%d-%H%M%S}-{secrets.token_hex(4)}.{fmt}"
        target = self._settings.data_dir / "exports" / name
        await write_file(self._db, target, what, fmt, unmasked=False)
        return target
