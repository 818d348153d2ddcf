"""The WeCom (企业微信) transport: a self-built app's callback server in, the server API out.

A callback is kept in the inbox, then answered "success" (within WeCom's five seconds: one
small commit), and handled after, one at a time per member; a database that takes no writes
gets a 500, and WeCom tries again. A message WeCom delivers again is recognised by its
``MsgId`` (a string, not always a number), an event by sender, time and key, and a message
without an id by sender, time and content. Replies go through the shared outbox delivery,
paced under WeCom's limit of about 30 messages a minute per member.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element

import aiohttp
from aiohttp import web
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring

from bot.app import App
from bot.config import Settings
from bot.events import Event, EventKind, Outgoing, Reply, Request
from bot.scheduler import Scheduler
from bot.serving import serve
from bot.transports.delivery import (
    Delivery,
    Pace,
    Refused,
    SendOne,
    Transient,
    Unreachable,
)
from bot.transports.download import DownloadFailed
from bot.transports.intake import Intake, handle
from bot.transports.site import Site
from bot.transports.wecom_api import NOT_A_MEMBER, RATE_LIMITED, WeComClient, WeComError
from bot.transports.wecom_crypto import CryptoError, WeComCrypto
from handlers.geo import gcj02_to_wgs84, wgs84_to_gcj02
from handlers.handling import BRANCH_GROUP
from storage.inbox import Received

PLATFORM = "wecom"
PATH = "/wecom"
MAX_SKEW_S = 300
"""A callback whose timestamp is further than this from now is refused (a replay)."""
TIMESTAMP_DIGITS = 12
"""Seconds since 1970 have ten digits until the year 2286; a longer "timestamp" is forged."""
PACE = Pace(burst=10, per_s=0.5)
"""WeCom drops, silently, more than about 30 messages a minute to one member."""
ROBOT_PACE = Pace(burst=5, per_s=15 / 60)
"""A group robot takes at most 20 messages a minute; alerts waiting meanwhile are merged."""
TEXT_LIMIT = 600
"""Characters per text message: WeCom's limit is 2048 bytes, and Chinese takes three each."""
CARD_BUTTONS = 6

log = logging.getLogger(__name__)


class WeComStartError(RuntimeError):
    """The bot cannot start on WeCom; the message says which setting is missing."""


def required(settings: Settings) -> None:
    missing = [
        name
        for name, value in (
            ("WECOM_CORP_ID", settings.wecom_corp_id),
            ("WECOM_AGENT_ID", settings.wecom_agent_id),
            ("WECOM_SECRET", settings.wecom_secret.value),
            ("WECOM_TOKEN", settings.wecom_token.value),
            ("WECOM_AES_KEY", settings.wecom_aes_key.value),
        )
        if not value
    ]
    if missing:
        raise WeComStartError(f"set {', '.join(missing)}")


def fields(xml: str) -> dict[str, str]:
    """The children of a WeCom XML document; DTDs, entities and external references refused."""
    root: Element = fromstring(xml, forbid_dtd=True)
    return {child.tag: (child.text or "").strip() for child in root}


def delivery_key(message: dict[str, str]) -> str:
    """What names one delivery, so that WeCom's retries are handled once: the sender and the
    ``MsgId`` (unique per company, the sender added in case it is not); for
    an event, its sender, time and key; for a message without an id, its sender, time and a
    digest of its content (two different messages in one second stay two)."""
    sender, sent = message.get("FromUserName", ""), message.get("CreateTime", "")
    if message.get("MsgType") == "event":
        return (
            f"{PLATFORM}:{sender}:{sent}:{message.get('Event', '')}:{message.get('EventKey', '')}"
        )
    if msg_id := message.get("MsgId"):
        return f"{PLATFORM}:{sender}:{msg_id}"
    content = json.dumps(message, sort_keys=True, ensure_ascii=False).encode()
    return f"{PLATFORM}:{sender}:{sent}:{hashlib.sha256(content).hexdigest()[:16]}"


class Callback:
    """Checks and decrypts what WeCom posts, keeps it, and only then answers "success"."""

    def __init__(self, app: App, crypto: WeComCrypto, intake: Intake) -> None:
        self._app = app
        self._crypto = crypto
        self._intake = intake
        self._nonces: dict[tuple[str, str], float] = {}

    def routes(self) -> list[web.RouteDef]:
        return [web.get(PATH, self.verify_url), web.post(PATH, self.receive)]

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
        sender = message.get("FromUserName", "")
        if not sender:
            return web.Response(text="success")
        try:
            await self._intake.accept(
                [Received(delivery_key(message), PLATFORM, sender, dict(message))]
            )
        except Exception:
            log.warning("a WeCom callback could not be kept; WeCom tries again", exc_info=True)
            return web.Response(status=500)
        return web.Response(text="success")


class Incoming:
    """Turns a kept WeCom message into a core event and has it handled (the intake keeps
    each member's messages in order)."""

    def __init__(self, app: App, client: WeComClient, wake: Callable[[], None]) -> None:
        self._app = app
        self._client = client
        self._wake = wake
        self._downloads = app.settings.data_dir / "downloads"
        self._downloads.mkdir(parents=True, exist_ok=True)

    async def __call__(self, delivery: Received) -> None:
        message: dict[str, str] = delivery.payload
        try:
            event = await self.event_from(message, delivery.key)
        except (KeyError, ValueError):
            log.warning(
                "WeCom %s message from %s not understood", message.get("MsgType"), delivery.chat
            )
            event = None
        notice = await handle(self._app, delivery, event)
        if notice is None:
            return
        if notice:
            await self._tell(delivery.chat, notice)
        self._wake()

    async def _tell(self, member: str, notice: str) -> None:
        """WeCom has no pop-up: a remark about a tap (an expired button, another role's
        button) comes as a message."""
        try:
            await self._client.send(
                {"touser": member, "msgtype": "text", "text": {"content": notice}}
            )
        except (WeComError, aiohttp.ClientError, TimeoutError):
            log.warning("could not tell %s %r", member, notice, exc_info=True)

    async def event_from(self, message: dict[str, str], key: str) -> Event | None:
        who = f"{PLATFORM}:{message['FromUserName']}"
        kind = message.get("MsgType", "")
        if kind == "text":
            text = message.get("Content", "")
            if text.startswith("/"):
                head, _, arguments = text[1:].partition(" ")
                return Event(
                    who,
                    EventKind.COMMAND,
                    command=head.lower(),
                    text=arguments.strip(),
                    update_key=key,
                )
            if text.strip().isdigit() and (data := await self._numbered(who, int(text))):
                return Event(who, EventKind.BUTTON, data=data, update_key=key)
            return Event(who, EventKind.TEXT, text=text, update_key=key)
        if kind == "location":
            lat, lon = gcj02_to_wgs84(float(message["Location_X"]), float(message["Location_Y"]))
            return Event(who, EventKind.LOCATION, latitude=lat, longitude=lon, update_key=key)
        if kind in ("image", "voice"):
            file, size = await self._download(message.get("MediaId", ""))
            return Event(
                who,
                EventKind.PHOTO if kind == "image" else EventKind.VOICE,
                file=file,
                file_size=size,
                download_failed=file is None and size is None,
                update_key=key,
            )
        if kind == "event":
            return self._event(who, message, key)
        return Event(who, EventKind.TEXT, text="", update_key=key)

    def _event(self, who: str, message: dict[str, str], key: str) -> Event | None:
        name = message.get("Event", "")
        if name in ("click", "template_card_event"):
            return Event(who, EventKind.BUTTON, data=message.get("EventKey", ""), update_key=key)
        if name == "enter_agent":
            return Event(who, EventKind.COMMAND, command="start", update_key=key)
        return None

    async def _numbered(self, who: str, number: int) -> str | None:
        """A number typed in answer to the numbered list under the last message with buttons."""
        last = await self._app.last_buttons(who)
        buttons = last.flat_buttons() if last else []
        return buttons[number - 1].data if 1 <= number <= len(buttons) else None

    async def _download(self, media_id: str) -> tuple[Path | None, int | None]:
        """The file and its size; a file over the limit is not kept, and its size says so;
        neither, when WeCom did not hand it over."""
        target = self._downloads / uuid.uuid4().hex
        limit = self._app.settings.max_photo_bytes
        try:
            size = await self._client.download(media_id, target, limit)
        except (WeComError, DownloadFailed):
            log.warning("downloading WeCom media %s failed", media_id, exc_info=True)
            return None, None
        return (target, size) if size is not None else (None, limit + 1)


def numbered(reply: Reply) -> str:
    lines = [f"{n}. {button.label}" for n, button in enumerate(reply.flat_buttons(), start=1)]
    return "\n".join(lines)


def chunks(text: str) -> list[str]:
    return [text[i : i + TEXT_LIMIT] for i in range(0, len(text), TEXT_LIMIT)] or [""]


def renderings(app: App, reply: Reply, address: str, task: str, lang: str) -> list[dict[str, Any]]:
    """The WeCom messages for one reply, files aside. Up to six buttons become a template
    card; more, a numbered list the member answers with a number."""
    hint = ""
    if reply.request is Request.LOCATION:
        hint = app.catalog.t(lang, "wecom.share_location")
    elif reply.request is Request.CONTACT:
        hint = app.catalog.t(lang, "wecom.type_phone")
    text = "\n".join(part for part in (reply.text, hint) if part)
    if reply.venue is not None:
        lat, lon = wgs84_to_gcj02(reply.venue.latitude, reply.venue.longitude)
        link = f"https://uri.amap.com/marker?position={lon:.6f},{lat:.6f}&name={reply.venue.title}"
        text = "\n".join(
            part for part in (text, reply.venue.title, reply.venue.address, link) if part
        )
    buttons = reply.flat_buttons()
    if buttons and len(buttons) <= CARD_BUTTONS:
        title, _, rest = text.partition("\n")
        card = {
            "card_type": "button_interaction",
            "main_title": {"title": title[:36]},
            "sub_title_text": rest[:1000],
            "task_id": task,
            "button_list": [{"text": b.label[:30], "style": 1, "key": b.data} for b in buttons],
        }
        return [{"touser": address, "msgtype": "template_card", "template_card": card}]
    if buttons:
        text = f"{text}\n{app.catalog.t(lang, 'wecom.reply_number')}\n{numbered(reply)}"
    return [
        {"touser": address, "msgtype": "text", "text": {"content": part}}
        for part in chunks(text)
        if part
    ]


def sender(app: App, client: WeComClient) -> SendOne:
    async def send_one(message: Outgoing) -> str:
        reply, address = message.reply, message.address
        task = f"nx{message.id}{uuid.uuid4().hex[:8]}"
        try:
            sent = ""
            lang = await app.lang_of(message.recipient)
            for payload in renderings(app, reply, address, task, lang):
                sent = await client.send(payload)
            for kind, path in (("image", reply.photo), ("file", reply.document)):
                if path:
                    media = await client.upload(kind, Path(path))
                    sent = await client.send(
                        {"touser": address, "msgtype": kind, kind: {"media_id": media}}
                    )
            return sent
        except WeComError as bad:
            if bad.code in NOT_A_MEMBER:
                raise Unreachable(str(bad)) from bad
            if bad.code in RATE_LIMITED:
                raise Transient(str(bad)) from bad
            raise Refused(str(bad)) from bad
        except (aiohttp.ClientError, TimeoutError) as trouble:
            raise Transient(str(trouble)) from trouble

    return send_one


def robot_sender(app: App, client: WeComClient) -> SendOne:
    """Posts a branch's group messages (``group:<branch id>``) to its group robot."""

    async def send_one(message: Outgoing) -> str:
        webhook = await app.robot_webhook(int(message.address))
        if not webhook:
            raise Unreachable("the branch has no group robot any more")
        try:
            await client.post_robot(webhook, message.reply.text[: TEXT_LIMIT * 3])
        except WeComError as bad:
            raise (Transient if bad.code in RATE_LIMITED else Refused)(str(bad)) from bad
        except (aiohttp.ClientError, TimeoutError) as trouble:
            raise Transient(str(trouble)) from trouble
        return ""

    return send_one


class WeComRunner:
    """The callback server, the delivery worker and the scheduler, started and stopped together."""

    def __init__(self, app: App, settings: Settings) -> None:
        required(settings)
        self.app = app
        self.client = WeComClient(
            settings.wecom_api_url,
            settings.wecom_corp_id,
            settings.wecom_secret.value,
            settings.wecom_agent_id,
            settings.download_timeout_s,
        )
        crypto = WeComCrypto(
            settings.wecom_token.value, settings.wecom_aes_key.value, settings.wecom_corp_id
        )
        self.delivery = Delivery(app, PLATFORM, sender(app, self.client), PACE)
        self.robots = Delivery(
            app, BRANCH_GROUP, robot_sender(app, self.client), ROBOT_PACE, merge=True
        )
        self.intake = Intake(app, PLATFORM, Incoming(app, self.client, self.wake))
        self.callback = Callback(app, crypto, self.intake)
        self.scheduler = Scheduler(app, after_run=self.wake)
        app.on_queued = self.wake
        self._site = Site(app, self.callback.routes())

    def wake(self) -> None:
        self.delivery.wake.set()
        self.robots.wake.set()

    @property
    def port(self) -> int:
        return self._site.port

    async def start(self, listen: str) -> None:
        self.intake.start()
        await self._site.start(listen)
        self.delivery.start()
        self.robots.start()
        await self.scheduler.start()

    async def stop(self) -> None:
        self.scheduler.stop()
        await self._site.stop()
        await self.intake.stop()
        await self.delivery.stop()
        await self.robots.stop()
        await self.client.close()


async def run_wecom(settings: Settings, listen: str) -> None:
    async def launch(app: App) -> WeComRunner:
        runner = WeComRunner(app, settings)
        await runner.start(listen)
        log.info("nuanxin is listening for WeCom on %s%s", listen, PATH)
        return runner

    await serve(settings, launch)
