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

import aiohttp
from aiohttp import web

from bot.app import App
from bot.config import Settings
from bot.events import Event, EventKind, Outgoing, Reply
from bot.scheduler import Scheduler
from bot.serving import serve
from bot.transports.delivery import (
    Delivery,
    Pace,
    Refused,
    SendOne,
    Transient,
    Unreachable,
    within_file_limit,
)
from bot.transports.intake import Intake, handle
from bot.transports.site import Site
from bot.transports.wechat import PATH as WECHAT_PATH
from bot.transports.wechat import WeChat
from bot.transports.wecom_api import (
    FILE_LIMIT,
    NOT_A_MEMBER,
    PLATFORM,
    RATE_LIMITED,
    WeComClient,
    WeComError,
)
from bot.transports.wecom_common import Callback, Keep, media_event, spoken_text, typed
from bot.transports.wecom_crypto import WeComCrypto
from handlers.geo import gcj02_to_wgs84
from handlers.handling import BRANCH_GROUP
from storage.inbox import Received

PATH = "/wecom"
PACE = Pace(burst=10, per_s=0.5)
"""WeCom drops, silently, more than about 30 messages a minute to one member."""
ROBOT_PACE = Pace(burst=5, per_s=15 / 60)
"""A group robot takes at most 20 messages a minute; alerts waiting meanwhile are merged."""
TEXT_LIMIT = 600
"""Characters per text message: WeCom's limit is 2048 bytes, and Chinese takes three each."""
CARD_BUTTONS = 6
CARD = "card:"
"""Marks what a card was delivered as: the code that updates it (a handler's card settled by
another handler shows who did what, its buttons gone)."""
CARD_LABEL = 30

log = logging.getLogger(__name__)


class WeComStartError(RuntimeError):
    """The bot cannot start on WeCom; the message says which setting is missing."""


def required(settings: Settings) -> tuple[bool, bool]:
    """Which of the self-built app and the WeChat customer-service account are configured;
    a start error naming what is missing when one is half set up, or neither is."""
    app = (
        ("WECOM_AGENT_ID", settings.wecom_agent_id),
        ("WECOM_SECRET", settings.wecom_secret.value),
        ("WECOM_TOKEN", settings.wecom_token.value),
        ("WECOM_AES_KEY", settings.wecom_aes_key.value),
    )
    kf = (
        ("WECOM_KF_SECRET", settings.wecom_kf_secret.value),
        ("WECOM_KF_TOKEN", settings.wecom_kf_token.value),
        ("WECOM_KF_AES_KEY", settings.wecom_kf_aes_key.value),
    )
    has_app, has_kf = (any(value for _, value in part) for part in (app, kf))
    wanted = [("WECOM_CORP_ID", settings.wecom_corp_id)]
    wanted += [*app] if has_app or not has_kf else []
    wanted += [*kf] if has_kf else []
    missing = [name for name, value in wanted if not value]
    if missing:
        raise WeComStartError(f"set {', '.join(missing)}")
    return has_app or not has_kf, has_kf


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


def keeper(intake: Intake) -> Keep:
    """A member's message or event goes into the inbox."""

    async def keep(message: dict[str, str]) -> None:
        sender = message.get("FromUserName", "")
        if sender:
            await intake.accept([Received(delivery_key(message), PLATFORM, sender, message)])

    return keep


class Incoming:
    """Turns a kept WeCom message into a core event and has it handled (the intake keeps
    each member's messages in order)."""

    def __init__(self, app: App, client: WeComClient, wake: Callable[[], None]) -> None:
        self._app = app
        self._client = client
        self._wake = wake

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
            return await typed(self._app, who, message.get("Content", ""), key)
        if kind == "location":
            lat, lon = gcj02_to_wgs84(float(message["Location_X"]), float(message["Location_Y"]))
            return Event(who, EventKind.LOCATION, latitude=lat, longitude=lon, update_key=key)
        if kind in ("image", "voice"):
            media = message.get("MediaId", "")
            return await media_event(self._app, self._client, who, kind, media, key)
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


def numbered(reply: Reply) -> str:
    lines = [f"{n}. {button.label}" for n, button in enumerate(reply.flat_buttons(), start=1)]
    return "\n".join(lines)


def chunks(text: str) -> list[str]:
    return [text[i : i + TEXT_LIMIT] for i in range(0, len(text), TEXT_LIMIT)] or [""]


def renderings(app: App, reply: Reply, address: str, task: str, lang: str) -> list[dict[str, Any]]:
    """The WeCom messages for one reply, files aside. Up to six buttons become a template
    card; more, a numbered list the member answers with a number."""
    text = spoken_text(app, reply, lang, "wecom")
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
        """Returns ``card:<response_code>`` for a card with buttons (what updating it takes),
        else WeCom's message id."""
        reply, address = message.reply, message.address
        task = f"nx{message.id}{uuid.uuid4().hex[:8]}"
        try:
            if reply.edit_of is not None:
                earlier = await app.delivered_as(reply.edit_of) or ""
                if earlier.startswith(CARD):
                    label = reply.text.rsplit("\n", 1)[-1][:CARD_LABEL]
                    await client.settle_card(address, earlier.removeprefix(CARD), label)
                    return earlier
            sent, card = "", ""
            lang = await app.lang_of(message.recipient)
            reply = within_file_limit(app, reply, lang, FILE_LIMIT)
            for payload in renderings(app, reply, address, task, lang):
                answer = await client.send(payload)
                sent, card = str(answer.get("msgid", "")), str(answer.get("response_code") or card)
            files = (("image", reply.photo), ("file", reply.document), ("file", reply.voice))
            for kind, path in files:
                if path:
                    media = await client.upload(kind, Path(path))
                    await client.send(
                        {"touser": address, "msgtype": kind, kind: {"media_id": media}}
                    )
            return f"{CARD}{card}" if card else sent
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


class MemberApp:
    """The self-built app: its callback, its members' inbox and deliveries, group robots."""

    def __init__(self, app: App, settings: Settings, wake: Callable[[], None]) -> None:
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
        self.intake = Intake(app, PLATFORM, Incoming(app, self.client, wake))
        self.callback = Callback(app, crypto, PATH, keeper(self.intake))

    def routes(self) -> list[web.RouteDef]:
        return self.callback.routes()

    async def start(self) -> None:
        self.intake.start()
        self.delivery.start()
        self.robots.start()

    def wake(self) -> None:
        self.delivery.wake.set()
        self.robots.wake.set()

    async def stop(self) -> None:
        await self.intake.stop()
        await self.delivery.stop()
        await self.robots.stop()
        await self.client.close()


class WeComRunner:
    """The callback server (the app at ``/wecom``, the WeChat account at ``/wecom/kf``, as
    configured), their workers and the scheduler, started and stopped together."""

    def __init__(self, app: App, settings: Settings) -> None:
        has_app, has_kf = required(settings)
        self.app = app
        self.member_app = MemberApp(app, settings, self.wake) if has_app else None
        self.wechat = WeChat(app, settings) if has_kf else None
        self._parts: list[MemberApp | WeChat] = [
            part for part in (self.member_app, self.wechat) if part is not None
        ]
        self.scheduler = Scheduler(app, after_run=self.wake)
        app.on_queued = self.wake
        self._site = Site(app, [route for part in self._parts for route in part.routes()])

    def _app_part(self) -> MemberApp:
        if self.member_app is None:
            raise LookupError("the WeCom app is not configured")
        return self.member_app

    @property
    def intake(self) -> Intake:
        return self._app_part().intake

    @property
    def delivery(self) -> Delivery:
        return self._app_part().delivery

    @property
    def robots(self) -> Delivery:
        return self._app_part().robots

    def wake(self) -> None:
        for part in self._parts:
            part.wake()

    @property
    def port(self) -> int:
        return self._site.port

    async def start(self, listen: str) -> None:
        for part in self._parts:
            await part.start()
        await self._site.start(listen)
        await self.scheduler.start()

    async def stop(self) -> None:
        self.scheduler.stop()
        await self._site.stop()
        for part in self._parts:
            await part.stop()


async def run_wecom(settings: Settings, listen: str, web: str | None = None) -> None:
    async def launch(app: App) -> WeComRunner:
        runner = WeComRunner(app, settings)
        await runner.start(listen)
        paths = [
            path
            for path, part in ((PATH, runner.member_app), (WECHAT_PATH, runner.wechat))
            if part
        ]
        log.info("nuanxin is listening for WeCom on %s at %s", listen, ", ".join(paths))
        return runner

    await serve(settings, launch, web)
