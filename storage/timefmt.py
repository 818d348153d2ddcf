"""One text form for instants in the database, so that they sort as they compare."""

from datetime import UTC, datetime


def to_db(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def from_db(text: str) -> datetime:
    """Parsed by ``fromisoformat`` (C, and ten times ``strptime``'s speed: an export of a
    million items parses two million of these)."""
    return datetime.fromisoformat(text)
