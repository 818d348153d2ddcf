"""The HTTP servers the bot runs (Telegram's webhook, WeCom's callback, the health check):
one way to start them, with a small body limit, and ``/healthz`` on every one."""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Middleware

from bot.app import App

MAX_BODY = 256 * 1024
"""Callbacks and updates are a few kilobytes; files never come in a request body."""


def health_route(app: App) -> web.RouteDef:
    async def healthz(_: web.Request) -> web.Response:
        health = await app.health()
        return web.Response(
            text=health.to_json(),
            status=200 if health.ok else 503,
            content_type="application/json",
        )

    return web.get("/healthz", healthz)


class Site:
    """An aiohttp server on ``HOST:PORT`` (port 0: a free one, then in :attr:`port`)."""

    def __init__(
        self,
        app: App,
        routes: list[web.AbstractRouteDef],
        middlewares: tuple[Middleware, ...] = (),
    ) -> None:
        server = web.Application(client_max_size=MAX_BODY, middlewares=middlewares)
        server.add_routes([*routes, health_route(app)])
        self._runner = web.AppRunner(server, access_log=None)
        self.port = 0

    async def start(self, listen: str) -> None:
        host, _, port = listen.rpartition(":")
        await self._runner.setup()
        await web.TCPSite(self._runner, host or "0.0.0.0", int(port)).start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        await self._runner.cleanup()
