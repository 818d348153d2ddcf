"""Takes README's pictures of the web console: a data directory like a district's (built as
``bench/scale.py`` builds it), the console on a free port, Debian's Chromium headless.

Run: ``python docs/screenshots.py`` (writes ``docs/console-*.png``).
"""

from __future__ import annotations

import asyncio
import secrets
import socket
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.scale import NOW, build
from bot.app import App
from bot.clock import ManualClock
from bot.config import Settings
from bot.web.server import serve_console
from storage import web
from tests.browser import Browser, start_chromium

HERE = Path(__file__).resolve().parent
ITEMS = 20_000


async def shoot(data_dir: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    settings = Settings(data_dir=data_dir, admins=frozenset({"console:admin"}), web_url=base)
    app = await App.open(settings, ManualClock(NOW))
    site = await serve_console(app, f"127.0.0.1:{port}")
    browser = Browser(await asyncio.to_thread(start_chromium))
    try:
        token = secrets.token_urlsafe(24)
        async with app.db.transaction() as tx:
            await web.add_link(tx, token, "console:admin", app.clock.now())
        await browser.open(f"{base}/signin/{token}")
        await browser.click("#signin")
        for path, name, size in (
            ("/", "overview", (1280, 1400)),
            ("/map", "map", (1280, 860)),
            ("/items?status=submitted", "items", (1280, 900)),
        ):
            await browser.run(lambda d, size=size: d.set_window_size(*size))
            await browser.open(base + path)
            await asyncio.sleep(1)
            target = HERE / f"console-{name}.png"
            await browser.run(lambda d, target=target: d.save_screenshot(str(target)))
            print(target)
    finally:
        await browser.run(lambda d: d.quit())
        await site.stop()
        await app.close()


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        data_dir = Path(folder)
        build(data_dir, ITEMS)
        asyncio.run(shoot(data_dir))


if __name__ == "__main__":
    main()
