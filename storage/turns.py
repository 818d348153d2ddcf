"""What every event reads before it is handled, taken with the transaction's BEGIN in one trip
to the database thread: the record that it was handled, the user, what they oversee and the
conversation they are in."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from storage import branches, conversations, inbox, users
from storage.branches import Authority
from storage.conversations import Conversation
from storage.users import User


@dataclass(frozen=True)
class Turn:
    now: datetime
    """The time of the event's transaction, read once it holds the writer's lock."""
    user: User
    authority: Authority
    conversation: Conversation | None


def opening(
    user_id: str, update_key: str | None, clock: Callable[[], datetime]
) -> Callable[[sqlite3.Connection], Turn | None]:
    """The opening of an event's transaction (:meth:`storage.db.Database.transaction_from`):
    None when the delivery was handled before (a redelivery), and nothing is then written."""

    def open_turn(conn: sqlite3.Connection) -> Turn | None:
        now = clock()
        if update_key and not inbox.claim_in(conn, update_key, now):
            return None
        user = users.touch_in(conn, user_id, now)
        return Turn(
            now=now,
            user=user,
            authority=branches.authority_in(conn, user.id),
            conversation=conversations.get_in(conn, user.id),
        )

    return open_turn
