"""Files users send, fetched to disk in pieces, within a size cap and a time limit.

Downloads have their own connection pool, so riders sending photos over a slow network never
hold up the replies to everyone else, and nothing is read whole into memory: a file bigger
than the cap is given up as soon as it shows itself to be, announced or not.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp

from bot.transports.tls import trusted

CHUNK = 64 * 1024
CONNECTIONS = 8


class DownloadFailed(Exception):
    """The platform did not hand the file over (an error, no answer in time)."""


class Downloads:
    def __init__(self, time_limit_s: float, connections: int = CONNECTIONS) -> None:
        self._connections = connections
        self.time_limit_s = time_limit_s
        self._session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._connections, ssl=trusted()),
                timeout=aiohttp.ClientTimeout(total=self.time_limit_s),
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def fetch(self, url: str, target: Path, limit: int) -> int | None:
        """Saves ``url`` to ``target``; its size, or None when it is bigger than ``limit``
        (nothing is kept then)."""
        try:
            async with self.session().get(url) as response:
                response.raise_for_status()
                return await save(response, target, limit)
        except (aiohttp.ClientError, TimeoutError) as trouble:
            await asyncio.to_thread(target.unlink, missing_ok=True)
            raise DownloadFailed(f"{type(trouble).__name__}: {trouble}") from trouble


async def save(response: aiohttp.ClientResponse, target: Path, limit: int) -> int | None:
    """Writes a response's body to ``target`` piece by piece; None (and no file) as soon as
    it is announced or read to be over ``limit``."""
    if (response.content_length or 0) > limit:
        return None
    size = 0
    with await asyncio.to_thread(target.open, "wb") as out:
        async for piece in response.content.iter_chunked(CHUNK):
            size += len(piece)
            if size > limit:
                break
            await asyncio.to_thread(out.write, piece)
    if size > limit:
        await asyncio.to_thread(target.unlink, missing_ok=True)
        return None
    return size
