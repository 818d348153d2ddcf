"""The web console in a real browser: signed in from a ``/web`` link, acting through the same
core as the chat, scoped like the chat, refusing what it must."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from PIL import Image
from selenium import webdriver

from bot.app import App
from bot.clock import ManualClock
from bot.config import Secret, Settings
from bot.transports.telegram import TelegramRunner
from bot.web.pages import Tiles
from bot.web.server import serve_console
from handlers.geo import distance_m
from storage import audit, branches, reports, users
from tests import images
from tests.browser import Browser, start_chromium
from tests.chat import Chat
from tests.conftest import TELEGRAM_ADMIN as ADMIN
from tests.conftest import UNPACED, telegram_bot
from tests.fake_telegram import FakeTelegram
from tests.fake_wecom import AGENT_ID, CORP_ID, SECRET, FakeWeCom
from tests.local_server import free_port
from tests.test_branches import declare_party_member
from tests.test_declaration import declared
from tests.test_query_plans import full_scans
from tests.test_reports import PEOPLES_SQUARE, ref_in
from tests.test_reports import file_hazard as file_hazard_in_chat
from tests.test_telegram import data_of
from tests.test_timers import grievance, tree

RIDER = 501
LINK = re.compile(r"http://\S+/signin/\S+")


@pytest.fixture(scope="session")
def chromium() -> Iterator[webdriver.Chrome]:
    driver = start_chromium()
    yield driver
    driver.quit()


@pytest.fixture
def browser(chromium: webdriver.Chrome) -> Browser:
    """The one browser, with no cookies left from another test (cookies go by host, not
    port, and every test's console is on 127.0.0.1)."""
    chromium.execute_cdp_cmd("Network.clearBrowserCookies", {})
    chromium.set_window_size(1280, 900)
    return Browser(chromium)


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def settings(tmp_path: Path, port: int) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        admins=frozenset({"console:admin"}),
        telegram_bot_username="nuanxin_bot",
        web_url=f"http://127.0.0.1:{port}",
    )


@pytest.fixture
async def console(app: App, port: int) -> AsyncIterator[str]:
    site = await serve_console(app, f"127.0.0.1:{port}")
    yield f"http://127.0.0.1:{port}"
    await site.stop()


async def link_from(chat: Chat) -> str:
    said = await chat.say("/web")
    found = LINK.search(said.text)
    assert found, said.text
    return found.group(0)


async def signed_in(browser: Browser, link: str) -> str:
    await browser.open(link)
    return await browser.click("#signin")


async def hazard_over_telegram(server: FakeTelegram, picture: bytes) -> str:
    await server.text(RIDER, "/report")
    ask = (await server.wait_sent(RIDER, 1))[-1]
    await server.tap(RIDER, data_of(ask, "食品安全"))
    await server.wait_sent(RIDER, 2)
    await server.photo(RIDER, picture)
    got = (await server.wait_sent(RIDER, 3))[-1]
    await server.tap(RIDER, data_of(got, "照片好了"))
    await server.wait_sent(RIDER, 4)
    await server.location(RIDER, *PEOPLES_SQUARE)
    skip = (await server.wait_sent(RIDER, 5))[-1]
    await server.tap(RIDER, data_of(skip, "跳过"))
    summary = (await server.wait_sent(RIDER, 6))[-1]
    await server.tap(RIDER, data_of(summary, "确认提交"))
    return ref_in((await server.wait_sent(RIDER, 7))[-1].text)


async def test_an_admin_signs_in_from_a_link_sees_the_stats_filters_and_accepts_an_item(
    server: FakeTelegram, tmp_path: Path, clock: ManualClock, browser: Browser
) -> None:
    port = free_port()
    web_url = f"http://127.0.0.1:{port}"
    async with telegram_bot(
        server, tmp_path / "data", clock, ADMIN, UNPACED, web_url=web_url
    ) as runner:
        site = await serve_console(runner.app, f"127.0.0.1:{port}")
        try:
            await admin_at_the_console(server, runner, browser, tmp_path, web_url)
        finally:
            await site.stop()


async def admin_at_the_console(
    server: FakeTelegram, runner: TelegramRunner, browser: Browser, tmp_path: Path, web: str
) -> None:
    ref = await hazard_over_telegram(server, images.photo(tmp_path / "p.jpg").read_bytes())
    other, _ = await grievance(Chat(runner.app, "rider2"))
    cards = await server.wait_sent(ADMIN, 2)
    card = next(c for c in cards if ref in c.text)

    await server.text(ADMIN, "/stats")
    stats = (await server.wait_sent(ADMIN, len(cards) + 1))[-1]
    await server.text(ADMIN, "/web")
    answer = (await server.wait_sent(ADMIN, len(cards) + 2))[-1]
    link = LINK.search(answer.text)
    assert link and link.group(0).startswith(f"{web}/signin/")

    overview = await signed_in(browser, link.group(0))
    assert "概览" in overview and "随手拍" in overview
    figures = {
        str(element.get_attribute("data-figure")): element.text
        for element in await browser.all("[data-figure]")
    }
    assert runner.app.catalog.t("zh", "stats.text", **figures) == stats.text
    assert (figures["hazards"], figures["grievances"]) == ("1", "1")

    await browser.open(f"{web}/items")
    assert {e.get_attribute("data-ref") for e in await browser.all("tr.item")} == {ref, other}
    await browser.choose("select[name=kind]", "hazard")
    await browser.click("#apply-filters")
    assert [e.get_attribute("data-ref") for e in await browser.all("tr.item")] == [ref]

    page = await browser.click(f"tr.item a[href='/items/{ref}']")
    assert "已提交" in page and "食品安全" in page
    assert await browser.script("return document.querySelector('.photos img').naturalWidth"), (
        "the photo is shown"
    )
    before = len(server.sent_to(RIDER))
    page = await browser.click("#act-ack")
    assert "已受理" in (await browser.attribute("#status", "textContent") or "")
    assert f"{ref} 已改为「已受理」，已通知骑手" in page

    pushed = [c.text for c in (await server.wait_sent(RIDER, before + 2))[before:]]
    assert f"您的随手拍 {ref}：已受理" in "\n".join(pushed)
    edited = [
        c
        for c in server.calls
        if c.method.startswith("editMessage") and c.chat_id == ADMIN and ref in c.text
    ]
    assert edited and "已受理" in edited[-1].text and not edited[-1].buttons
    assert card.method == "sendPhoto"
    async with runner.app.db.reading() as tx:
        entries = await audit.entries(tx)
        item = await reports.get(tx, ref)
    assert item is not None and item.status == "acknowledged"
    assert (f"web:telegram:{ADMIN}", "report_acknowledged", ref) in [
        (e.actor, e.action, e.target) for e in entries
    ]


async def test_a_secretary_sees_and_acts_on_their_own_organisations_only(
    app: App, console: str, browser: Browser
) -> None:
    admin, rider, stranger = Chat(app, "admin"), Chat(app, "rider"), Chat(app, "stranger")
    code = await tree(admin)
    await rider.say(f"/join {code}")
    theirs, _ = await grievance(rider)
    elsewhere, _ = await grievance(stranger)
    secretary = Chat(app, "sec")

    await signed_in(browser, await link_from(secretary))
    await browser.open(f"{console}/items")
    assert [e.get_attribute("data-ref") for e in await browser.all("tr.item")] == [theirs]
    refused = await browser.open(f"{console}/items/{elsewhere}")
    assert "不在你负责的组织范围内" in refused
    organisations = await browser.open(f"{console}/branches")
    assert "张江站支部" in organisations and "console:sec" in organisations
    assert "浦东区委" not in organisations
    assert "只有管理员" in await browser.open(f"{console}/audit")
    overview = await browser.open(f"{console}/")
    assert "我负责的组织" in overview


async def test_a_rider_cannot_get_a_link_and_a_dismissed_secretary_cannot_use_one(
    app: App, console: str, browser: Browser
) -> None:
    refused = await Chat(app, "rider").say("/web")
    assert "您没有权限使用这个功能" in refused.text and "signin" not in refused.text
    admin = Chat(app, "admin")
    code = await tree(admin)
    link = await link_from(Chat(app, "sec"))
    await admin.say(f"/dismiss {code} console:sec")
    page = await signed_in(browser, link)
    assert "只对支部书记和管理员开放" in page
    assert "概览" not in page


async def test_a_link_signs_in_once_within_ten_minutes_and_a_session_ends(
    app: App, console: str, clock: ManualClock
) -> None:
    admin = Chat(app, "admin")
    late = await link_from(admin)
    clock.advance(timedelta(minutes=11))
    link = await link_from(admin)
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as http:
        token = late.rsplit("/", 1)[1]
        async with http.post(f"{console}/signin", data={"token": token}) as expired:
            assert expired.status == 403 and "已用过或已过期" in await expired.text()
        token = link.rsplit("/", 1)[1]
        async with http.get(link) as shown:
            assert "进入工作台" in await shown.text()
        async with http.post(f"{console}/signin", data={"token": token}) as first:
            assert first.status == 200 and "概览" in await first.text()
            cookie = first.history[0].cookies["nuanxin_session"]
            assert cookie["httponly"] and cookie["samesite"] == "Lax"
        async with (
            aiohttp.ClientSession() as other,
            other.post(f"{console}/signin", data={"token": token}) as again,
        ):
            assert again.status == 403
        clock.advance(timedelta(hours=13))
        async with http.get(f"{console}/items") as stale:
            assert stale.status == 401 and "/web" in await stale.text()
    await app.run_due()
    kept = await app.db.read_snapshot(
        lambda conn: conn.execute(
            "SELECT (SELECT COUNT(*) FROM web_sessions) + (SELECT COUNT(*) FROM web_links)"
        ).fetchone()[0]
    )
    assert kept == 0, "the nightly sweep forgets ended sessions and old links"


async def signed_in_client(app: App, console: str, user: str) -> tuple[aiohttp.ClientSession, str]:
    """An HTTP client signed in as ``user``, and the CSRF token its pages carry."""
    link = await link_from(Chat(app, user))
    http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    async with http.post(f"{console}/signin", data={"token": link.rsplit("/", 1)[1]}) as page:
        found = re.search(r'name="csrf" value="([^"]+)"', await page.text())
    assert found
    return http, found.group(1)


async def test_bad_requests_get_a_clear_answer_and_change_nothing(
    app: App, console: str, tmp_path: Path
) -> None:
    rider = Chat(app, "rider")
    ref = await file_hazard_in_chat(rider, images.photo(tmp_path / "h.jpg"), PEOPLES_SQUARE)
    async with app.db.transaction() as tx:
        item = await reports.get(tx, ref)
        assert item is not None
        await tx.execute(
            "UPDATE reports SET description = ? WHERE id = ?",
            ("<script>alert(1)</script> 冷柜", item.id),
        )
    http, csrf = await signed_in_client(app, console, "admin")
    async with http:
        async with http.get(f"{console}/items/{ref}") as page:
            html = await page.text()
        assert "&lt;script&gt;alert(1)&lt;/script&gt; 冷柜" in html and "<script>alert" not in html
        seen = re.search(r'name="seen" value="([^"]+)"', html)
        assert seen

        async def post(**form: str) -> tuple[int, str]:
            async with http.post(f"{console}/items/{ref}", data=form) as answer:
                return answer.status, await answer.text()

        status, text = await post(verb="ack", seen=seen.group(1))
        assert status == 403 and "表单已失效" in text
        status, text = await post(csrf="伪造", verb="ack", seen=seen.group(1))
        assert status == 403 and "表单已失效" in text
        status, text = await post(csrf=csrf, verb="explode", seen=seen.group(1))
        assert status == 400 and "什么都没有改" in text
        status, text = await post(csrf=csrf, verb="res", seen=seen.group(1), note="好" * 600)
        assert "文字太长" in text
        status, text = await post(csrf=csrf, verb="res", seen=seen.group(1), note="x" * 300_000)
        assert status == 413 and "太大" in text
        status, text = await post(csrf=csrf, verb="ack", seen="2020-01-01T00:00:00.000000Z")
        assert "刚被别人处理过" in text and "已提交" in text
        async with app.db.reading() as tx:
            unchanged = await reports.get(tx, ref)
        assert unchanged is not None and unchanged.status == "submitted"
        status, text = await post(csrf=csrf, verb="rej", seen=seen.group(1), note="不是食品问题")
        assert status == 200 and f"{ref} 已改为「未受理」" in text
        async with http.post(f"{console}/signout", data={"csrf": csrf}) as out:
            assert "已退出" in await out.text()
        async with http.get(f"{console}/") as gone:
            assert gone.status == 401
    pushed = await app.unsent("console")
    assert any(m.recipient == "console:rider" and "不是食品问题" in m.reply.text for m in pushed)


async def test_the_item_page_fits_a_phone_screen(
    app: App, console: str, browser: Browser, tmp_path: Path
) -> None:
    rider = Chat(app, "rider")
    ref = await file_hazard_in_chat(rider, images.photo(tmp_path / "h.jpg"), PEOPLES_SQUARE)
    await signed_in(browser, await link_from(Chat(app, "admin")))
    await browser.run(lambda d: d.set_window_size(390, 844))
    await browser.open(f"{console}/items/{ref}")
    width = await browser.script("return [document.documentElement.scrollWidth, innerWidth]")
    assert isinstance(width, list) and width[0] <= width[1]
    shot = tmp_path / "phone.png"
    await browser.run(lambda d: d.save_screenshot(str(shot)))
    with Image.open(shot) as picture:
        assert picture.width <= 390
    assert "受理" in await browser.text()


async def test_the_map_shows_every_point_on_a_plain_background_without_tiles(
    app: App, console: str, browser: Browser, tmp_path: Path
) -> None:
    rider = Chat(app, "rider")
    await file_hazard_in_chat(rider, images.photo(tmp_path / "h.jpg"), PEOPLES_SQUARE)
    await signed_in(browser, await link_from(Chat(app, "admin")))
    page = await browser.open(f"{console}/map")
    assert "1 个点" in page
    drawn = await browser.attribute("#map", "data-drawn")
    assert drawn == "1"
    assert not await browser.all(".leaflet-tile")


async def test_a_secretary_opening_the_console_in_wecom_is_signed_in_by_wecom(
    tmp_path: Path, clock: ManualClock
) -> None:
    wecom = FakeWeCom()
    await wecom.start()
    port = free_port()
    settings = Settings(
        data_dir=tmp_path / "data",
        admins=frozenset({"console:admin"}),
        wecom_corp_id=CORP_ID,
        wecom_agent_id=AGENT_ID,
        wecom_secret=Secret(SECRET),
        wecom_api_url=wecom.api_url,
        web_url=f"http://127.0.0.1:{port}",
    )
    app = await App.open(settings, clock)
    site = await serve_console(app, f"127.0.0.1:{port}")
    try:
        await tree(Chat(app, "admin"))
        wecom.sign_in_codes.update({"code-li": "li", "code-sec": "sec", "code-zhao": "zhao"})
        async with app.db.transaction() as tx:
            await branches.appoint(tx, 3, "wecom:li", "console:admin", clock.now())
        await signed_in_through_wecom(settings.web_url)
    finally:
        await site.stop()
        await app.close()
        await wecom.stop()


async def signed_in_through_wecom(base: str) -> None:
    async def visit(http: aiohttp.ClientSession, code: str, *, state: str = "") -> str:
        async with http.get(f"{base}/auth/wecom", allow_redirects=False) as start:
            assert start.status == 302
            where = urlsplit(start.headers["Location"])
        asked = parse_qs(where.query)
        assert where.netloc == "open.weixin.qq.com" and where.fragment == "wechat_redirect"
        assert asked["appid"] == [CORP_ID] and asked["scope"] == ["snsapi_base"]
        assert asked["redirect_uri"] == [f"{base}/auth/wecom/back"]
        back = {"code": code, "state": state or asked["state"][0]}
        async with http.get(f"{base}/auth/wecom/back", params=back) as landed:
            return await landed.text()

    def client() -> aiohttp.ClientSession:
        return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))

    async with client() as http:
        async with http.get(f"{base}/items") as signed_out:
            assert signed_out.status == 401 and "用企业微信登录" in await signed_out.text()
        assert "概览" in await visit(http, "code-li")
        async with http.get(f"{base}/items") as items:
            assert items.status == 200
    async with client() as http:
        assert "企业微信登录没有成功" in await visit(http, "code-sec", state="forged")
    async with client() as http:
        assert "只对支部书记和管理员开放" in await visit(http, "code-zhao")
    async with client() as http:
        assert "企业微信登录没有成功" in await visit(http, "code-li")


PAGES = (
    "/",
    "/items",
    "/map",
    "/deadlines",
    "/declarations",
    "/branches",
    "/activities",
    "/exports",
    "/audit",
)


async def test_every_page_answers_in_chinese_and_in_english_and_late_items_are_on_the_board(
    app: App, console: str, clock: ManualClock
) -> None:
    admin = Chat(app, "admin")
    await tree(admin)
    ref, _ = await grievance(Chat(app, "rider"))
    clock.advance(timedelta(days=3))
    http, csrf = await signed_in_client(app, console, "admin")
    async with http:
        for path in PAGES:
            async with http.get(console + path) as page:
                text = await page.text()
            assert page.status == 200 and "<h1>" in text and "{" not in text.split("<main>")[1]
        async with http.get(f"{console}/deadlines") as board:
            late = (await board.text()).split('id="overdue"')[1].split("</table>")[0]
        assert ref in late
        async with http.post(
            f"{console}/lang",
            data={"csrf": csrf, "lang": "en"},
            headers={"Referer": "//elsewhere.example/deadlines"},
        ) as english:
            text = await english.text()
        assert english.url.host == "127.0.0.1" and english.url.path == "/deadlines"
        assert "Deadlines" in text and "Overdue" in text and "期限" not in text
        async with http.get(f"{console}/") as overview:
            assert "Declared riders" in await overview.text()


async def test_a_declaration_is_verified_from_the_web_and_the_rider_is_told(
    app: App, console: str
) -> None:
    rider = Chat(app, "rider")
    await declare_party_member(rider)
    await app.unsent("console")
    http, csrf = await signed_in_client(app, console, "admin")
    async with http:
        async with http.get(f"{console}/declarations") as page:
            text = await page.text()
        assert "张三" in text and "138****8000" in text and "13800138000" not in text
        form = {"csrf": csrf, "verdict": "reject", "reason": ""}
        async with http.post(f"{console}/declarations/console:rider", data=form) as refused:
            assert "退回需要写明原因" in await refused.text()
        form = {"csrf": csrf, "verdict": "verify"}
        async with http.post(f"{console}/declarations/console:rider", data=form) as done:
            assert "张三" in await done.text()
    assert (await declared(app)).status == "verified"  # type: ignore[union-attr]
    told = [m.reply.text for m in await app.unsent("console") if m.recipient == "console:rider"]
    assert any("核实" in text for text in told)


async def test_pages_of_items_follow_one_another_to_the_end(app: App, console: str) -> None:
    async with app.db.transaction() as tx:
        await users.touch(tx, "console:rider", app.clock.now())
        for n in range(120):
            new = reports.NewReport(
                "grievance",
                "water",
                None,
                f"第{n}件",
                None,
                None,
                None,
                None,
                None,
                False,
                "console:rider",
                None,
            )
            await reports.create(tx, new, f"SQ-TEST-{n:04d}", [], app.clock.now())
    http, _ = await signed_in_client(app, console, "admin")
    seen: list[str] = []
    async with http:
        url = f"{console}/items?kind=grievance"
        while url:
            async with http.get(url) as page:
                text = await page.text()
            assert "共 120 件" in text
            seen += re.findall(r'data-ref="([^"]+)"', text)
            more = re.search(r'id="next-page" href="\?([^"]+)"', text)
            url = f"{console}/items?{more.group(1).replace('&amp;', '&')}" if more else ""
    assert len(seen) == 120 and len(set(seen)) == 120
    assert seen[0] == "SQ-TEST-0119" and seen[-1] == "SQ-TEST-0000"


async def test_an_admin_downloads_an_export_and_a_secretary_cannot(
    app: App, console: str, settings: Settings
) -> None:
    await tree(Chat(app, "admin"))
    await declare_party_member(Chat(app, "rider"))
    http, _ = await signed_in_client(app, console, "admin")
    async with http, http.get(f"{console}/exports/members.csv") as csv:
        body = await csv.read()
        assert "attachment" in csv.headers["Content-Disposition"]
    assert body.startswith(b"\xef\xbb\xbf") and "138****8000" in body.decode("utf-8-sig")
    assert not list((settings.data_dir / "exports").glob("*"))
    http, _ = await signed_in_client(app, console, "sec")
    async with http, http.get(f"{console}/exports/members.csv") as refused:
        assert refused.status == 403


def test_map_tiles_in_gcj02_get_points_moved_into_their_datum() -> None:
    tiles = Tiles.parse("https://webrd0{s}.is.autonavi.com/{z}/{x}/{y}|© 高德地图|gcj02")
    assert tiles is not None and tiles.attribution == "© 高德地图"
    lat, lon = tiles.place(*PEOPLES_SQUARE)
    assert 100 < distance_m(lat, lon, *PEOPLES_SQUARE) < 1000
    plain = Tiles.parse("https://t0.tianditu.gov.cn/{z}/{x}/{y}|天地图")
    assert plain is not None and plain.place(*PEOPLES_SQUARE) == PEOPLES_SQUARE
    assert Tiles.parse("") is None


async def test_an_item_names_its_reporters_but_never_an_anonymous_one(
    app: App, console: str
) -> None:
    rider = Chat(app, "rider")
    await declare_party_member(rider)
    named, _ = await grievance(rider)
    await rider.script("/grievance", "tap:充电难", "没有地方充电", "tap:跳过", "tap:跳过")
    hidden = ref_in((await rider.script("tap:匿名提交", "tap:确认提交")).text, "SQ")
    http, _ = await signed_in_client(app, console, "admin")
    async with http:
        async with http.get(f"{console}/items/{named}") as page:
            assert "张三" in await page.text()
        async with http.get(f"{console}/items/{hidden}") as page:
            text = await page.text()
    assert "匿名" in text and "张三" not in text and "console:rider" not in text


async def test_the_console_pages_read_through_indexes(app: App, console: str) -> None:
    """Every statement the pages run, planned by SQLite: none reads a growing table from end
    to end, filtered, scoped, paged or not."""
    await tree(Chat(app, "admin"))
    await grievance(Chat(app, "rider"))
    admin, _ = await signed_in_client(app, console, "admin")
    secretary, _ = await signed_in_client(app, console, "sec")
    statements: list[str] = []
    await app.db.watch(statements.append)
    async with admin, secretary:
        for http in (admin, secretary):
            for path in (
                *PAGES,
                "/items?kind=grievance&status=submitted&overdue=1&since=2026-11-01",
                "/items?sort=old&after=2026-12-01T07:00:00.000000Z|9",
                "/items?org=3",
                "/map?category=water",
            ):
                async with http.get(console + path) as page:
                    assert page.status in (200, 403)
    await app.db.watch(None)
    assert len(statements) > 30
    assert full_scans(app.settings.db_path, statements) == {}
