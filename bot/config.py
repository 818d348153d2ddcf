"""Settings: read once from the environment and ``.env``, then passed down frozen.

Only this module reads the environment, so every setting a user can give is listed here
(and in ``.env.example``) and nowhere else.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, time, timedelta
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


Span = tuple[time, time]
RIDER_PEAKS: tuple[Span, ...] = ((time(10, 30), time(13, 30)), (time(16, 30), time(20, 30)))


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
    telegram_rate: float = 30.0
    """Messages a second to Telegram in all; up to 1000 with paid broadcasts; 0: no limit."""
    telegram_chat_rate: float = 1.0
    """Messages a second to one chat (after a short burst); 0: no limit."""
    web_url: str = ""
    """The web console's public base URL, for the links ``/web`` sends."""
    map_tiles: str = ""
    """The console map's tiles: ``URL template|attribution[|gcj02]``; none: a plain map."""
    cli_lang: str = "zh"
    """What the command line says its summaries and refusals in: zh or en."""
    telegram_bot_username: str = ""
    """For join deep links and their QR codes (t.me/<username>?start=join-CODE)."""
    wecom_corp_id: str = ""
    wecom_agent_id: str = ""
    wecom_secret: Secret = Secret("")
    wecom_token: Secret = Secret("")
    wecom_aes_key: Secret = Secret("")
    wecom_api_url: str = "https://qyapi.weixin.qq.com/cgi-bin"
    wecom_kf_secret: Secret = Secret("")
    """The 微信客服 secret: riders in WeChat reach the bot as a customer-service account."""
    wecom_kf_token: Secret = Secret("")
    wecom_kf_aes_key: Secret = Secret("")
    wecom_kf_open_kfid: str = ""
    """The one account the bot answers; every account the secret reaches when empty."""
    quiet_hours: tuple[Span, ...] = RIDER_PEAKS
    """Riders' peaks, Asia/Shanghai: non-urgent pushes wait until a peak ends."""
    ack_working_days: int = 1
    answer_working_days: int = 5
    deadline_warning: timedelta = timedelta(hours=4)
    """How long before a deadline the secretaries are reminded."""
    digest_at: time = time(8, 0)
    reminder_hours: tuple[int, ...] = (24, 1)
    """Hours before an activity at which those who accepted are reminded."""
    checkin_radius_m: float = 300.0
    station_radius_m: float = 5000.0
    """How far from a rider a warm station is still offered."""
    download_timeout_s: float = 20.0
    """How long a file a user sent may take to arrive before they are asked to send it again."""
    max_storage_failures: int = 30
    """Writes the database refuses in a row (a full disk) before the process exits non-zero,
    for its supervisor to restart it; meanwhile nothing unstored is acknowledged."""
    outbox_stall: timedelta = timedelta(minutes=10)
    """``/healthz`` answers 503 when messages have waited this long while none was sent."""
    calendar: Mapping[date, bool] = field(default_factory=dict)
    """Days the operator declares, True for a working day: a year's holidays and make-up days
    (调休) before ``chinese-calendar`` knows them, or a local day off. They win over the
    package."""

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


def _lang(env: Mapping[str, str], name: str) -> str:
    wanted = env.get(name, "").strip().lower() or "zh"
    if wanted not in ("zh", "en"):
        raise ConfigError(f"{name} must be zh or en, not {wanted!r}")
    return wanted


def _rate(env: Mapping[str, str], name: str, default: float, *, most: float) -> float:
    """Messages a second: a number from 0 (no limit) to ``most``."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be messages a second, like 30, not {raw!r}") from None
    if not 0 <= value <= most:
        raise ConfigError(f"{name} must be between 0 (no limit) and {most:g}")
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
        telegram_rate=_rate(env, "NUANXIN_TELEGRAM_RATE", 30.0, most=1000.0),
        telegram_chat_rate=_rate(env, "NUANXIN_TELEGRAM_CHAT_RATE", 1.0, most=30.0),
        telegram_bot_username=env.get("TELEGRAM_BOT_USERNAME", "").strip().lstrip("@"),
        cli_lang=_lang(env, "NUANXIN_LANG"),
        web_url=env.get("NUANXIN_WEB_URL", "").strip(),
        map_tiles=env.get("NUANXIN_MAP_TILES", "").strip(),
        wecom_corp_id=env.get("WECOM_CORP_ID", "").strip(),
        wecom_agent_id=env.get("WECOM_AGENT_ID", "").strip(),
        wecom_secret=Secret(env.get("WECOM_SECRET", "").strip()),
        wecom_token=Secret(env.get("WECOM_TOKEN", "").strip()),
        wecom_aes_key=Secret(env.get("WECOM_AES_KEY", "").strip()),
        wecom_api_url=(env.get("WECOM_API_URL") or Settings.wecom_api_url).rstrip("/"),
        wecom_kf_secret=Secret(env.get("WECOM_KF_SECRET", "").strip()),
        wecom_kf_token=Secret(env.get("WECOM_KF_TOKEN", "").strip()),
        wecom_kf_aes_key=Secret(env.get("WECOM_KF_AES_KEY", "").strip()),
        wecom_kf_open_kfid=env.get("WECOM_KF_OPEN_KFID", "").strip(),
        quiet_hours=_spans(env.get("NUANXIN_QUIET_HOURS")),
        ack_working_days=_int(env, "NUANXIN_ACK_WORKING_DAYS", 1),
        answer_working_days=_int(env, "NUANXIN_ANSWER_WORKING_DAYS", 5),
        deadline_warning=timedelta(hours=_int(env, "NUANXIN_DEADLINE_WARNING_HOURS", 4)),
        digest_at=_clock_time("NUANXIN_DIGEST_AT", env.get("NUANXIN_DIGEST_AT") or "08:00"),
        reminder_hours=_hours_list(env.get("NUANXIN_REMINDER_HOURS") or "24,1"),
        checkin_radius_m=float(_int(env, "NUANXIN_CHECKIN_RADIUS_M", 300)),
        station_radius_m=float(_int(env, "NUANXIN_STATION_RADIUS_M", 5000)),
        download_timeout_s=float(_int(env, "NUANXIN_DOWNLOAD_TIMEOUT_SECONDS", 20)),
        max_storage_failures=_int(env, "NUANXIN_MAX_STORAGE_FAILURES", 30),
        outbox_stall=timedelta(seconds=_int(env, "NUANXIN_HEALTH_STALL_SECONDS", 600)),
        calendar=_calendar(env.get("NUANXIN_CALENDAR_FILE", "").strip()),
    )


DAY_KINDS = {"off": False, "休": False, "work": True, "班": True}


def _calendar(path: str) -> dict[date, bool]:
    """Lines ``2027-01-01,off`` or ``2027-02-07,work`` (also 休 / 班); ``#`` starts a comment."""
    if not path:
        return {}
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except OSError as bad:
        raise ConfigError(
            f"NUANXIN_CALENDAR_FILE {path!r} cannot be read: {bad.strerror or bad}"
        ) from None
    days: dict[date, bool] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        entry = line.split("#", 1)[0].strip()
        if not entry:
            continue
        day, _, kind = (part.strip() for part in entry.partition(","))
        try:
            days[date.fromisoformat(day)] = DAY_KINDS[kind.lower()]
        except (ValueError, KeyError):
            raise ConfigError(
                f"NUANXIN_CALENDAR_FILE line {number} must look like 2027-01-01,off "
                f"or 2027-02-07,work, not {entry!r}"
            ) from None
    return days


def _hours_list(raw: str) -> tuple[int, ...]:
    try:
        hours = tuple(sorted({int(part) for part in raw.split(",") if part.strip()}, reverse=True))
    except ValueError:
        raise ConfigError(f"NUANXIN_REMINDER_HOURS must be hours like 24,1, not {raw!r}") from None
    if not hours or min(hours) < 1:
        raise ConfigError("NUANXIN_REMINDER_HOURS must list whole hours of at least 1")
    return hours


def _clock_time(name: str, raw: str) -> time:
    try:
        hours, minutes = raw.strip().split(":")
        return time(int(hours), int(minutes))
    except ValueError:
        raise ConfigError(f"{name} must look like 08:00, not {raw!r}") from None


def _spans(raw: str | None) -> tuple[Span, ...]:
    """``10:30-13:30,16:30-20:30``; unset means the riders' usual peaks, empty means none."""
    if raw is None:
        return RIDER_PEAKS
    spans = []
    for item in filter(None, (part.strip() for part in raw.split(","))):
        start, _, end = item.partition("-")
        first = _clock_time("NUANXIN_QUIET_HOURS", start)
        last = _clock_time("NUANXIN_QUIET_HOURS", end)
        if not first < last:
            raise ConfigError(f"NUANXIN_QUIET_HOURS span {item!r} must end after it starts")
        spans.append((first, last))
    return tuple(spans)
