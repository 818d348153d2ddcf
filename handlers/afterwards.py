"""Work events leave for after their transaction: done at once once the event has committed,
and done again when the bot starts, if a crash came between the event and its answer.

Each kind is a :data:`handlers.context.Job`; what it needs was written down with the event.
A piece of work that fails three times is answered with an apology instead of a fourth try.
"""

from __future__ import annotations

import logging

from bot.clock import Clock
from bot.config import Settings
from bot.events import Reply
from bot.i18n import Catalog
from handlers.context import Afterwards, Job
from handlers.exports import send_export
from handlers.stats import figures_with_chart
from storage import outbox, owed, users
from storage.db import Database
from storage.owed import Owed
from storage.users import User

log = logging.getLogger(__name__)

WORK: dict[str, Job] = {"stats": figures_with_chart, "export": send_export}
TRIES = 3


async def do(db: Database, settings: Settings, catalog: Catalog, clock: Clock, work: Owed) -> None:
    """Does one piece of owed work; raises what it raises (the caller apologises or logs)."""
    async with db.transaction() as tx:
        tries = await owed.begin(tx, work.id)
        lang = await users.lang_of(tx, work.user_id)
        if tries > TRIES or work.kind not in WORK:
            log.error("owed %s for %s given up after %d tries", work.kind, work.user_id, tries)
            text = catalog.t(lang, "error.internal")
            await outbox.add(tx, work.user_id, Reply(text=text), clock.now())
            await owed.settle(tx, work.id)
            return
    later = Afterwards(db, settings, catalog, User(work.user_id, lang), clock.now(), work.id)
    await WORK[work.kind](later, work.payload)


async def catch_up(db: Database, settings: Settings, catalog: Catalog, clock: Clock) -> int:
    """At start: the work a crash left owed, oldest first; returns how much was done."""
    async with db.reading() as tx:
        waiting = await owed.waiting(tx)
    for work in waiting:
        try:
            await do(db, settings, catalog, clock, work)
        except Exception:
            log.exception("owed %s for %s failed again", work.kind, work.user_id)
    return len(waiting)
