"""The Telegram transport: python-telegram-bot in, our events through the core, replies out.

Updates of one chat are handled one at a time and in order; different chats run side by side.
Replies are not sent by the handler: the core writes them to the outbox inside its transaction,
and one delivery worker sends what is unsent. So a crash never loses a confirmation that was
committed, and never announces one that was not.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeChat,
    BotCommandScopeDefault,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    Update,
)
from telegram.error import BadRequest, Forbidden, InvalidToken, TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    BaseUpdateProcessor,
    ContextTypes,
    TypeHandler,
)

from bot.app import App
from bot.config import Settings
from bot.events import Event, EventKind, Outgoing, Reply, Request
from bot.scheduler import Scheduler
from bot.transports.delivery import (
    Delivery,
    Pace,
    Refused,
    SendOne,
    Transient,
    Unreachable,
    serve,
)
from bot.transports.telegram_http import AiohttpRequest

PLATFORM = "telegram"
TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
RIDER_COMMANDS = (
    "report",
    "grievance",
    "declare",
    "records",
    "points",
    "join",
    "checkin",
    "menu",
    "lang",
    "cancel",
    "help",
)
SECRETARY_COMMANDS = ("pending", "newactivity", "activities", "broadcast", "qr", "whoami")
ADMIN_COMMANDS = (
    "stats",
    "export",
    "branches",
    "newbranch",
    "editbranch",
    "appoint",
    "dismiss",
    "setstatus",
)
MENUS = {
    "rider": RIDER_COMMANDS,
    "secretary": RIDER_COMMANDS + SECRETARY_COMMANDS,
    "admin": RIDER_COMMANDS + SECRETARY_COMMANDS + ADMIN_COMMANDS,
}

log = logging.getLogger(__name__)


class TelegramStartError(RuntimeError):
    """The bot cannot start (no token, a rejected token); the message says which."""


class PerChatUpdateProcessor(BaseUpdateProcessor):
    """Many chats at once, one update at a time within a chat, in arrival order.

    Tasks are created in arrival order and asyncio locks are fair, so a rider's quick second
    tap is handled after the first, while other riders never wait for them.
    """

    def __init__(self, max_concurrent_updates: int = 256) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        chat = (
            update.effective_chat.id if isinstance(update, Update) and update.effective_chat else 0
        )
        lock = self._locks[chat]
        async with lock:
            await coroutine
        if not lock.locked() and self._locks.get(chat) is lock:
            del self._locks[chat]

    async def initialize(self) -> None:
        """Nothing to set up: locks are made on demand."""

    async def shutdown(self) -> None:
        """Nothing to tear down."""


@dataclass(frozen=True)
class Limits:
    """Telegram's flood limits: about 30 messages a second overall, and about one a second in
    one chat, where a short burst passes. ``UNLIMITED`` measures the bot's own capacity."""

    overall_per_s: float = 30
    """0 lifts the overall cap."""
    chat_burst: int = 3
    chat_per_s: float | None = 1.0
    """None lifts the per-chat pace."""
    retry_after_max: int = 5

    @property
    def pace(self) -> Pace:
        return Pace(burst=self.chat_burst, per_s=self.chat_per_s)


UNLIMITED = Limits(overall_per_s=0, chat_per_s=None)


def sender(app: App, bot: Bot) -> SendOne:
    """Sends one outbox message to Telegram, an edit in place where it can."""

    async def send_one(message: Outgoing) -> str:
        chat_id, reply = int(message.address), message.reply
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
            return str(await send(bot, chat_id, reply))
        except Forbidden as blocked:
            raise Unreachable(str(blocked)) from blocked
        except BadRequest as bad:
            raise Refused(str(bad)) from bad
        except TelegramError as trouble:
            raise Transient(str(trouble)) from trouble

    return send_one


def inline_keyboard(reply: Reply) -> InlineKeyboardMarkup | None:
    if not reply.buttons:
        return None
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(b.label, callback_data=b.data) for b in row]
            for row in reply.buttons
        ]
    )


def request_keyboard(reply: Reply) -> ReplyKeyboardMarkup:
    """The request's key, then the reply's buttons as keys: inline buttons cannot share a
    message with a request, and keys sit at the bottom of the screen, under the thumb. A key
    sends its label as text, which :meth:`App.pressed` takes back to its button."""
    request = KeyboardButton(
        reply.request_label,
        request_contact=reply.request is Request.CONTACT,
        request_location=reply.request is Request.LOCATION,
    )
    keys = [[KeyboardButton(button.label) for button in row] for row in reply.buttons]
    return ReplyKeyboardMarkup([[request], *keys], resize_keyboard=True, one_time_keyboard=True)


def chunks(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    return [text[i : i + limit] for i in range(0, len(text), limit)] or [""]


async def edit(bot: Bot, chat_id: int, message_id: int, reply: Reply) -> None:
    try:
        await bot.edit_message_text(
            reply.text[:TEXT_LIMIT], chat_id, message_id, reply_markup=inline_keyboard(reply)
        )
    except BadRequest as bad:
        if "not modified" not in str(bad).lower():
            raise


async def send(bot: Bot, chat_id: int, reply: Reply) -> int:
    """Renders one reply and returns the id of its main message (a long text goes in parts)."""
    markup = request_keyboard(reply) if reply.request else inline_keyboard(reply)
    caption = reply.text[:CAPTION_LIMIT] or None
    sent: Message
    if reply.photo:
        picture = await asyncio.to_thread(Path(reply.photo).read_bytes)
        sent = await bot.send_photo(chat_id, picture, caption=caption, reply_markup=markup)
    elif reply.document:
        document = await asyncio.to_thread(Path(reply.document).read_bytes)
        sent = await bot.send_document(
            chat_id,
            document,
            caption=caption,
            reply_markup=markup,
            filename=Path(reply.document).name,
        )
    elif reply.venue:
        venue = reply.venue
        sent = await bot.send_venue(
            chat_id,
            venue.latitude,
            venue.longitude,
            venue.title,
            venue.address,
            reply_markup=markup,
        )
    else:
        parts = chunks(reply.text)
        for part in parts[:-1]:
            await bot.send_message(chat_id, part)
        sent = await bot.send_message(chat_id, parts[-1], reply_markup=markup)
    return sent.message_id


Pressed = Callable[[str, str], Awaitable[str | None]]
"""(user, text) → the data of the keyboard button with that label, if it is one."""


async def event_from(update: Update, bot: Bot, downloads: Path, pressed: Pressed) -> Event | None:
    """Translates an update; files are downloaded (within the size cap) to ``downloads``."""
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
    if message.text is not None:
        if message.text.startswith("/"):
            head, _, arguments = message.text[1:].partition(" ")
            command = head.split("@", 1)[0].lower()
            return Event(
                who, EventKind.COMMAND, command=command, text=arguments.strip(), update_key=key
            )
        if (data := await pressed(who, message.text)) is not None:
            return Event(who, EventKind.BUTTON, data=data, update_key=key)
        return Event(who, EventKind.TEXT, text=message.text, update_key=key)
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
    return Event(
        who,
        kind,
        update_key=key,
        file_size=attachment.file_size,
        file=await _download(bot, attachment, downloads),
    )


async def _download(bot: Bot, attachment: Any, downloads: Path) -> Path | None:
    if attachment.file_size and attachment.file_size > 20 * 1024 * 1024:
        return None
    telegram_file = await bot.get_file(attachment.file_id)
    target = downloads / uuid.uuid4().hex
    await telegram_file.download_to_drive(target)
    return target


def build_application(
    app: App, settings: Settings, limits: Limits
) -> Application[Any, Any, Any, Any, Any, Any]:
    if not settings.telegram_token:
        raise TelegramStartError("TELEGRAM_BOT_TOKEN is not set")
    http = (AiohttpRequest(2 * Delivery.IN_FLIGHT), AiohttpRequest(1))
    application = (
        ApplicationBuilder()
        .token(settings.telegram_token.value)
        .base_url(settings.telegram_api_url)
        .base_file_url(settings.telegram_file_url)
        .rate_limiter(
            AIORateLimiter(
                overall_max_rate=limits.overall_per_s, max_retries=limits.retry_after_max
            )
        )
        .concurrent_updates(PerChatUpdateProcessor())
        .request(http[0])
        .get_updates_request(http[1])
        .build()
    )
    delivery = Delivery(app, PLATFORM, sender(app, application.bot), limits.pace)
    downloads = settings.data_dir / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)

    async def on_update(update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        event = await event_from(update, application.bot, downloads, app.pressed)
        notice = ""
        try:
            if event is not None:
                notice = (await app.handle(event)).notice
        finally:
            if event is not None and event.file is not None:
                await asyncio.to_thread(event.file.unlink, missing_ok=True)
            with contextlib.suppress(TelegramError):
                if update.callback_query:
                    await update.callback_query.answer(
                        notice[:200] or None, show_alert=bool(notice)
                    )
                elif notice and update.effective_chat:
                    await application.bot.send_message(update.effective_chat.id, notice)
        delivery.wake.set()

    application.add_handler(TypeHandler(Update, on_update))
    application.bot_data["delivery"] = delivery
    # Shut down by hand when the token is refused: python-telegram-bot then leaves them open.
    application.bot_data["http"] = http
    return application


MENU_LANGUAGES = {"zh": None, "en": "en"}
"""Our languages → Telegram's ``language_code`` (Chinese is the menu for everyone else)."""


def menu(app: App, lang: str, role: str) -> list[BotCommand]:
    return [BotCommand(c, app.catalog.t(lang, f"command.{c}")) for c in MENUS[role]]


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
    language. Set at start; an appointment or a dismissal later sets that user's anew."""
    for lang, code in MENU_LANGUAGES.items():
        await bot.set_my_commands(
            menu(app, lang, "rider"), scope=BotCommandScopeDefault(), language_code=code
        )
    for user_id, role in sorted((await app.staff()).items()):
        platform, _, address = user_id.partition(":")
        if platform == PLATFORM and address.lstrip("-").isdigit():
            await set_menu(bot, app, int(address), role)


class TelegramRunner:
    """Starts and stops the Application, the command menus and the delivery worker."""

    def __init__(self, app: App, settings: Settings, limits: Limits | None = None) -> None:
        self.app = app
        self.settings = settings
        self.application = build_application(app, settings, limits or Limits())
        self.delivery: Delivery = self.application.bot_data["delivery"]
        self.scheduler = Scheduler(app, after_run=self.delivery.wake.set)

    async def start(self, webhook_url: str | None = None, listen: str = "0.0.0.0:8443") -> None:
        if webhook_url and not self.settings.telegram_webhook_secret:
            raise TelegramStartError("--webhook needs TELEGRAM_WEBHOOK_SECRET")
        try:
            await self.application.initialize()
        except InvalidToken as bad:
            for request in self.application.bot_data["http"]:
                await request.shutdown()
            raise TelegramStartError(f"Telegram rejected the token ({bad})") from None
        await set_command_menus(self.application.bot, self.app)
        await self.application.start()
        updater = self.application.updater
        assert updater is not None
        if webhook_url:
            host, _, port = listen.rpartition(":")
            await updater.start_webhook(
                listen=host,
                port=int(port),
                url_path="telegram",
                webhook_url=webhook_url,
                secret_token=self.settings.telegram_webhook_secret.value,
            )
        else:
            await updater.start_polling(poll_interval=0.0, timeout=10)
        self.delivery.start()
        await self.scheduler.start()

    async def stop(self) -> None:
        self.scheduler.stop()
        updater = self.application.updater
        if updater is not None and updater.running:
            await updater.stop()
        if self.application.running:
            await self.application.stop()
        await self.delivery.stop()
        await self.application.shutdown()


async def run_telegram(settings: Settings, webhook_url: str | None, listen: str) -> None:
    async def launch(app: App) -> TelegramRunner:
        runner = TelegramRunner(app, settings)
        await runner.start(webhook_url, listen)
        log.info("nuanxin is running on Telegram as @%s", runner.application.bot.username)
        return runner

    await serve(settings, launch)
