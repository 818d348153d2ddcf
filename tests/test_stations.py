"""Warm stations: importing a file, the nearest open ones, filters, the spatial index."""

from __future__ import annotations

import asyncio
import json
import random
from datetime import datetime
from pathlib import Path

import pytest
from openpyxl import Workbook

from bot.app import App
from bot.cli import main
from bot.clock import CHINA, ManualClock
from bot.transports.telegram import TelegramRunner
from handlers.geo import distance_m, wgs84_to_gcj02
from handlers.hours import parse_hours, to_json
from handlers.stations import nearest
from storage import stations
from storage.stations import NewStation
from tests.chat import Chat
from tests.fake_telegram import FakeTelegram
from tests.test_telegram_branches import expect

RIDER_AT = (31.2304, 121.4737)
ALWAYS = to_json(parse_hours("24h"))
HEADER = "name,kind,address,lat,lon,hours,amenities,datum\n"
GOOD_ROWS = (
    "人民广场驿站,驿站,黄浦区人民大道,31.2310,121.4740,08:00-22:00,饮水;充电;卫生间,\n"
    "南京路夜间驿站,station,南京东路,31.2330,121.4760,20:00-02:00,water;rest,\n"
    "外滩食堂,食堂,中山东一路,31.2400,121.4900,24h,微波炉,\n"
)


def import_file(
    capsys: pytest.CaptureFixture[str], data: Path, path: Path, *extra: str
) -> list[str]:
    assert main(["admin", "stations", "import", "--data-dir", str(data), str(path), *extra]) == 0
    return capsys.readouterr().out.splitlines()


@pytest.fixture
def stocked(
    settings: object, capsys: pytest.CaptureFixture[str], tmp_path: Path, app: App
) -> None:
    """Three stations imported from a file, as an admin does."""
    path = tmp_path / "stations.csv"
    path.write_text(HEADER + GOOD_ROWS, encoding="utf-8")
    assert import_file(capsys, app.settings.data_dir, path)[0] == "导入 3 个，退回 0 行"


def test_an_import_reports_each_bad_row_and_keeps_the_good_ones(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    gcj_lat, gcj_lon = wgs84_to_gcj02(31.2000, 121.4500)
    path = tmp_path / "stations.csv"
    path.write_text(
        HEADER
        + GOOD_ROWS
        + f"徐家汇驿站,驿站,漕溪北路,{gcj_lat},{gcj_lon},07:00-23:00,饮水,gcj02\n"
        + ",驿站,无名,31.2,121.4,24h,,\n"
        + "缺坐标驿站,驿站,某路,,,24h,,\n"
        + "巴黎驿站,驿站,Paris,48.85,2.35,24h,,\n"
        + "乱写时间驿站,驿站,某路,31.21,121.45,早上八点到晚上,,\n"
        + "人民广场驿站,驿站,黄浦区人民大道,31.2310,121.4740,24h,,\n"
        + "奇怪设施驿站,驿站,某路,31.22,121.46,24h,按摩椅,\n"
        + "海上驿站,驿站,东海,29.0,124.5,24h,,\n",
        encoding="utf-8",
    )
    data = tmp_path / "data"
    report = import_file(capsys, data, path)
    assert report == [
        "导入 4 个，退回 7 行",
        "第 6 行：没有名称",
        "第 7 行：坐标缺失或不是数字",
        "第 8 行：坐标 48.85, 2.35 不在服务范围内",
        "第 9 行：营业时间看不懂「早上八点到晚上」：「早上八点到晚上」不是 08:00-20:00 这样的时段",
        "第 10 行：和已有的「人民广场驿站」重复",
        "第 11 行：不认识的设施「按摩椅」",
        "第 12 行：坐标 29.0, 124.5 在海上",
    ]
    assert main(["admin", "audit", "--data-dir", str(data), "--format", "json"]) == 0
    log = json.loads(capsys.readouterr().out)
    assert [(e["action"], e["detail"]) for e in log] == [("stations_import", "added=4 refused=7")]


async def test_a_gcj02_row_is_stored_in_wgs84(
    app: App, capsys: pytest.CaptureFixture[str], tmp_path: Path, clock: ManualClock
) -> None:
    gcj_lat, gcj_lon = wgs84_to_gcj02(31.2000, 121.4500)
    path = tmp_path / "gcj.csv"
    path.write_text(HEADER + f"徐家汇驿站,驿站,漕溪北路,{gcj_lat},{gcj_lon},24h,,\n", "utf-8")
    await asyncio.to_thread(import_file, capsys, app.settings.data_dir, path, "--datum", "gcj02")
    async with app.db.transaction() as tx:
        found = await nearest(tx, 31.2000, 121.4500, clock.now(), 1000)
    assert [f.station.name for f in found] == ["徐家汇驿站"]
    assert found[0].distance_m < 1


async def share(rider: Chat, moment: datetime, clock: ManualClock, *taps: str) -> str:
    clock.set(moment)
    await rider.say("/stations")
    for label in taps:
        await rider.tap(label)
    return (await rider.say(f"!loc {RIDER_AT[0]} {RIDER_AT[1]}")).text


async def test_open_now_at_the_edges_of_the_hours_and_across_midnight(
    stocked: None, rider: Chat, clock: ManualClock
) -> None:
    evening = await share(rider, datetime(2026, 12, 1, 21, 59, tzinfo=CHINA), clock)
    assert "1. 人民广场驿站｜" in evening and "南京路夜间驿站" in evening
    closing = await share(rider, datetime(2026, 12, 1, 22, 0, tzinfo=CHINA), clock)
    assert "人民广场驿站" not in closing and "1. 南京路夜间驿站｜" in closing
    small_hours = await share(rider, datetime(2026, 12, 2, 1, 59, tzinfo=CHINA), clock)
    assert "南京路夜间驿站" in small_hours and "外滩食堂" in small_hours
    dawn = await share(rider, datetime(2026, 12, 2, 2, 0, tzinfo=CHINA), clock)
    assert "南京路夜间驿站" not in dawn and "外滩食堂" in dawn
    with_closed = await share(
        rider, datetime(2026, 12, 2, 2, 0, tzinfo=CHINA), clock, "也看现在关门的"
    )
    assert "🔴 已关门" in with_closed and "南京路夜间驿站" in with_closed


async def test_amenity_filters_and_feedback_to_the_admins(
    stocked: None, rider: Chat, clock: ManualClock
) -> None:
    charging = await share(
        rider, datetime(2026, 12, 1, 21, 0, tzinfo=CHINA), clock, "只看能充电的"
    )
    assert "人民广场驿站" in charging and "南京路夜间驿站" not in charging
    always = await share(rider, datetime(2026, 12, 1, 21, 0, tzinfo=CHINA), clock, "只看24小时")
    assert "外滩食堂" in always and "人民广场驿站" not in always
    told = await rider.script("tap:1号有问题", "晚上九点去的时候没有开门")
    assert "谢谢" in told.text
    assert [r.text for r in told.to("admin")] == [
        "🏠 骑手反馈（驿站：外滩食堂）：晚上九点去的时候没有开门"
    ]


async def test_a_location_outside_the_area_or_at_sea_gets_a_clear_answer(rider: Chat) -> None:
    await rider.say("/stations")
    assert "不在服务范围内" in (await rider.say("!loc 48.85 2.35")).text
    assert "在海上" in (await rider.say("!loc 39.0 120.0")).text
    assert "公里内没有找到" in (await rider.say("!loc 30.01 122.39")).text
    await rider.say("/stations")
    assert "公里内没有找到" in (await rider.say("!loc 16.83 112.33")).text


async def test_the_index_finds_exactly_what_a_full_scan_finds(app: App) -> None:
    rng = random.Random(7)
    now = datetime(2026, 12, 1, 15, 0, tzinfo=CHINA)
    async with app.db.transaction() as tx:
        every = []
        for n in range(2000):
            lat, lon = 31.0 + rng.random() * 0.5, 121.2 + rng.random() * 0.5
            new = NewStation(f"s{n}", "station", "", lat, lon, {}, ())
            every.append((await stations.add(tx, new, now), lat, lon))
    async with app.db.transaction() as tx:
        for _ in range(50):
            lat, lon = 31.0 + rng.random() * 0.5, 121.2 + rng.random() * 0.5
            found = await nearest(tx, lat, lon, now, 3000, frozenset({"closed"}), limit=10)
            scanned = sorted(
                (distance_m(lat, lon, s_lat, s_lon), sid) for sid, s_lat, s_lon in every
            )
            expected = [sid for away, sid in scanned if away <= 3000][:10]
            assert [f.station.id for f in found] == expected


async def test_over_telegram_the_nearest_stations_arrive_as_venues(
    server: FakeTelegram, runner: TelegramRunner, clock: ManualClock
) -> None:
    async with runner.app.db.transaction() as tx:
        await stations.add(
            tx,
            NewStation(
                "人民广场驿站", "station", "人民大道", 31.2310, 121.4740, ALWAYS, ("water",)
            ),
            clock.now(),
        )
        await stations.add(
            tx,
            NewStation("外滩食堂", "canteen", "中山东一路", 31.2400, 121.4900, ALWAYS, ()),
            clock.now(),
        )
    await server.text(501, "/stations")
    await expect(server, 501, "发一下您的位置")
    await server.location(501, *RIDER_AT)
    await expect(server, 501, "最近的")
    venues = [c for c in server.sent_to(501) if c.method == "sendVenue"]
    assert [v.params["title"] for v in venues] == ["1. 人民广场驿站", "2. 外滩食堂"]
    assert float(venues[0].params["latitude"]) == 31.2310


async def test_an_admin_adds_edits_and_closes_a_station_in_chat(
    app: App, rider: Chat, clock: ManualClock
) -> None:
    admin = Chat(app, "admin")
    refused = await admin.say("/addstation 新驿站|驿站|某路|31.2320,121.4750|全天开|饮水")
    assert "营业时间看不懂" in refused.text
    added = await admin.say("/addstation 新驿站|驿站|某路|31.2320,121.4750|24h|饮水;充电")
    station_id = added.text.split("驿站 ")[1].split("：")[0]
    assert "新驿站" in await share(rider, clock.now(), clock)
    await admin.say(f"/editstation {station_id} hours 08:00-09:00")
    assert "新驿站" not in await share(rider, clock.now(), clock)
    await admin.say(f"/editstation {station_id} hours 24h")
    assert "已关闭" in (await admin.say(f"/closestation {station_id}")).text
    assert "新驿站" not in await share(rider, clock.now(), clock, "也看现在关门的")
    assert (await rider.say("/addstation x")).text == "🚫 您没有权限使用这个功能。"


def test_a_station_workbook_is_imported_like_a_csv_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["name", "kind", "address", "lat", "lon", "hours", "amenities"])
    sheet.append(
        ["陆家嘴驿站", "驿站", "世纪大道", 31.2397, 121.4998, "周一-周五 08:00-20:00", "饮水;充电"]
    )
    sheet.append(["坏坐标驿站", "驿站", "某路", "north", 121.4, "24h", ""])
    path = tmp_path / "stations.xlsx"
    book.save(path)
    report = import_file(capsys, tmp_path / "data", path)
    assert report == ["导入 1 个，退回 1 行", "第 3 行：坐标缺失或不是数字"]
    monkeypatch.setenv("NUANXIN_LANG", "en")
    again = import_file(capsys, tmp_path / "data", path)
    assert again == [
        "imported 0, rejected 2",
        "row 2: a duplicate of “陆家嘴驿站”",
        "row 3: coordinates missing or not numbers",
    ]
