"""A real browser for the web console's tests: Debian's Chromium, headless, driven by
Selenium through Debian's chromedriver (``.ci/run`` installs both when missing).

Selenium blocks while the browser works, and the console answers from the test's own event
loop, so every browser step runs in a worker thread while the loop serves the page.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable
from typing import TypeVar

from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.expected_conditions import staleness_of
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.wait import WebDriverWait

T = TypeVar("T")

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--lang=zh-CN",
)
"""What the machine allows: no sandbox as root, no reaching out to the internet."""


def start_chromium() -> webdriver.Chrome:
    if not shutil.which(CHROMIUM) or not shutil.which(CHROMEDRIVER):
        raise RuntimeError("the console's tests need Debian's chromium and chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_experimental_option("prefs", {"intl.accept_languages": "zh-CN,zh"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_window_size(1280, 900)
    driver.set_page_load_timeout(30)
    return driver


class Browser:
    def __init__(self, driver: webdriver.Chrome) -> None:
        self.driver = driver

    async def run(self, step: Callable[[webdriver.Chrome], T]) -> T:
        return await asyncio.to_thread(step, self.driver)

    async def open(self, url: str) -> str:
        """Opens a page; returns its visible text."""
        await self.run(lambda d: d.get(url))
        return await self.text()

    async def text(self) -> str:
        return await self.run(lambda d: d.find_element(By.TAG_NAME, "body").text)

    async def click(self, css: str) -> str:
        """Clicks and waits for the page it leads to; returns that page's text."""

        def click(driver: webdriver.Chrome) -> None:
            old = driver.find_element(By.TAG_NAME, "html")
            driver.find_element(By.CSS_SELECTOR, css).click()
            # Asked mid-navigation, Chromium can answer "node does not belong to the
            # document" instead of "stale": the next look gives the plain answer.
            waiting = WebDriverWait(driver, 20, ignored_exceptions=[WebDriverException])
            waiting.until(staleness_of(old))

        await self.run(click)
        return await self.text()

    async def choose(self, css: str, value: str) -> None:
        await self.run(
            lambda d: Select(d.find_element(By.CSS_SELECTOR, css)).select_by_value(value)
        )

    async def type(self, css: str, text: str) -> None:
        await self.run(lambda d: d.find_element(By.CSS_SELECTOR, css).send_keys(text))

    async def all(self, css: str) -> list[WebElement]:
        return await self.run(lambda d: d.find_elements(By.CSS_SELECTOR, css))

    async def attribute(self, css: str, name: str) -> str | None:
        return await self.run(lambda d: d.find_element(By.CSS_SELECTOR, css).get_attribute(name))

    async def script(self, source: str) -> object:
        return await self.run(lambda d: d.execute_script(source))
