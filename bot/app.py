"""The one factory that builds the bot core; transports and tests both start here."""

from __future__ import annotations

from dataclasses import dataclass

from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.events import Event, Outgoing, Reply
from bot.i18n import Catalog, catalog
from handlers.dispatch import Dispatcher
from handlers.registry import build_registry
from storage import outbox
from storage.db import Database


@dataclass
class App:
    settings: Settings
    clock: Clock
    db: Database
    dispatcher: Dispatcher
    catalog: Catalog

    @classmethod
    async def open(cls, settings: Settings, clock: Clock | None = None) -> App:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        chosen_clock = clock or SystemClock()
        db = await Database.open(settings.db_path)
        messages = catalog()
        dispatcher = Dispatcher(db, settings, chosen_clock, build_registry(), messages)
        return cls(settings, chosen_clock, db, dispatcher, messages)

    async def close(self) -> None:
        await self.db.close()

    async def handle(self, event: Event) -> bool:
        return await self.dispatcher.handle(event)

    async def unsent(self, platform: str) -> list[Outgoing]:
        async with self.db.transaction() as tx:
            return await outbox.unsent(tx, platform)

    async def mark_sent(self, message_id: int) -> None:
        async with self.db.transaction() as tx:
            await outbox.mark_sent(tx, message_id, self.clock.now())

    async def last_buttons(self, user_id: str) -> Reply | None:
        async with self.db.transaction() as tx:
            return await outbox.last_with_buttons(tx, user_id)
