"""Whether the bot is doing its work: the answer ``/healthz`` gives a supervisor.

Unhealthy means a rider would notice: the database takes no writes (nothing received can be
kept), or messages wait in the outbox while nothing has been sent for a while (replies are
not going out). Anything slower than that is for the figures, not for the verdict.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.clock import Clock
from storage import health, inbox
from storage.db import Database

PROBE_EVERY_S = 1.0
"""A health checker polling often costs one small write a second at most while all is well."""


@dataclass(frozen=True)
class Health:
    database_writable: bool
    oldest_unsent_s: float | None
    """Age of the oldest message waiting to be sent."""
    last_sent_s: float | None
    """Time since a message was last sent."""
    inbox_waiting: int
    last_update_handled: datetime | None
    outbox_stalled: bool

    @property
    def ok(self) -> bool:
        return self.database_writable and not self.outbox_stalled

    def to_json(self) -> str:
        handled = self.last_update_handled
        return json.dumps(
            {
                "status": "ok" if self.ok else "unhealthy",
                "database_writable": self.database_writable,
                "oldest_unsent_s": _rounded(self.oldest_unsent_s),
                "last_sent_s": _rounded(self.last_sent_s),
                "outbox_stalled": self.outbox_stalled,
                "inbox_waiting": self.inbox_waiting,
                "last_update_handled": handled.isoformat() if handled else None,
            }
        )


def _rounded(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 1)


class HealthCheck:
    def __init__(self, db: Database, clock: Clock, stall: timedelta) -> None:
        self._db = db
        self._clock = clock
        self._stall = stall
        self.last_handled: datetime | None = None
        """When an update was last handled (set by the app)."""

    async def __call__(self) -> Health:
        now = self._clock.now()
        writable = await self._probe(now)
        async with self._db.reading() as tx:
            flow = await health.outbox_flow(tx)
            waiting = await inbox.count_waiting(tx)
        oldest = (now - flow.oldest_unsent).total_seconds() if flow.oldest_unsent else None
        last = (now - flow.last_sent).total_seconds() if flow.last_sent else None
        limit = self._stall.total_seconds()
        stalled = oldest is not None and oldest > limit and (last is None or last > limit)
        return Health(writable, oldest, last, waiting, self.last_handled, stalled)

    async def _probe(self, now: datetime) -> bool:
        """A write of its own, unless one just succeeded: an idle bot has written nothing
        that would show a full disk, and a failing one must be seen to recover at once."""
        if not self._db.failures and time.monotonic() - self._db.committed_at < PROBE_EVERY_S:
            return True
        try:
            async with self._db.transaction() as tx:
                await health.beat(tx, now)
        except sqlite3.Error:
            return False
        return True
