"""The Telegram transport: python-telegram-bot in, our events through the core, replies out.

Updates are kept in the inbox before Telegram is told they arrived (long polling confirms an
update by asking for the ones after it; a webhook by answering 200), then handled one chat at
a time, chats side by side. Replies are not sent by the handler: the core writes them to the
outbox inside its transaction, and one delivery worker sends what is unsent. So a crash loses
nothing a rider sent, never loses a confirmation that was committed, and never announces one
that was not.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeChat,
    BotCommandScopeDefault,
    InputFile,
    Message,
    Update,
)
from telegram.error import BadRequest, Forbidden, InvalidToken, TelegramError
from telegram.ext import AIORateLimiter

from bot.app import App
from bot.config import Settings
from bot.events import Event, EventKind, Outgoing, Reply, Request
from bot.scheduler import Scheduler
from bot.serving import serve
from bot.transports.delivery import (
    MB,
    Delivery,
    Pace,
    Refused,
    SendOne,
    Transient,
    Unreachable,
    within_file_limit,
)
from bot.transports.download import DownloadFailed, Downloads
from bot.transports.intake import Intake, handle
from bot.transports.lanes import RETRY_MAX_S
from bot.transports.site import Site
from bot.transports.telegram_http import AiohttpRequest, JsonBot
from storage.inbox import Received

PLATFORM = "telegram"
TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
POLL_TIMEOUT_S = 10
POLL_READ_S = 5.0
"""How long an answer to a poll may take beyond the poll's own time."""
SEND_TIMEOUT_S = 60.0
"""How long an answer to a send is waited for. Telegram can take seconds under load; a send
given up too early is sent again, and the rider reads it twice."""


class TelegramStartError(RuntimeError):
    """The bot cannot start (no token, a rejected token); the message says which."""


FREE_RATE = 30.0
"""Messages a second Telegram allows a bot overall, free of charge."""


@dataclass(frozen=True)
class Limits:
    """Telegram's flood limits: about 30 messages a second overall, and about one a second in
    one chat, where a short burst passes. ``UNLIMITED`` measures the bot's own capacity."""

    overall_per_s: float = FREE_RATE
    """0 lifts the overall cap."""
    chat_burst: int = 3
    chat_per_s: float | None = 1.0
    """None lifts the per-chat pace."""
    retry_after_max: int = 5

    @property
    def pace(self) -> Pace:
        return Pace(burst=self.chat_burst, per_s=self.chat_per_s)

    @property
    def paid(self) -> bool:
        """Above Telegram's free rate, bulk messages go as paid broadcasts."""
        return self.overall_per_s > FREE_RATE

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        """``NUANXIN_TELEGRAM_RATE`` and ``NUANXIN_TELEGRAM_CHAT_RATE``; 0 lifts a limit."""
        return cls(
            overall_per_s=settings.telegram_rate,
            chat_per_s=settings.telegram_chat_rate or None,
        )


UNLIMITED = Limits(overall_per_s=0, chat_per_s=None)
DOCUMENT_LIMIT = 50 * MB
"""The largest file a bot may send (the Bot API's sendDocument)."""


def sender(app: App, bot: JsonBot, *, paid: bool = False) -> SendOne:
    """Sends one outbox message to Telegram, an edit in place where it can; with ``paid``,
    bulk messages go as paid broadcasts (``allow_paid_broadcast``)."""

    async def send_one(message: Outgoing) -> str:
        chat_id, reply = int(message.address), message.reply
        if reply.document:
            lang = await app.lang_of(message.recipient)
            reply = within_file_limit(app, reply, lang, DOCUMENT_LIMIT)
        try:
            if reply.refresh_menu:
                await set_menu(bot, app, chat_id, await app.role_of(message.recipient))
            if reply.shows_nothing:
                return ""
            if reply.edit_of is not None:
                earlier = await app.delivered_as(reply.edit_of)
                if earlier is not None:
                    await edit(bot, chat_id, int(earlier), reply)
                    return earlier
            return str(await send(bot, chat_id, reply, paid=paid and message.bulk))
        except Forbidden as blocked:
            raise Unreachable(str(blocked)) from blocked
        except BadRequest as bad:
            raise Refused(str(bad)) from bad
        except TelegramError as trouble:
            raise Transient(str(trouble)) from trouble

    return send_one


Markup = dict[str, Any]
"""A keyboard as the Bot API's JSON."""


def inline_keyboard(reply: Reply) -> Markup | None:
    if not reply.buttons:
        return None
    rows = [[{"text": b.label, "callback_data": b.data} for b in row] for row in reply.buttons]
    return {"inline_keyboard": rows}


def request_keyboard(reply: Reply) -> Markup:
    """The request's key, then the reply's buttons as keys: inline buttons cannot share a
    message with a request, and keys sit at the bottom of the screen, under the thumb. A key
    sends its label as text, which :meth:`App.pressed` takes back to its button."""
    request = {
        "text": reply.request_label,
        "request_contact": reply.request is Request.CONTACT,
        "request_location": reply.request is Request.LOCATION,
    }
    keys = [[{"text": button.label} for button in row] for row in reply.buttons]
    return {"keyboard": [[request], *keys], "resize_keyboard": True, "one_time_keyboard": True}


def chunks(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    return [text[i : i + limit] for i in range(0, len(text), limit)] or [""]


async def edit(bot: JsonBot, chat_id: int, message_id: int, reply: Reply) -> None:
    """Changes a message in place: its caption when it carries a picture, else its text."""
    changed: dict[str, Any] = {
        "chat_id": chat_id,
        "message_id": message_id,
        "reply_markup": inline_keyboard(reply),
    }
    try:
        if reply.photo:
            await bot.call("editMessageCaption", caption=reply.text[:CAPTION_LIMIT], **changed)
        else:
            await bot.call("editMessageText", text=reply.text[:TEXT_LIMIT], **changed)
    except BadRequest as bad:
        if "not modified" not in str(bad).lower():
            raise


ATTACHED = (("photo", "sendPhoto"), ("document", "sendDocument"), ("voice", "sendVoice"))
"""A reply's file fields, each with the method that sends it (the field is its parameter)."""


async def send(bot: JsonBot, chat_id: int, reply: Reply, *, paid: bool = False) -> int:
    """Renders one reply and returns the id of its main message (a long text goes in parts)."""
    charge: dict[str, Any] = {"allow_paid_broadcast": True} if paid else {}
    markup = request_keyboard(reply) if reply.request else inline_keyboard(reply)
    common = {"chat_id": chat_id, "reply_markup": markup, **charge}
    for field, method in ATTACHED:
        if path := getattr(reply, field):
            content = await asyncio.to_thread(Path(path).read_bytes)
            upload = InputFile(content, filename=Path(path).name)
            caption = reply.text[:CAPTION_LIMIT] or None
            sent = await bot.call(method, **{field: upload}, caption=caption, **common)
            return int(sent["message_id"])
    if venue := reply.venue:
        sent = await bot.call(
            "sendVenue",
            latitude=venue.latitude,
            longitude=venue.longitude,
            title=venue.title,
            address=venue.address,
            **common,
        )
        return int(sent["message_id"])
    parts = chunks(reply.text)
    for part in parts[:-1]:
        await bot.call("sendMessage", chat_id=chat_id, text=part, **charge)
    sent = await bot.call("sendMessage", text=parts[-1], **common)
    return int(sent["message_id"])


Pressed = Callable[[str, str], Awaitable[str | None]]
"""(user, text) → the data of the keyboard button with that label, if it is one."""


@dataclass(frozen=True)
class Fetched:
    """A file a user sent: where it was saved (None if not), its size as known, and whether
    Telegram failed to hand it over."""

    file: Path | None = None
    size: int | None = None
    failed: bool = False


Fetch = Callable[[Any], Awaitable[Fetched]]


def received(update: dict[str, Any]) -> Received:
    """An update as kept in the inbox: keyed by its id, in the order of its chat (its
    sender's, when it has no chat). Read from the JSON: objects are made once, when handled."""
    update_id = update["update_id"]
    if not isinstance(update_id, int):
        raise TypeError("update_id is not a number")
    return Received(f"{PLATFORM}:{update_id}", PLATFORM, str(_chat_of(update)), update)


def _chat_of(update: dict[str, Any]) -> int:
    for kind, content in update.items():
        if kind == "update_id" or not isinstance(content, dict):
            continue
        chat = content.get("chat") or (content.get("message") or {}).get("chat")
        person = content.get("from") or content.get("user")
        for found in (chat, person):
            if isinstance(found, dict) and isinstance(found.get("id"), int):
                return int(found["id"])
    return 0


async def event_from(update: Update, fetch: Fetch, pressed: Pressed) -> Event | None:
    """Translates an update; files are fetched (within the size cap) by ``fetch``."""
    user = update.effective_user
    if user is None:
        return None
    who = f"{PLATFORM}:{user.id}"
    key = f"{PLATFORM}:{update.update_id}"
    if query := update.callback_query:
        return Event(who, EventKind.BUTTON, data=query.data or "", update_key=key)
    message = update.effective_message
    if message is None:
        return None
    if update.edited_message is not None:
        return edited(who, key, update.edited_message)
    if message.text is not None:
        if message.text.startswith("/"):
            head, _, arguments = message.text[1:].partition(" ")
            command = head.split("@", 1)[0].lower()
            return Event(
                who, EventKind.COMMAND, command=command, text=arguments.strip(), update_key=key
            )
        if (data := await pressed(who, message.text)) is not None:
            return Event(who, EventKind.BUTTON, data=data, update_key=key)
        return Event(
            who, EventKind.TEXT, text=message.text, update_key=key, message=str(message.message_id)
        )
    if message.location:
        return Event(
            who,
            EventKind.LOCATION,
            latitude=message.location.latitude,
            longitude=message.location.longitude,
            update_key=key,
        )
    if message.contact:
        return Event(who, EventKind.CONTACT, phone=message.contact.phone_number, update_key=key)
    attachment: Any
    kind: EventKind
    if message.photo:
        attachment, kind = message.photo[-1], EventKind.PHOTO
    elif message.document:
        attachment, kind = message.document, EventKind.DOCUMENT
    elif message.voice:
        attachment, kind = message.voice, EventKind.VOICE
    else:
        return Event(who, EventKind.TEXT, text="", update_key=key)
    fetched = await fetch(attachment)
    return Event(
        who,
        kind,
        update_key=key,
        file_size=fetched.size,
        file=fetched.file,
        download_failed=fetched.failed,
    )


def album_of(delivery: Received) -> str:
    """The album (``media_group_id``) a delivered message belongs to, if any."""
    message = delivery.payload.get("message") or {}
    return str(message.get("media_group_id") or "")


def edited(who: str, key: str, message: Message) -> Event | None:
    """A changed text is an edit of an answer; a live location moving on is not news (the
    place was taken when sharing began); any other edit changes nothing."""
    if message.text is None or message.text.startswith("/"):
        return None
    return Event(
        who,
        EventKind.TEXT,
        text=message.text,
        update_key=key,
        message=str(message.message_id),
        edited=True,
    )


def build_bot(settings: Settings, limits: Limits) -> JsonBot:
    if not settings.telegram_token:
        raise TelegramStartError("TELEGRAM_BOT_TOKEN is not set")
    return JsonBot(
        settings.telegram_token.value,
        base_url=settings.telegram_api_url,
        base_file_url=settings.telegram_file_url,
        request=AiohttpRequest(
            2 * Delivery.on_the_wire(limits.overall_per_s), read_timeout=SEND_TIMEOUT_S
        ),
        get_updates_request=AiohttpRequest(1),
        # The overall rate is the delivery's (answers before bulk); the limiter keeps the
        # per-group limit and waits out RetryAfter.
        rate_limiter=AIORateLimiter(overall_max_rate=0, max_retries=limits.retry_after_max),
    )


MENU_LANGUAGES = {"zh": None, "en": "en"}
"""Our languages → Telegram's ``language_code`` (Chinese is the menu for everyone else)."""


def menu(app: App, lang: str, role: str) -> list[BotCommand]:
    return [BotCommand(c, app.catalog.t(lang, f"command.{c}")) for c in app.commands(role)]


async def set_menu(bot: Bot, app: App, chat_id: int, role: str) -> None:
    """One user's menu: a rider's is the default one, so their own is removed."""
    scope = BotCommandScopeChat(chat_id)
    for lang, code in MENU_LANGUAGES.items():
        if role == "rider":
            await bot.delete_my_commands(scope=scope, language_code=code)
        else:
            await bot.set_my_commands(menu(app, lang, role), scope=scope, language_code=code)


async def set_command_menus(bot: Bot, app: App) -> None:
    """Riders see rider commands; secretaries and admins on Telegram see theirs too, in each
    language. Set at start, beside the polling; an appointment or a dismissal later sets that
    user's anew."""
    for lang, code in MENU_LANGUAGES.items():
        await bot.set_my_commands(
            menu(app, lang, "rider"), scope=BotCommandScopeDefault(), language_code=code
        )
    for user_id, role in sorted((await app.staff()).items()):
        platform, _, address = user_id.partition(":")
        if platform == PLATFORM and address.lstrip("-").isdigit():
            await set_menu(bot, app, int(address), role)


class TelegramRunner:
    """Receives updates (long polling or a webhook), handles them from the inbox, and runs
    the delivery worker, the scheduler and the command menus beside them."""

    def __init__(self, app: App, settings: Settings, limits: Limits | None = None) -> None:
        self.app = app
        self.settings = settings
        limits = limits or Limits.of(settings)
        self.bot = build_bot(settings, limits)
        self.files = Bot(
            settings.telegram_token.value,
            base_url=settings.telegram_api_url,
            base_file_url=settings.telegram_file_url,
            request=AiohttpRequest(4, read_timeout=settings.download_timeout_s),
        )
        """``getFile`` on connections of its own: a file Telegram is slow to find never
        holds a connection that replies need."""
        self.downloads = Downloads(settings.download_timeout_s)
        self._download_dir = settings.data_dir / "downloads"
        self.delivery = Delivery(
            app,
            PLATFORM,
            sender(app, self.bot, paid=limits.paid),
            limits.pace,
            overall_per_s=limits.overall_per_s,
        )
        self.intake = Intake(app, PLATFORM, self._handle, album_of)
        self.scheduler = Scheduler(app, after_run=self.delivery.wake.set)
        app.on_queued = self.delivery.wake.set
        self._site: Site | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def start(
        self,
        webhook_url: str | None = None,
        listen: str = "0.0.0.0:8443",
        health: str | None = None,
    ) -> None:
        """Long polling, or a webhook at ``webhook_url`` served on ``listen``; ``health``
        serves ``/healthz`` beside long polling (a webhook's server has it anyway)."""
        if webhook_url and not self.settings.telegram_webhook_secret:
            raise TelegramStartError("--webhook needs TELEGRAM_WEBHOOK_SECRET")
        try:
            await self.bot.initialize()
        except InvalidToken as bad:
            await self.bot.shutdown()
            raise TelegramStartError(f"Telegram rejected the token ({bad})") from None
        await self.files.initialize()
        self._download_dir.mkdir(parents=True, exist_ok=True)
        self.intake.start()
        if webhook_url:
            path = urlsplit(webhook_url).path or "/"
            self._site = Site(self.app, [web.post(path, self._webhook)])
            await self._site.start(listen)
            await self.bot.set_webhook(
                webhook_url,
                secret_token=self.settings.telegram_webhook_secret.value,
                allowed_updates=Update.ALL_TYPES,
            )
        else:
            if health:
                self._site = Site(self.app, [])
                await self._site.start(health)
            await self.bot.delete_webhook()
            self._tasks.append(asyncio.create_task(self._poll()))
        self._tasks.append(asyncio.create_task(self._set_menus()))
        self.delivery.start()
        await self.scheduler.start()

    @property
    def port(self) -> int:
        """Where the webhook or health server listens."""
        return self._site.port if self._site else 0

    async def stop(self) -> None:
        self.scheduler.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._site is not None:
            await self._site.stop()
        await self.intake.stop()
        await self.delivery.stop()
        await self.downloads.close()
        await self.files.shutdown()
        await self.bot.shutdown()

    async def _set_menus(self) -> None:
        try:
            await set_command_menus(self.bot, self.app)
        except TelegramError:
            log.warning("setting the command menus failed; commands work meanwhile", exc_info=True)

    async def _poll(self) -> None:
        """Asks for updates and keeps them; only the next request, made once they are kept,
        confirms them to Telegram. Updates the database did not take are asked for again."""
        offset, pause = 0, 1.0
        while True:
            try:
                updates = await self.bot.updates_after(offset, POLL_TIMEOUT_S, POLL_READ_S)
                if updates:
                    await self.intake.accept([received(update) for update in updates])
                    offset = updates[-1]["update_id"] + 1
                pause = 1.0
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("polling failed; updates are asked for again", exc_info=True)
                await asyncio.sleep(pause)
                pause = min(pause * 2, RETRY_MAX_S)

    async def _webhook(self, request: web.Request) -> web.Response:
        """The secret is checked before the body is read; 200 only once the update is kept
        (anything else and Telegram delivers it again)."""
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given, self.settings.telegram_webhook_secret.value):
            return web.Response(status=403)
        try:
            update = await request.json()
            delivery = received(update)
        except web.HTTPRequestEntityTooLarge:
            return web.Response(status=413)
        except (ValueError, TypeError, KeyError, AttributeError):
            return web.Response(status=400)
        try:
            await self.intake.accept([delivery])
        except Exception:
            log.warning(
                "an update could not be kept; Telegram will deliver it again", exc_info=True
            )
            return web.Response(status=500)
        return web.Response()

    async def _fetch(self, attachment: Any) -> Fetched:
        limit = self.settings.max_photo_bytes
        if attachment.file_size and attachment.file_size > limit:
            return Fetched(size=attachment.file_size)
        target = self._download_dir / uuid.uuid4().hex
        try:
            async with asyncio.timeout(self.downloads.time_limit_s):
                found = await self.files.get_file(attachment.file_id)
                if not found.file_path:
                    raise DownloadFailed("Telegram gave no file path")
                size = await self.downloads.fetch(found.file_path, target, limit)
        except (TelegramError, DownloadFailed, TimeoutError):
            log.warning("downloading %s failed", attachment.file_id, exc_info=True)
            await asyncio.to_thread(target.unlink, missing_ok=True)
            return Fetched(failed=True)
        return Fetched(target, size) if size is not None else Fetched(size=limit + 1)

    async def _handle(self, delivery: Received) -> None:
        update = Update.de_json(delivery.payload, self.bot)
        event = await event_from(update, self._fetch, self.app.pressed)
        if event is not None and (album := album_of(delivery)):
            event = replace(event, album=album, album_more=delivery.following)
        notice = await handle(self.app, delivery, event)
        if notice is None:
            return
        self.delivery.wake.set()
        with contextlib.suppress(TelegramError):
            if update.callback_query:
                await update.callback_query.answer(notice[:200] or None, show_alert=bool(notice))
            elif notice and update.effective_chat:
                await self.bot.send_message(update.effective_chat.id, notice)


async def run_telegram(
    settings: Settings,
    webhook_url: str | None,
    listen: str,
    health: str | None = None,
    web: str | None = None,
) -> None:
    async def launch(app: App) -> TelegramRunner:
        runner = TelegramRunner(app, settings)
        await runner.start(webhook_url, listen, health)
        log.info("nuanxin is running on Telegram as @%s", runner.bot.username)
        return runner

    await serve(settings, launch, web)
