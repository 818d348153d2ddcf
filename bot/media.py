"""Media an event carries, prepared before its transaction so Pillow never holds the lock."""

from __future__ import annotations

from dataclasses import dataclass

from bot.config import Settings
from bot.events import Event, EventKind
from bot.photos import PhotoRejected, StoredPhoto, store_file, store_photo, too_big


@dataclass(frozen=True)
class Media:
    photo: StoredPhoto | None = None
    voice: str | None = None
    problem: PhotoRejected | None = None


def prepare_media(event: Event, settings: Settings) -> Media | None:
    """Checks and stores the event's file; blocking, so it runs in a worker thread."""
    if event.download_failed:
        return Media(problem=PhotoRejected("photo.download_failed"))
    if event.file_size is not None and event.file_size > settings.max_photo_bytes:
        return Media(problem=too_big(settings.max_photo_bytes))
    if event.file is None:
        return None
    try:
        if event.kind in (EventKind.PHOTO, EventKind.DOCUMENT):
            return Media(
                photo=store_photo(
                    event.file,
                    settings.media_dir,
                    settings.max_photo_bytes,
                    settings.max_photo_pixels,
                )
            )
        if event.kind is EventKind.VOICE:
            return Media(
                voice=store_file(event.file, settings.media_dir, settings.max_photo_bytes, "voice")
            )
    except PhotoRejected as problem:
        return Media(problem=problem)
    return None
