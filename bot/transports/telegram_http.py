"""python-telegram-bot's HTTP requests, made with aiohttp, and the bot that reads the answers
to its most frequent calls as JSON."""

from __future__ import annotations

import urllib.request
from typing import Any, cast
from urllib.parse import urlsplit

import aiohttp
from telegram import Update
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.ext import ExtBot
from telegram.request import BaseRequest, RequestData

from bot.transports.tls import trusted


class AiohttpRequest(BaseRequest):
    """Sends the Bot API's requests through an aiohttp session.

    python-telegram-bot's default (httpx) looks at every idle connection of its pool, with a
    system call each, whenever it places or finishes a request; a bot with many chats in
    flight spent more time there than in handling its updates. aiohttp hands out idle
    connections from a stack. Timeouts keep python-telegram-bot's meaning: ``pool`` is the
    wait for a free connection, ``read`` for the answer; a write has no timeout of its own.
    A proxy named in the environment (``HTTPS_PROXY``, ``NO_PROXY``) is used, as with httpx;
    it is looked up once per host, where aiohttp's ``trust_env`` would read the environment
    and ``~/.netrc`` on every request.
    """

    def __init__(
        self,
        connections: int,
        *,
        read_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
    ) -> None:
        self._connections = connections
        self._read_timeout = read_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._session: aiohttp.ClientSession | None = None
        self._proxies: dict[str, str | None] = {}

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._connections, ssl=trusted()),
                headers={"User-Agent": self.USER_AGENT},
            )

    async def shutdown(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if self._session is None or self._session.closed:
            raise RuntimeError("AiohttpRequest is not initialized")
        read = self._read_timeout if isinstance(read_timeout, DefaultValue) else read_timeout
        connect = (
            self._connect_timeout if isinstance(connect_timeout, DefaultValue) else connect_timeout
        )
        pool = self._pool_timeout if isinstance(pool_timeout, DefaultValue) else pool_timeout
        timeout = aiohttp.ClientTimeout(
            connect=None if connect is None or pool is None else connect + pool,
            sock_connect=connect,
            sock_read=read,
        )
        try:
            async with self._session.request(
                method, url, data=_body(request_data), timeout=timeout, proxy=self._proxy(url)
            ) as response:
                return response.status, await response.read()
        except TimeoutError as err:
            raise TimedOut from err
        except aiohttp.ClientError as err:
            raise NetworkError(f"aiohttp.{err.__class__.__name__}: {err}") from err

    def _proxy(self, url: str) -> str | None:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if host not in self._proxies:
            bypass = urllib.request.proxy_bypass(host)
            self._proxies[host] = None if bypass else urllib.request.getproxies().get(parts.scheme)
        return self._proxies[host]


def _body(request_data: RequestData | None) -> aiohttp.FormData | dict[str, str] | None:
    """Form fields, as a multipart form when there are files to upload."""
    if request_data is None:
        return None
    fields = request_data.json_parameters
    files = request_data.multipart_data
    if not files:
        return fields
    form = aiohttp.FormData()
    for name, value in fields.items():
        form.add_field(name, value)
    for name, (filename, content, mime) in files.items():
        form.add_field(name, content, filename=filename, content_type=mime)
    return form


class JsonBot(ExtBot[int]):
    """python-telegram-bot's bot, with the two calls made for every update answered in the
    Bot API's own JSON.

    Updates are kept in the inbox as JSON, and of a sent message only its id is read: making
    python-telegram-bot's objects of them (and turning updates back into JSON to keep them)
    took a third of the bot's time per update. Errors, the rate limiter and uploads
    (:class:`telegram.InputFile`) take python-telegram-bot's own path."""

    async def updates_after(
        self, offset: int, poll_s: float, read_s: float
    ) -> list[dict[str, Any]]:
        """``getUpdates``: a long poll of ``poll_s`` seconds, every kind of update; the answer
        may take ``read_s`` more."""
        found = await self._post(
            "getUpdates",
            {"offset": offset, "timeout": poll_s, "allowed_updates": Update.ALL_TYPES},
            read_timeout=poll_s + read_s,
        )
        return cast(list[dict[str, Any]], found)

    async def call(self, method: str, **params: Any) -> Any:
        """A Bot API method, its answer as JSON; parameters that are None are left out."""
        return await self._post(method, params)
