"""Pruning what only matters for a while: delivery records, sent messages, finished timers.

The audit log, declarations, reports and their history are kept.
"""

from __future__ import annotations

from datetime import datetime

from storage.db import Tx
from storage.timefmt import to_db


async def prune(tx: Tx, updates_before: datetime, sent_before: datetime) -> dict[str, int]:
    """Deletes delivery records older than ``updates_before`` (a redelivery comes within
    minutes, not weeks), and sent messages and finished timers older than ``sent_before``."""
    rules = (
        ("processed_updates", "processed_at", updates_before),
        ("outbox", "sent_at", sent_before),
        ("timers", "done_at", sent_before),
    )
    counts = {}
    for table, column, moment in rules:
        cursor = await tx.execute(
            f"DELETE FROM {table} WHERE {column} IS NOT NULL AND {column} < ?", (to_db(moment),)
        )
        counts[table] = cursor.rowcount
    return counts
