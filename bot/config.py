"""Settings: read once from the environment and ``.env``, then passed down frozen.

Only this module reads the environment, so every setting a user can give is listed here
(and in ``.env.example``) and nowhere else.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from dotenv import dotenv_values

DEFAULT_DATA_DIR = Path("nuanxin-data")


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names it."""


@dataclass(frozen=True)
class Secret:
    """A value that never shows up in logs, reprs or tracebacks."""

    value: str = field(repr=False)

    def __repr__(self) -> str:
        return "Secret('***')"

    def __bool__(self) -> bool:
        return bool(self.value)


@dataclass(frozen=True)
class Settings:
    data_dir: Path = DEFAULT_DATA_DIR
    draft_ttl: timedelta = timedelta(minutes=60)
    admins: frozenset[str] = frozenset()
    max_photo_bytes: int = 20 * 1024 * 1024
    max_photo_pixels: int = 50_000_000
    duplicate_radius_m: float = 250.0
    telegram_token: Secret = Secret("")
    telegram_api_url: str = "https://api.telegram.org/bot"
    telegram_file_url: str = "https://api.telegram.org/file/bot"
    telegram_webhook_secret: Secret = Secret("")
    telegram_bot_username: str = ""
    """For join deep links and their QR codes (t.me/<username>?start=join-CODE)."""

    @property
    def db_path(self) -> Path:
        return self.data_dir / "nuanxin.db"

    @property
    def media_dir(self) -> Path:
        return self.data_dir / "media"


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 1) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}")
    return value


def _admins(raw: str) -> frozenset[str]:
    """``telegram:123,wecom:zhangsan,console:admin`` — platform-qualified user ids."""
    ids = {item.strip() for item in raw.split(",") if item.strip()}
    for item in ids:
        platform, _, address = item.partition(":")
        if not platform or not address:
            raise ConfigError(f"NUANXIN_ADMINS entry {item!r} must look like platform:id")
    return frozenset(ids)


def load_settings(
    environ: Mapping[str, str] | None = None,
    *,
    env_file: Path | None = Path(".env"),
    data_dir: Path | None = None,
) -> Settings:
    """Environment variables win over ``.env``; a ``--data-dir`` flag wins over both."""
    env: dict[str, str] = {}
    if env_file is not None and env_file.is_file():
        env.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    env.update(os.environ if environ is None else environ)
    chosen_dir = data_dir or Path(env.get("NUANXIN_DATA_DIR") or DEFAULT_DATA_DIR)
    return Settings(
        data_dir=chosen_dir,
        draft_ttl=timedelta(minutes=_int(env, "NUANXIN_DRAFT_TTL_MINUTES", 60)),
        admins=_admins(env.get("NUANXIN_ADMINS", "")),
        max_photo_bytes=_int(env, "NUANXIN_MAX_PHOTO_MB", 20) * 1024 * 1024,
        max_photo_pixels=_int(env, "NUANXIN_MAX_PHOTO_PIXELS", 50_000_000),
        duplicate_radius_m=float(_int(env, "NUANXIN_DUPLICATE_RADIUS_M", 250)),
        telegram_token=Secret(env.get("TELEGRAM_BOT_TOKEN", "").strip()),
        telegram_api_url=env.get("TELEGRAM_API_URL") or Settings.telegram_api_url,
        telegram_file_url=env.get("TELEGRAM_FILE_URL") or Settings.telegram_file_url,
        telegram_webhook_secret=Secret(env.get("TELEGRAM_WEBHOOK_SECRET", "").strip()),
        telegram_bot_username=env.get("TELEGRAM_BOT_USERNAME", "").strip().lstrip("@"),
    )
