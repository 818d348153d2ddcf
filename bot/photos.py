"""The photo pipeline: check, orient, read GPS, strip metadata, shrink, store by hash.

Everything here blocks (Pillow), so callers run it in a worker thread. A photo that is not
accepted raises :class:`PhotoRejected` naming the catalog hint; nothing is written then.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

ACCEPTED_FORMATS = frozenset({"JPEG", "PNG", "WEBP"})
LONG_EDGE = 2048
THUMB_EDGE = 320
GPS_IFD = 0x8825


class PhotoRejected(ValueError):
    def __init__(self, key: str, **params: object) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


@dataclass(frozen=True)
class StoredPhoto:
    sha256: str
    width: int
    height: int
    gps: tuple[float, float] | None
    """Where the photo says it was taken (WGS-84), read before the metadata was dropped."""


def photo_path(media_dir: Path, sha256: str) -> Path:
    return media_dir / "photos" / sha256[:2] / f"{sha256}.jpg"


def thumb_path(media_dir: Path, sha256: str) -> Path:
    return media_dir / "thumbs" / sha256[:2] / f"{sha256}.jpg"


def too_big(max_bytes: int) -> PhotoRejected:
    return PhotoRejected("photo.too_big", max_mb=max_bytes // (1024 * 1024))


def store_photo(source: Path, media_dir: Path, max_bytes: int, max_pixels: int) -> StoredPhoto:
    if source.stat().st_size > max_bytes:
        raise too_big(max_bytes)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(source)
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise PhotoRejected("photo.too_large_image") from None
    except (UnidentifiedImageError, OSError):
        raise PhotoRejected("photo.not_image") from None
    try:
        with image:
            if image.format not in ACCEPTED_FORMATS:
                raise PhotoRejected("photo.not_image")
            # Checked from the header, before any pixel is decoded: a decompression bomb
            # is refused without ever being expanded in memory.
            if image.width * image.height > max_pixels:
                raise PhotoRejected("photo.too_large_image")
            gps = _gps(image)
            upright = ImageOps.exif_transpose(_shrunk(image))
    except PhotoRejected:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise PhotoRejected("photo.corrupt") from None
    clean = upright
    width, height = clean.size
    data = _jpeg(clean, quality=85)
    sha256 = hashlib.sha256(data).hexdigest()
    target = photo_path(media_dir, sha256)
    if not target.exists():
        _write_atomically(target, data)
        clean.thumbnail((THUMB_EDGE, THUMB_EDGE))
        _write_atomically(thumb_path(media_dir, sha256), _jpeg(clean, quality=80))
    return StoredPhoto(sha256, width, height, gps=gps)


def _shrunk(image: Image.Image) -> Image.Image:
    """The photo at the size it is kept at, made with as few full-size copies as can be: a
    JPEG is decoded at a reduced scale where that gives the same result (a draft); anything
    else is converted to RGB as it is decoded (alpha dropped, as the JPEG we keep has none;
    Pillow would otherwise copy the whole picture again to resize it with alpha), then
    reduced by whole pixel boxes and resized; each full-size copy is let go of as soon as
    the next is made. A square box keeps the limit whatever the photo's orientation."""
    image.draft("RGB", (2 * LONG_EDGE, 2 * LONG_EDGE))
    shrinking = image
    if shrinking.mode != "RGB":
        shrinking = image.convert("RGB")
        image.close()
    factor = max(shrinking.size) // (2 * LONG_EDGE)
    if factor > 1:
        shrinking = shrinking.reduce(factor)
    shrinking.thumbnail((LONG_EDGE, LONG_EDGE))
    return shrinking


def stored_file(media_dir: Path, folder: str, sha256: str) -> Path | None:
    """A file :func:`store_file` kept (its name keeps the suffix it came with)."""
    return next((media_dir / folder / sha256[:2]).glob(f"{sha256}*"), None)


def remove_stored(media_dir: Path, sha256: str) -> None:
    """Deletes a stored photo (and its thumbnail) or voice note, whichever it is."""
    for folder in ("photos", "thumbs", "voice"):
        for found in (media_dir / folder / sha256[:2]).glob(f"{sha256}*"):
            found.unlink(missing_ok=True)


def store_file(source: Path, media_dir: Path, max_bytes: int, folder: str) -> str:
    """Keeps a file as it is (a voice note), named by its hash; returns the hash."""
    if source.stat().st_size > max_bytes:
        raise too_big(max_bytes)
    data = source.read_bytes()
    sha256 = hashlib.sha256(data).hexdigest()
    target = media_dir / folder / sha256[:2] / f"{sha256}{source.suffix.lower()}"
    if not target.exists():
        _write_atomically(target, data)
    return sha256


def _jpeg(image: Image.Image, quality: int) -> bytes:
    """Encodes with no EXIF, ICC or comment: only pixels leave the pipeline."""
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality, optimize=True)
    return buffer.getvalue()


def _write_atomically(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, suffix=".part")
    with os.fdopen(handle, "wb") as out:
        out.write(data)
    os.replace(temporary, target)


def _gps(image: Image.Image) -> tuple[float, float] | None:
    try:
        info = image.getexif().get_ifd(GPS_IFD)
        latitude = _degrees(info[2], info.get(1, "N"), "S")
        longitude = _degrees(info[4], info.get(3, "E"), "W")
    except (KeyError, TypeError, ValueError, ZeroDivisionError, IndexError):
        return None
    return round(latitude, 6), round(longitude, 6)


def _degrees(parts: tuple[float, float, float], ref: str | bytes, negative: str) -> float:
    degrees, minutes, seconds = (float(p) for p in parts)
    value = degrees + minutes / 60 + seconds / 3600
    ref_text = ref.decode() if isinstance(ref, bytes) else ref
    return -value if ref_text.strip().upper() == negative else value
