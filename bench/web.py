"""What a page of the web console costs as the items grow.

Not a test: builds a data directory as ``bench/scale.py`` does (items over three years, a
tenth open, 100k declared riders in 200 branches), serves the console on a free port and asks
it for each page over loopback, signed in as an admin and as a committee's secretary. Prints
one JSON line per size with each page's median and slowest time in milliseconds (the whole
request, so the server's time and a little more).

Run: ``python bench/web.py`` (100k items), or ``python bench/web.py --sizes 10000,1000000``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.scale import NOW, build, sizes
from bot.app import App
from bot.clock import ManualClock
from bot.config import Settings
from bot.web.server import serve_console
from storage import web
from tests.local_server import free_port

REPEAT = 7
DEEP = 20
"""Pages followed one after another for the deep page: the 1,000th item on."""


@asynccontextmanager
async def console_on(data_dir: Path) -> AsyncIterator[tuple[App, str]]:
    """The bot on ``data_dir`` with its console on a free loopback port, and its address."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = Settings(data_dir=data_dir, admins=frozenset({"console:admin"}), web_url=base)
    app = await App.open(settings, ManualClock(NOW))
    site = await serve_console(app, f"127.0.0.1:{port}")
    try:
        yield app, base
    finally:
        await site.stop()
        await app.close()


async def sign_in_token(app: App, user: str) -> str:
    """A ``/web`` link's token for ``user``, as the chat would make it."""
    token = secrets.token_urlsafe(24)
    async with app.db.transaction() as tx:
        await web.add_link(tx, token, user, app.clock.now())
    return token


async def signed_in(app: App, base: str, user: str) -> aiohttp.ClientSession:
    token = await sign_in_token(app, user)
    http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    async with http.post(f"{base}/signin", data={"token": token}) as page:
        assert page.status == 200, await page.text()
    return http


async def timed(http: aiohttp.ClientSession, url: str) -> tuple[float, float, str]:
    samples, text = [], ""
    for _ in range(REPEAT):
        started = time.perf_counter()
        async with http.get(url) as page:
            text = await page.text()
            assert page.status == 200, (url, page.status)
        samples.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(samples), 1), round(max(samples), 1), text


async def deep_page(http: aiohttp.ClientSession, base: str) -> str:
    url = f"{base}/items"
    for _ in range(DEEP):
        async with http.get(url) as page:
            found = re.search(r'id="next-page" href="\?([^"]+)"', await page.text())
        assert found
        url = f"{base}/items?{found.group(1).replace('&amp;', '&')}"
    return url


async def measure(data_dir: Path) -> dict[str, object]:
    figures: dict[str, object] = {}
    async with console_on(data_dir) as (app, base):
        admin = await signed_in(app, base, "console:admin")
        secretary = await signed_in(app, base, "console:sec5")
        async with admin, secretary:
            _, _, first = await timed(admin, f"{base}/items")
            ref = re.findall(r'data-ref="([^"]+)"', first)[0]
            pages = {
                "items": (admin, f"{base}/items"),
                "items_deep": (admin, await deep_page(admin, base)),
                "items_filtered": (admin, f"{base}/items?kind=hazard&status=submitted"),
                "items_overdue_food_since": (
                    admin,
                    f"{base}/items?category=food&overdue=1&since=2026-01-01",
                ),
                "items_oldest_first": (admin, f"{base}/items?sort=old"),
                "items_secretary": (secretary, f"{base}/items"),
                "item": (admin, f"{base}/items/{ref}"),
                "map": (admin, f"{base}/map"),
                "map_secretary": (secretary, f"{base}/map"),
                "deadlines": (admin, f"{base}/deadlines"),
                "overview": (admin, f"{base}/"),
                "overview_secretary": (secretary, f"{base}/"),
            }
            for name, (http, url) in pages.items():
                median, slowest, _ = await timed(http, url)
                figures[f"{name}_ms"] = median
                figures[f"{name}_max_ms"] = slowest
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="100000")
    args = parser.parse_args()
    for items in sizes(args.sizes):
        with tempfile.TemporaryDirectory() as folder:
            data_dir = Path(folder)
            build(data_dir, items)
            figures = asyncio.run(measure(data_dir))
            print(json.dumps({"items": items, **figures}), flush=True)


if __name__ == "__main__":
    main()
