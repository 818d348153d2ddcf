"""What the local stand-ins for Telegram and WeCom share: a loopback HTTP server on a free
port, and a way for tests to wait until what it recorded satisfies them."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class LocalServer:
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    _runner: web.AppRunner | None = None
    port: int = 0
    max_body: int = 1024 * 1024
    """The largest request the platform takes."""

    def routes(self) -> list[web.RouteDef]:
        raise NotImplementedError

    async def start(self) -> None:
        server = web.Application(client_max_size=self.max_body)
        server.add_routes(self.routes())
        self._runner = web.AppRunner(server, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    async def wait_for(self, predicate: Any, within: float = 10) -> None:
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(predicate), within)


def free_port() -> int:
    """A loopback port nobody listens on, for a bot process that must keep it across restarts."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
