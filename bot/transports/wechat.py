"""Riders in WeChat: the bot as a WeCom 微信客服 (customer-service) account.

A callback only says that an account has something new (with a token valid ten minutes); it is
kept, answered "success", and the messages are then pulled with ``kf/sync_msg``. Each batch
goes into the inbox in one transaction with the cursor that follows it, so a restart resumes
exactly after the last stored batch and a message pulled twice is handled once (by its
``msgid``). Only what the WeChat user sent (origin 3) is taken as theirs; what the account's
human servicers or the system sent is not.

WeChat lets the account write to a person for 48 hours after their message, five messages at
most: the window is kept per rider, and what may not go yet is held in the outbox. The last
message the window allows says how many more wait and offers to show them; the rider's next
message opens a new window, and the held ones follow the answer to it, oldest first. A person
opening the chat grants one welcome message (``send_msg_on_event``), used for the menu.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bot.app import App
from bot.config import Settings
from bot.events import Event, EventKind, Outgoing, Reply
from bot.transports.delivery import (
    Delivery,
    Held,
    Pace,
    Refused,
    Transient,
    within_file_limit,
)
from bot.transports.intake import Intake, handle
from bot.transports.lanes import RETRY_MAX_S, Woken
from bot.transports.wecom_api import FILE_LIMIT, RATE_LIMITED, WeComClient, WeComError
from bot.transports.wecom_common import Callback, media_event, spoken_text, typed
from bot.transports.wecom_crypto import WeComCrypto
from handlers.geo import gcj02_to_wgs84
from storage import kf, outbox, windows
from storage.db import Tx
from storage.inbox import Received

PLATFORM = "wechat"
PATH = "/wecom/kf"
WINDOW = timedelta(hours=48)
QUOTA = 5
"""Messages the account may send after one message of the person's, within ``WINDOW``."""
WELCOME_FOR = timedelta(seconds=20)
WELCOME_KINDS = frozenset({"text", "msgmenu"})
"""What ``send_msg_on_event`` takes."""
TOKEN_LIFE = timedelta(minutes=10)
PULL_LIMIT = 1000
FROM_THE_USER = 3
"""``origin`` of what the WeChat user sent (4: the system, 5: a human servicer)."""
QUOTA_SPENT = 95001
BAD_PULL_TOKEN = frozenset({95007})
MORE = "wechat:more"
"""The click item under the last message a window allows: "show me what is waiting"."""
TEXT_LIMIT = 600
"""Characters per text: WeChat's limit is 2048 bytes, and Chinese takes three each."""
TEXT_PARTS = QUOTA - 2
CONTACT_SCENE = "nuanxin"
PACE = Pace(per_s=None)
"""The window is the limit: five messages per message of the rider's."""
RETRY_FIRST_S = 1.0

log = logging.getLogger(__name__)


def whose(message: dict[str, Any], only: str) -> str:
    """The WeChat user a pulled message is about; "" for what is not for the bot (another
    account's, or what a human servicer or the system wrote in the chat)."""
    if only and message.get("open_kfid") != only:
        return ""
    if message.get("msgtype") == "event":
        return str((message.get("event") or {}).get("external_userid", ""))
    return str(message.get("external_userid", "")) if by_the_user(message) else ""


class Puller(Woken):
    """Pulls what callbacks announced, account by account; a pull that fails is tried again
    with growing pauses and resumes from the stored cursor."""

    POLL_S = 60.0
    """How often to look for pulls left unfinished (a failure, a restart)."""

    def __init__(self, app: App, client: WeComClient, intake: Intake, only: str) -> None:
        super().__init__()
        self._app = app
        self._client = client
        self._intake = intake
        self._only = only
        self._pulling = asyncio.Lock()
        self._pause = RETRY_FIRST_S

    async def _round(self) -> None:
        try:
            await self.pull_due()
            self._pause = RETRY_FIRST_S
            return
        except (WeComError, aiohttp.ClientError, TimeoutError) as trouble:
            log.warning(
                "pulling WeChat messages failed (%s); again in %.0fs", trouble, self._pause
            )
        except Exception:
            log.exception("pulling WeChat messages failed; again in %.0fs", self._pause)
        await asyncio.sleep(self._pause)
        self._pause = min(self._pause * 2, RETRY_MAX_S)
        self.wake.set()

    async def pull_due(self) -> None:
        """Pulls what is due; one pull at a time, so a cursor never goes back."""
        async with self._pulling:
            async with self._app.db.reading() as tx:
                accounts = await kf.due(tx)
            for account in accounts:
                await self._pull(account)

    async def _pull(self, account: kf.Account) -> None:
        """One round: the callback's token first while it is valid (it lifts the call's
        frequency limit), then the cursor; never both in one call."""
        cursor = account.cursor
        now = self._app.clock.now()
        token = account.token if account.token_until and account.token_until > now else ""
        while True:
            body: dict[str, Any] = {
                "open_kfid": account.open_kfid,
                "limit": PULL_LIMIT,
                "voice_format": 0,
            }
            if token:
                body["token"] = token
            elif cursor:
                body["cursor"] = cursor
            try:
                answer = await self._client.call("POST", "kf/sync_msg", json=body)
            except WeComError as bad:
                if not token or bad.code not in BAD_PULL_TOKEN:
                    raise
                log.info("the pull token of %s expired; using the cursor", account.open_kfid)
                await self._forget_token(account.open_kfid)
                token = ""
                continue
            token = ""
            cursor = str(answer.get("next_cursor") or cursor)
            more = bool(answer.get("has_more"))
            await self._keep(account, answer.get("msg_list") or [], cursor, more)
            if not more:
                return

    async def _forget_token(self, open_kfid: str) -> None:
        async with self._app.db.transaction() as tx:
            await kf.forget_token(tx, open_kfid)

    async def _keep(
        self, account: kf.Account, messages: list[dict[str, Any]], cursor: str, more: bool
    ) -> None:
        """The batch and the cursor after it, in one transaction."""
        deliveries: list[Received] = []
        for message in messages:
            if not isinstance(message, dict):
                continue
            user = whose(message, self._only)
            if not user or not message.get("msgid"):
                continue
            key = f"{PLATFORM}:{message['msgid']}"
            deliveries.append(Received(key, PLATFORM, user, message))

        async def along(tx: Tx) -> None:
            await kf.advance(tx, account.open_kfid, cursor, None if more else account.asked)

        await self._intake.accept(deliveries, along)


def sent_at(message: dict[str, Any], now: datetime) -> datetime:
    """When the person wrote (their window runs from then); now, if WeChat does not say."""
    try:
        return min(datetime.fromtimestamp(int(message["send_time"]), now.tzinfo), now)
    except (KeyError, ValueError, TypeError, OverflowError, OSError):
        return now


def by_the_user(message: dict[str, Any]) -> bool:
    """A message the person wrote (a click included): it opens their window again."""
    return message.get("msgtype") != "event" and message.get("origin") == FROM_THE_USER


class Incoming:
    """Turns a kept WeChat message into a core event and has it handled; once the rider has
    written, what was held for them is let go, after the answer."""

    def __init__(self, app: App, client: WeComClient, delivery: Delivery) -> None:
        self._app = app
        self._client = client
        self._delivery = delivery

    async def __call__(self, delivery: Received) -> None:
        message: dict[str, Any] = delivery.payload
        recipient = f"{PLATFORM}:{delivery.chat}"
        try:
            event = await self.event_from(message, recipient, delivery.key)
        except (KeyError, ValueError, TypeError):
            log.warning(
                "WeChat %s message from %s not understood", message.get("msgtype"), recipient
            )
            event = None
        await self._opened(recipient, message)
        notice = await handle(self._app, delivery, event)
        async with self._app.db.transaction() as tx:
            if notice:
                await outbox.add(tx, recipient, Reply(text=notice), self._app.clock.now())
            released = await outbox.release(tx, recipient) if by_the_user(message) else 0
        if released:
            self._delivery.look_again()
        self._delivery.wake.set()

    async def _opened(self, recipient: str, message: dict[str, Any]) -> None:
        """The rider wrote, and their window opens; or they opened the chat, and one welcome
        message may go. Before the answer is queued, so that it can go at once."""
        wrote = sent_at(message, self._app.clock.now())
        via = str(message.get("open_kfid", ""))
        event = message.get("event") or {}
        async with self._app.db.transaction() as tx:
            if by_the_user(message):
                await windows.open_window(tx, recipient, wrote + WINDOW, QUOTA, via)
            elif event.get("event_type") == "enter_session" and event.get("welcome_code"):
                code = str(event["welcome_code"])
                await windows.grant_welcome(tx, recipient, code, wrote + WELCOME_FOR, via)

    async def event_from(self, message: dict[str, Any], who: str, key: str) -> Event | None:
        kind = message.get("msgtype", "")
        if kind == "event":
            return await self._event(who, message["event"], key)
        if kind == "text":
            menu = str(message["text"].get("menu_id", ""))
            if menu == MORE:
                return None
            if menu:
                return Event(who, EventKind.BUTTON, data=menu, update_key=key)
            return await typed(self._app, who, str(message["text"].get("content", "")), key)
        if kind == "location":
            place = message["location"]
            lat, lon = gcj02_to_wgs84(float(place["latitude"]), float(place["longitude"]))
            return Event(who, EventKind.LOCATION, latitude=lat, longitude=lon, update_key=key)
        if kind in ("image", "voice"):
            media = str(message[kind]["media_id"])
            return await media_event(self._app, self._client, who, kind, media, key)
        return Event(who, EventKind.TEXT, text="", update_key=key)

    async def _event(self, who: str, event: dict[str, Any], key: str) -> Event | None:
        """Opening the chat is ``/start`` (with the link's ``scene_param``: ``join-CODE``
        joins that branch); a failed send marks the message."""
        kind = event.get("event_type")
        if kind == "enter_session":
            scene = str(event.get("scene_param", ""))
            return Event(who, EventKind.COMMAND, command="start", text=scene, update_key=key)
        if kind == "msg_send_fail":
            async with self._app.db.transaction() as tx:
                await outbox.failed_after_all(tx, who, str(event.get("fail_msgid", "")))
        return None


def more_item(app: App, lang: str) -> dict[str, Any]:
    return {"type": "click", "click": {"id": MORE, "content": app.catalog.t(lang, "wechat.more")}}


def renderings(app: App, reply: Reply, lang: str) -> list[dict[str, Any]]:
    """The WeChat messages for one reply: its text (the last part a menu when it has
    buttons), then its picture and files (uploaded when sent: ``path``). At most
    ``TEXT_PARTS`` in all, so it fits a window with room to spare: a longer text is cut,
    saying so."""
    reply = within_file_limit(app, reply, lang, FILE_LIMIT)
    files = (("image", reply.photo), ("file", reply.document), ("file", reply.voice))
    media = [{"msgtype": kind, "path": path} for kind, path in files if path]
    room = TEXT_LIMIT * max(1, TEXT_PARTS - len(media))
    text = spoken_text(app, reply, lang, "wechat")
    if len(text) > room:
        text = text[: room - 1] + "…"
    parts: list[dict[str, Any]] = [
        {"msgtype": "text", "text": {"content": text[i : i + TEXT_LIMIT]}}
        for i in range(0, len(text), TEXT_LIMIT)
    ]
    if buttons := reply.flat_buttons():
        head = parts.pop()["text"]["content"] if parts else ""
        items = [{"type": "click", "click": {"id": b.data, "content": b.label}} for b in buttons]
        parts.append({"msgtype": "msgmenu", "msgmenu": {"head_content": head, "list": items}})
    return parts + media


def with_note(
    parts: list[dict[str, Any]], note: str, item: dict[str, Any]
) -> list[dict[str, Any]]:
    """The parts with ``note`` and the click item under their last text."""
    texts = [n for n, part in enumerate(parts) if part["msgtype"] in ("text", "msgmenu")]
    if not texts:
        return parts
    n = texts[-1]
    part = parts[n]
    menu = part.get("msgmenu") or {"head_content": part["text"]["content"], "list": []}
    menu = {**menu, "list": [*menu["list"], item], "tail_content": note}
    return [*parts[:n], {"msgtype": "msgmenu", "msgmenu": menu}, *parts[n + 1 :]]


class WindowedSender:
    """Sends within the rider's window and spends it; holds what the window does not allow."""

    def __init__(self, app: App, client: WeComClient, account: str) -> None:
        self._app = app
        self._client = client
        self._account = account

    async def __call__(self, message: Outgoing) -> str:
        try:
            return await self._send(message)
        except WeComError as bad:
            if bad.code == QUOTA_SPENT:
                raise Held(str(bad)) from bad
            if bad.code in RATE_LIMITED:
                raise Transient(str(bad)) from bad
            raise Refused(str(bad)) from bad
        except (aiohttp.ClientError, TimeoutError) as trouble:
            raise Transient(str(trouble)) from trouble

    async def _send(self, message: Outgoing) -> str:
        app, recipient = self._app, message.recipient
        lang = await app.lang_of(recipient)
        parts = renderings(app, message.reply, lang)
        if not parts:
            return ""
        now = app.clock.now()
        async with app.db.transaction() as tx:
            window = await windows.get(tx, recipient)
            welcome = ""
            if len(parts) == 1 and parts[0]["msgtype"] in WELCOME_KINDS:
                welcome = await windows.take_welcome(tx, recipient, now)
            waiting = await outbox.waiting_for(tx, recipient, message.id)
        via = self._account or (window.via if window else "")
        if welcome:
            try:
                answer = await self._client.call(
                    "POST", "kf/send_msg_on_event", json={"code": welcome, **parts[0]}
                )
                return str(answer.get("msgid", ""))
            except WeComError as bad:
                log.info("the welcome code for %s was refused (%s)", recipient, bad)
        allowed = window.allows(now) if window else 0
        if allowed == 0:
            raise Held("the window is closed")
        if len(parts) > allowed or (len(parts) == allowed and waiting):
            note = app.catalog.t(lang, "wechat.more_waiting", n=waiting + (len(parts) > allowed))
            if len(parts) > allowed:
                only = {"msgtype": "msgmenu", "msgmenu": {"head_content": "", "list": []}}
                await self._deliver(recipient, via, with_note([only], note, more_item(app, lang)))
                raise Held("the window allows no more")
            parts = with_note(parts, note, more_item(app, lang))
        return await self._deliver(recipient, via, parts)

    async def _deliver(self, recipient: str, via: str, parts: list[dict[str, Any]]) -> str:
        """Sends the parts one by one, spending the window as each is taken."""
        sent = ""
        user = recipient.split(":", 1)[1]
        for part in parts:
            payload = dict(part)
            if path := payload.pop("path", None):
                kind = payload["msgtype"]
                payload[kind] = {"media_id": await self._client.upload(kind, Path(path))}
            answer = await self._client.call(
                "POST", "kf/send_msg", json={"touser": user, "open_kfid": via, **payload}
            )
            sent = str(answer.get("msgid", ""))
            async with self._app.db.transaction() as tx:
                await windows.spend(tx, recipient, 1)
        return sent


async def contact_url(client: WeComClient, account: str) -> tuple[str, str]:
    """The account's link that opens a chat with it (the bot's first account when none is
    set), from ``kf/add_contact_way``: the account and the link."""
    if not account:
        listed = await client.call("POST", "kf/account/list", json={"offset": 0, "limit": 100})
        accounts = listed.get("account_list") or []
        if not accounts:
            raise WeComError(95004, "no customer-service account")
        account = str(accounts[0]["open_kfid"])
    answer = await client.call(
        "POST", "kf/add_contact_way", json={"open_kfid": account, "scene": CONTACT_SCENE}
    )
    return account, str(answer["url"])


class WeChat:
    """The customer-service callback, the pull, the inbox and the windowed delivery."""

    def __init__(self, app: App, settings: Settings) -> None:
        self.app = app
        self.client = WeComClient(
            settings.wecom_api_url,
            settings.wecom_corp_id,
            settings.wecom_kf_secret.value,
            "",
            settings.download_timeout_s,
        )
        crypto = WeComCrypto(
            settings.wecom_kf_token.value, settings.wecom_kf_aes_key.value, settings.wecom_corp_id
        )
        self._account = settings.wecom_kf_open_kfid
        self.delivery = Delivery(
            app, PLATFORM, WindowedSender(app, self.client, self._account), PACE
        )
        self.intake = Intake(app, PLATFORM, Incoming(app, self.client, self.delivery))
        self.puller = Puller(app, self.client, self.intake, self._account)
        self.callback = Callback(app, crypto, PATH, self._asked)
        self._linking: asyncio.Task[None] | None = None

    async def _asked(self, message: dict[str, str]) -> None:
        """A callback: which account has news, and the token to pull it with."""
        account = message.get("OpenKfId", "")
        if message.get("Event") != "kf_msg_or_event" or not account:
            return
        if self._account and account != self._account:
            return
        until = self.app.clock.now() + TOKEN_LIFE
        async with self.app.db.transaction() as tx:
            await kf.ask(tx, account, message.get("Token", ""), until)
        self.puller.wake.set()

    def routes(self) -> list[web.RouteDef]:
        return self.callback.routes()

    async def start(self) -> None:
        async with self.app.db.transaction() as tx:
            await outbox.release_where_open(tx, self.app.clock.now())
        self.intake.start()
        self.delivery.start()
        self.puller.start()
        self._linking = asyncio.create_task(self._remember_contact_url())

    def wake(self) -> None:
        self.delivery.wake.set()

    async def stop(self) -> None:
        if self._linking is not None:
            self._linking.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._linking
        await self.puller.stop()
        await self.intake.stop()
        await self.delivery.stop()
        await self.client.close()

    async def linked(self) -> None:
        """Returns once the account's contact link is known (tests)."""
        if self._linking is not None:
            await asyncio.shield(self._linking)

    async def _remember_contact_url(self) -> None:
        """Join posters need the account's link: asked for once and kept."""
        async with self.app.db.reading() as tx:
            if await kf.contact_url(tx):
                return
        pause = RETRY_FIRST_S
        while True:
            try:
                account, url = await contact_url(self.client, self._account)
            except (WeComError, aiohttp.ClientError, TimeoutError) as trouble:
                log.warning("the WeChat contact link is not available yet: %s", trouble)
                await asyncio.sleep(pause)
                pause = min(pause * 2, 600.0)
                continue
            async with self.app.db.transaction() as tx:
                await kf.set_contact_url(tx, account, url)
            return
