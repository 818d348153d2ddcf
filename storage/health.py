"""What a health check asks of the database: does it take a write, and is the outbox moving."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from storage.db import Tx, fetch_one
from storage.timefmt import from_db, to_db


async def beat(tx: Tx, now: datetime) -> None:
    """A one-row write: it fails as any write would when the disk is full or the file is
    read-only."""
    await tx.execute(
        "INSERT INTO heartbeat (id, beat_at) VALUES (1, ?) "
        "ON CONFLICT(id) DO UPDATE SET beat_at = excluded.beat_at",
        (to_db(now),),
    )


@dataclass(frozen=True)
class OutboxFlow:
    oldest_unsent: datetime | None
    """When the oldest message still waiting to be sent was queued."""
    last_sent: datetime | None


async def outbox_flow(tx: Tx) -> OutboxFlow:
    row = await fetch_one(
        tx,
        "SELECT (SELECT created_at FROM outbox WHERE sent_at IS NULL ORDER BY id LIMIT 1) "
        "AS oldest, "
        "(SELECT max(sent_at) FROM outbox WHERE sent_at IS NOT NULL) AS last",
    )
    oldest = row["oldest"] if row else None
    last = row["last"] if row else None
    return OutboxFlow(from_db(oldest) if oldest else None, from_db(last) if last else None)
