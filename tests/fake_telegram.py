"""A local server that speaks the Telegram Bot API, enough for the real Application.

It queues updates for getUpdates, records every call, serves files for getFile, and can answer
429 with ``retry_after`` to exercise the rate limiter. Nothing leaves the machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from tests.local_server import LocalServer

TOKEN = "123456:TEST-token"


@dataclass
class Call:
    method: str
    params: dict[str, Any]

    @property
    def chat_id(self) -> int:
        return int(self.params["chat_id"])

    @property
    def text(self) -> str:
        return str(self.params.get("text") or self.params.get("caption") or "")

    @property
    def buttons(self) -> list[tuple[str, str]]:
        markup = self.params.get("reply_markup")
        if not markup:
            return []
        rows = json.loads(markup).get("inline_keyboard", [])
        return [(b["text"], b.get("callback_data", "")) for row in rows for b in row]

    @property
    def keys(self) -> list[str]:
        """The keys of a reply keyboard that send their label as text (not those that share
        a location or a number)."""
        markup = self.params.get("reply_markup")
        rows = json.loads(markup).get("keyboard", []) if markup else []
        return [
            key["text"]
            for row in rows
            for key in row
            if not (key.get("request_location") or key.get("request_contact"))
        ]


@dataclass
class FakeTelegram(LocalServer):
    max_body: int = 50 * 1024 * 1024
    """A bot may send files up to 50 MB."""
    updates: list[dict[str, Any]] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    refused: list[Call] = field(default_factory=list)
    """Calls answered with an error other than 429: nothing reached the user."""
    files: dict[str, bytes] = field(default_factory=dict)
    throttle: dict[str, int] = field(default_factory=dict)
    """Method name → how many more calls to answer with 429."""
    blocked: set[int] = field(default_factory=set)
    """Users who blocked the bot: sending to them is answered with 403."""
    slow: dict[str, float] = field(default_factory=dict)
    """Method name → seconds its next call waits before it is answered (once)."""
    failing: set[str] = field(default_factory=set)
    """Methods answered with a server error, and files (by id) that never finish arriving."""
    confirmed: int = 0
    """The highest ``getUpdates`` offset asked for: every update below it is confirmed."""
    shown: dict[tuple[int, int], str] = field(default_factory=dict)
    """(chat, message id) → the text the user sees now, edits included."""
    _delivered: dict[int, list[Call]] = field(default_factory=dict)
    """Chat → what reached it, for tests that wait on one chat among thousands."""
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _passing: int | None = None
    """How many more messages reach their chats before the rest wait for :meth:`release`."""
    waiting: int = 0
    """Messages held unanswered now (see :meth:`hold`)."""
    _released: asyncio.Event = field(default_factory=asyncio.Event)
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)
    webhook_host: str = ""
    """Where the registered webhook's path is served here (``http://127.0.0.1:PORT``): once a
    webhook is set, updates are posted there in order, each until it is answered 200."""
    _hook: tuple[str, str] | None = None
    _pusher: asyncio.Task[None] | None = None

    async def stop(self) -> None:
        self._stopping.set()
        if self._pusher is not None:
            self._pusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pusher
        await super().stop()

    def _set_webhook(self, params: dict[str, Any]) -> None:
        self._hook = (urlsplit(str(params["url"])).path, str(params.get("secret_token", "")))
        if self._pusher is None:
            self._pusher = asyncio.create_task(self._push_to_webhook())

    async def _push_to_webhook(self) -> None:
        """Telegram's side of a webhook: the oldest update again and again until a 200."""
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
            while True:
                async with self._changed:
                    await self._changed.wait_for(lambda: bool(self.updates))
                    update = self.updates[0]
                assert self._hook is not None
                path, secret = self._hook
                headers = {"X-Telegram-Bot-Api-Secret-Token": secret}
                try:
                    async with session.post(
                        self.webhook_host + path, json=update, headers=headers
                    ) as answer:
                        delivered = answer.status == 200
                except (aiohttp.ClientError, TimeoutError):
                    delivered = False
                if delivered:
                    async with self._changed:
                        self.updates.remove(update)
                        self._changed.notify_all()
                else:
                    await asyncio.sleep(0.2)

    def hold(self, after: int) -> None:
        """Lets ``after`` more messages through, then keeps the next ones waiting unanswered,
        as a network that stalls: the moment to kill a bot with messages in flight."""
        self._passing = after
        self._released.clear()

    def release(self) -> None:
        """The held messages reach their chats (a killed sender's too: Telegram delivers what
        it received, whoever waits for the answer)."""
        self._passing = None
        self._released.set()

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/bot{token}/{method}", self._method),
            web.get("/file/bot{token}/{path:.*}", self._file),
        ]

    # --- what users do -------------------------------------------------------------------
    def _user(self, user_id: int) -> dict[str, Any]:
        return {
            "id": user_id,
            "is_bot": False,
            "first_name": f"rider{user_id}",
            "language_code": "zh-hans",
        }

    def _message(self, user_id: int, **content: Any) -> dict[str, Any]:
        return {
            "message_id": next(self._ids),
            "date": int(time.time()),
            "chat": {"id": user_id, "type": "private"},
            "from": self._user(user_id),
            **content,
        }

    async def push(self, update: dict[str, Any]) -> int:
        async with self._changed:
            update_id = update.setdefault("update_id", next(self._ids))
            self.updates.append(update)
            self._changed.notify_all()
        return int(update_id)

    async def text(self, user_id: int, text: str) -> int:
        return await self.push({"message": self._message(user_id, text=text)})

    async def tap(self, user_id: int, data: str) -> int:
        return await self.push(
            {
                "callback_query": {
                    "id": str(next(self._ids)),
                    "from": self._user(user_id),
                    "chat_instance": "c",
                    "data": data,
                    "message": self._message(user_id, text="…"),
                }
            }
        )

    async def press(self, user_id: int, label: str) -> int:
        """What a user does with the newest button or key showing ``label``: a button sends
        its callback, a key of a reply keyboard sends its label as a message."""
        for call in reversed(self.sent_to(user_id)):
            if data := next((d for text, d in call.buttons if label in text), None):
                return await self.tap(user_id, data)
            if key := next((text for text in call.keys if label in text), None):
                return await self.text(user_id, key)
        raise LookupError(f"{user_id} was shown nothing like {label!r}")

    async def location(self, user_id: int, lat: float, lon: float) -> int:
        return await self.push(
            {"message": self._message(user_id, location={"latitude": lat, "longitude": lon})}
        )

    async def contact(self, user_id: int, phone: str) -> int:
        return await self.push(
            {
                "message": self._message(
                    user_id, contact={"phone_number": phone, "first_name": "r", "user_id": user_id}
                )
            }
        )

    async def photo(
        self, user_id: int, data: bytes, *, as_document: bool = False, stall: bool = False
    ) -> int:
        """Sends a picture; ``stall``: its download starts and never finishes."""
        file_id = f"file{next(self._ids)}"
        self.files[file_id] = data
        if stall:
            self.failing.add(file_id)
        content: dict[str, Any]
        if as_document:
            content = {
                "document": {
                    "file_id": file_id,
                    "file_unique_id": file_id,
                    "file_size": len(data),
                    "mime_type": "image/jpeg",
                }
            }
        else:
            content = {
                "photo": [
                    {
                        "file_id": "thumb-" + file_id,
                        "file_unique_id": "t" + file_id,
                        "width": 90,
                        "height": 90,
                        "file_size": 100,
                    },
                    {
                        "file_id": file_id,
                        "file_unique_id": file_id,
                        "width": 1280,
                        "height": 960,
                        "file_size": len(data),
                    },
                ]
            }
        return await self.push({"message": self._message(user_id, **content)})

    def last_message_of(self, user_id: int) -> int:
        """The id of the newest message the user sent (what an edit names)."""
        return next(
            int(u["message"]["message_id"])
            for u in reversed(self.updates)
            if "message" in u and u["message"]["chat"]["id"] == user_id
        )

    async def edit(self, user_id: int, message_id: int, text: str) -> int:
        """The user changes a message they sent."""
        changed = {**self._message(user_id, text=text), "message_id": message_id}
        return await self.push({"edited_message": {**changed, "edit_date": int(time.time())}})

    async def live_location(self, user_id: int, lat: float, lon: float) -> int:
        """Starts sharing a live location; returns the message's id, which its moves edit."""
        place = {"latitude": lat, "longitude": lon, "live_period": 900}
        message = self._message(user_id, location=place)
        await self.push({"message": message})
        return int(message["message_id"])

    async def move(self, user_id: int, message_id: int, lat: float, lon: float) -> int:
        place = {"latitude": lat, "longitude": lon, "live_period": 900}
        moved = {**self._message(user_id, location=place), "message_id": message_id}
        return await self.push({"edited_message": {**moved, "edit_date": int(time.time())}})

    async def album(self, user_id: int, pictures: list[bytes]) -> None:
        """Sends several photos at once, as Telegram delivers an album: one message each,
        sharing a ``media_group_id``, all made available together."""
        group = f"album{next(self._ids)}"
        updates = []
        for data in pictures:
            file_id = f"file{next(self._ids)}"
            self.files[file_id] = data
            size = {"file_id": file_id, "file_unique_id": file_id, "width": 1280, "height": 960}
            message = self._message(user_id, photo=[{**size, "file_size": len(data)}])
            updates.append(
                {"update_id": next(self._ids), "message": {**message, "media_group_id": group}}
            )
        async with self._changed:
            self.updates.extend(updates)
            self._changed.notify_all()

    async def voice(self, user_id: int, data: bytes, seconds: int = 4) -> int:
        """Sends a voice note (OGG/Opus, as Telegram records them)."""
        file_id = f"file{next(self._ids)}"
        self.files[file_id] = data
        note = {
            "file_id": file_id,
            "file_unique_id": file_id,
            "duration": seconds,
            "mime_type": "audio/ogg",
            "file_size": len(data),
        }
        return await self.push({"message": self._message(user_id, voice=note)})

    # --- what the test waits for ---------------------------------------------------------
    def sent_to(self, chat_id: int) -> list[Call]:
        return list(self._delivered.get(chat_id, ()))

    async def wait_sent(self, chat_id: int, count: int, within: float = 10) -> list[Call]:
        """Waits until the chat has received ``count`` messages in all; returns them."""
        await self.wait_for(lambda: len(self.sent_to(chat_id)) >= count, within)
        return self.sent_to(chat_id)

    # --- the API -------------------------------------------------------------------------
    async def _method(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != TOKEN:
            return self._error(401, "Unauthorized")
        method = request.match_info["method"]
        params = dict(await request.post())
        if self.throttle.get(method, 0) > 0:
            self.throttle[method] -= 1
            return self._error(429, "Too Many Requests: retry later", retry_after=1)
        if method == "getUpdates":
            return web.json_response({"ok": True, "result": await self._get_updates(params)})
        if method == "setWebhook":
            self._set_webhook(params)
        if method in self.failing:
            return self._error(500, "Internal Server Error")
        if delay := self.slow.pop(method, 0):
            await asyncio.sleep(delay)
        if self._passing is not None and method.startswith(("send", "edit")):
            if self._passing:
                self._passing -= 1
            else:
                async with self._changed:
                    self.waiting += 1
                    self._changed.notify_all()
                await self._released.wait()
                self.waiting -= 1
        call = Call(method, {k: v for k, v in params.items() if isinstance(v, str)})
        refusal = self._refusal(method, params)
        async with self._changed:
            (self.refused if refusal else self.calls).append(call)
            if not refusal and method.startswith(("send", "edit")) and "chat_id" in params:
                self._delivered.setdefault(call.chat_id, []).append(call)
            self._changed.notify_all()
        if refusal:
            return refusal
        return web.json_response({"ok": True, "result": self._answer(method, params)})

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        timeout = min(float(params.get("timeout") or 0), 0.3)
        async with self._changed:
            if offset > self.confirmed:
                self.confirmed = offset
                self._changed.notify_all()
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
            if not self.updates and timeout:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        self._changed.wait_for(lambda: bool(self.updates)), timeout
                    )
            return list(self.updates[: int(params.get("limit") or 100)])

    def _refusal(self, method: str, params: dict[str, Any]) -> web.Response | None:
        chat = int(params.get("chat_id") or 0)
        if chat in self.blocked and method.startswith("send"):
            return self._error(403, "Forbidden: bot was blocked by the user")
        edited = (chat, int(params.get("message_id") or 0))
        if method == "editMessageText" and edited not in self.shown:
            return self._error(400, "Bad Request: message to edit not found")
        return None

    @staticmethod
    def _error(code: int, description: str, **parameters: int) -> web.Response:
        answer = {"ok": False, "error_code": code, "description": description}
        if parameters:
            answer["parameters"] = parameters
        return web.json_response(answer, status=code)

    def _answer(self, method: str, params: dict[str, Any]) -> Any:
        if method == "getMe":
            return {
                "id": 1,
                "is_bot": True,
                "first_name": "暖新",
                "username": "nuanxin_bot",
                "can_join_groups": False,
                "can_read_all_group_messages": False,
                "supports_inline_queries": False,
            }
        if method == "getFile":
            file_id = params["file_id"]
            return {
                "file_id": file_id,
                "file_unique_id": file_id,
                "file_size": len(self.files.get(file_id, b"")),
                "file_path": f"remote/{file_id}",
            }
        if method.startswith(("send", "edit")):
            chat_id = int(params.get("chat_id", 0))
            message_id = int(params.get("message_id") or next(self._ids))
            self.shown[(chat_id, message_id)] = str(
                params.get("text") or params.get("caption") or ""
            )
            return {
                "message_id": message_id,
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private"},
                "text": params.get("text", ""),
            }
        return True

    async def _file(self, request: web.Request) -> web.Response:
        file_id = request.match_info["path"].removeprefix("remote/")
        if file_id in self.failing:
            stalled = web.StreamResponse(headers={"Content-Type": "image/jpeg"})
            await stalled.prepare(request)
            await stalled.write(b"\xff\xd8")
            await self._stopping.wait()
        if file_id not in self.files:
            return web.Response(status=404)
        return web.Response(body=self.files[file_id])
