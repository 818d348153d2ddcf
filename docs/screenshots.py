"""Takes README's pictures of the web console: a data directory like a district's (built as
``bench/scale.py`` builds it), the console on a free port, Debian's Chromium headless.

Run: ``python docs/screenshots.py`` (writes ``docs/console-*.png``).
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.scale import build
from bench.web import console_on, sign_in_token
from tests.browser import Browser, start_chromium

HERE = Path(__file__).resolve().parent
ITEMS = 20_000


async def shoot(data_dir: Path) -> None:
    async with console_on(data_dir) as (app, base):
        browser = Browser(await asyncio.to_thread(start_chromium))
        try:
            await browser.open(f"{base}/signin/{await sign_in_token(app, 'console:admin')}")
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


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        data_dir = Path(folder)
        build(data_dir, ITEMS)
        asyncio.run(shoot(data_dir))


if __name__ == "__main__":
    main()
