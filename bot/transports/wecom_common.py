"""What the WeCom app and the WeChat customer-service account share: WeCom's signed and
encrypted callbacks, what a person typed, their media, and text for clients without
request keyboards or map pins."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from xml.etree.ElementTree import Element

from aiohttp import web
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring

from bot.app import App
from bot.events import Event, EventKind, Reply, Request
from bot.transports.download import DownloadFailed
from bot.transports.wecom_api import WeComClient, WeComError
from bot.transports.wecom_crypto import CryptoError, WeComCrypto
from handlers.geo import wgs84_to_gcj02

MAX_SKEW_S = 300
"""A callback whose timestamp is further than this from now is refused (a replay)."""
TIMESTAMP_DIGITS = 12
"""Seconds since 1970 have ten digits until the year 2286; a longer "timestamp" is forged."""

log = logging.getLogger(__name__)


def fields(xml: str) -> dict[str, str]:
    """The children of a WeCom XML document; DTDs, entities and external references refused."""
    root: Element = fromstring(xml, forbid_dtd=True)
    return {child.tag: (child.text or "").strip() for child in root}


Keep = Callable[[dict[str, str]], Awaitable[None]]
"""Stores what a callback carried; raises when the database does not take it."""


class Callback:
    """Checks and decrypts what WeCom posts to ``path``, keeps it, and only then answers
    "success" (a 500 when it could not be kept: WeCom tries again)."""

    def __init__(self, app: App, crypto: WeComCrypto, path: str, keep: Keep) -> None:
        self._app = app
        self._crypto = crypto
        self._path = path
        self._keep = keep
        self._nonces: dict[tuple[str, str], float] = {}

    def routes(self) -> list[web.RouteDef]:
        return [web.get(self._path, self.verify_url), web.post(self._path, self.receive)]

    def _fresh(self, timestamp: str, nonce: str) -> bool:
        """Within the time window and never seen before."""
        if not timestamp.isdigit() or len(timestamp) > TIMESTAMP_DIGITS:
            return False
        sent = int(timestamp)
        now = self._app.clock.now().timestamp()
        if abs(now - sent) > MAX_SKEW_S:
            return False
        self._nonces = {k: t for k, t in self._nonces.items() if now - t <= 2 * MAX_SKEW_S}
        if (timestamp, nonce) in self._nonces:
            return False
        self._nonces[(timestamp, nonce)] = now
        return True

    async def verify_url(self, request: web.Request) -> web.Response:
        query = request.query
        echo = query.get("echostr", "")
        try:
            self._crypto.check(
                query.get("msg_signature", ""),
                query.get("timestamp", ""),
                query.get("nonce", ""),
                echo,
            )
            return web.Response(text=self._crypto.decrypt(echo))
        except CryptoError:
            log.warning("WeCom URL verification with a bad signature refused")
            return web.Response(status=403)
        except UnicodeDecodeError:
            return web.Response(status=400)

    async def receive(self, request: web.Request) -> web.Response:
        query = request.query
        timestamp, nonce = query.get("timestamp", ""), query.get("nonce", "")
        try:
            outer = fields(await request.text())
            encrypted = outer.get("Encrypt", "")
            self._crypto.check(query.get("msg_signature", ""), timestamp, nonce, encrypted)
            if not self._fresh(timestamp, nonce):
                log.warning("WeCom callback with a stale timestamp or a repeated nonce refused")
                return web.Response(status=403)
            message = fields(self._crypto.decrypt(encrypted))
        except CryptoError:
            log.warning("WeCom callback with a bad signature or ciphertext refused")
            return web.Response(status=403)
        except (ParseError, DefusedXmlException, UnicodeDecodeError):
            log.warning("WeCom callback with malformed or unsafe XML refused")
            return web.Response(status=400)
        try:
            await self._keep(message)
        except Exception:
            log.warning("a WeCom callback could not be kept; WeCom tries again", exc_info=True)
            return web.Response(status=500)
        return web.Response(text="success")


async def typed(app: App, who: str, text: str, key: str) -> Event:
    """What a person typed: a command, a number picking from the numbered list under the
    last message with buttons, or text."""
    if text.startswith("/"):
        head, _, arguments = text[1:].partition(" ")
        return Event(
            who, EventKind.COMMAND, command=head.lower(), text=arguments.strip(), update_key=key
        )
    if text.strip().isdigit():
        last = await app.last_buttons(who)
        buttons = last.flat_buttons() if last else []
        number = int(text)
        if 1 <= number <= len(buttons):
            return Event(who, EventKind.BUTTON, data=buttons[number - 1].data, update_key=key)
    return Event(who, EventKind.TEXT, text=text, update_key=key)


async def media_event(
    app: App, client: WeComClient, who: str, kind: str, media_id: str, key: str
) -> Event:
    """A photo (``image``) or a voice note, fetched from WeCom."""
    file, size = await fetch_media(app, client, media_id)
    return Event(
        who,
        EventKind.PHOTO if kind == "image" else EventKind.VOICE,
        file=file,
        file_size=size,
        download_failed=file is None and size is None,
        update_key=key,
    )


async def fetch_media(
    app: App, client: WeComClient, media_id: str
) -> tuple[Path | None, int | None]:
    """A person's image or voice note and its size; a file over the limit is not kept, and
    its size says so; neither, when WeCom did not hand it over."""
    folder = app.settings.data_dir / "downloads"
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    target = folder / uuid.uuid4().hex
    limit = app.settings.max_photo_bytes
    try:
        size = await client.download(media_id, target, limit)
    except (WeComError, DownloadFailed):
        log.warning("downloading WeCom media %s failed", media_id, exc_info=True)
        return None, None
    return (target, size) if size is not None else (None, limit + 1)


def spoken_text(app: App, reply: Reply, lang: str, hints: str) -> str:
    """A reply's text for a client without request keyboards or map pins: how to send a
    location or a number (catalog keys ``<hints>.share_location``, ``<hints>.type_phone``),
    and a place as its name, address and an Amap link (GCJ-02, as Amap wants)."""
    hint = ""
    if reply.request is Request.LOCATION:
        hint = app.catalog.t(lang, f"{hints}.share_location")
    elif reply.request is Request.CONTACT:
        hint = app.catalog.t(lang, f"{hints}.type_phone")
    text = "\n".join(part for part in (reply.text, hint) if part)
    if reply.venue is not None:
        lat, lon = wgs84_to_gcj02(reply.venue.latitude, reply.venue.longitude)
        link = f"https://uri.amap.com/marker?position={lon:.6f},{lat:.6f}&name={reply.venue.title}"
        text = "\n".join(
            part for part in (text, reply.venue.title, reply.venue.address, link) if part
        )
    return text
