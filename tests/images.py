"""Real image files for tests, made with Pillow: photos with EXIF, bombs, broken files."""

from __future__ import annotations

import random
import struct
import zlib
from pathlib import Path

import cv2
from PIL import Image
from PIL.TiffImagePlugin import IFDRational

MAKE, MODEL, ORIENTATION, GPS_IFD = 0x010F, 0x0110, 0x0112, 0x8825


def _dms(value: float) -> tuple[IFDRational, IFDRational, IFDRational]:
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = round((value - degrees - minutes / 60) * 3600 * 100)
    return IFDRational(degrees, 1), IFDRational(minutes, 1), IFDRational(seconds, 100)


def photo(
    path: Path,
    *,
    size: tuple[int, int] = (1600, 1200),
    gps: tuple[float, float] | None = None,
    seed: int = 1,
    orientation: int | None = None,
    fmt: str = "JPEG",
) -> Path:
    """A camera-like photo: noisy pixels, the camera's make and model, optionally GPS."""
    rng = random.Random(seed)
    image = Image.new("RGB", size, (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    for _ in range(40):
        x, y = rng.randrange(size[0]), rng.randrange(size[1])
        image.paste((rng.randrange(256), 0, 0), (x, y, min(x + 80, size[0]), min(y + 40, size[1])))
    exif = Image.Exif()
    exif[MAKE] = "Canon"
    exif[MODEL] = "EOS R6"
    if orientation:
        exif[ORIENTATION] = orientation
    if gps:
        info = exif.get_ifd(GPS_IFD)
        info[1], info[2] = ("N" if gps[0] >= 0 else "S"), _dms(abs(gps[0]))
        info[3], info[4] = ("E" if gps[1] >= 0 else "W"), _dms(abs(gps[1]))
    image.save(path, format=fmt, exif=exif.tobytes())
    return path


def png_bomb(path: Path, side: int = 20000) -> Path:
    """A small file declaring a huge picture: a decompression bomb."""
    raw = zlib.compress(b"\x00" * (side + 1) * 64, 9)
    chunks = [
        (b"IHDR", struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)),
        (b"IDAT", raw),
        (b"IEND", b""),
    ]
    data = b"\x89PNG\r\n\x1a\n"
    for kind, body in chunks:
        data += struct.pack(">I", len(body)) + kind + body
        data += struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    path.write_bytes(data)
    return path


def corrupt_jpeg(path: Path) -> Path:
    photo(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    return path


def huge_file(path: Path, megabytes: int = 30) -> Path:
    """A real JPEG padded past the size limit."""
    photo(path, size=(64, 64))
    with path.open("ab") as out:
        out.write(b"\0" * megabytes * 1024 * 1024)
    return path


def decode_qr(path: Path) -> str:
    """What a phone camera would read from a QR code picture."""
    picture = cv2.imread(str(path))
    assert picture is not None, f"{path} is not an image"
    text, _, _ = cv2.QRCodeDetector().detectAndDecode(picture)
    return text
