"""Platform deliveries already handled: the record that makes handling exactly once."""

from __future__ import annotations

from datetime import datetime

from storage.db import Tx
from storage.timefmt import to_db


async def claim(tx: Tx, key: str, now: datetime) -> bool:
    """Records the delivery; False when it was handled before (a redelivery)."""
    cursor = await tx.execute(
        "INSERT INTO processed_updates (key, processed_at) VALUES (?, ?) "
        "ON CONFLICT(key) DO NOTHING",
        (key, to_db(now)),
    )
    return cursor.rowcount == 1
