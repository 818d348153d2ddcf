"""``nuanxin admin …`` and exports: the real command-line entry point, in process."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook

from bot.app import App
from bot.cli import main
from bot.config import Settings
from storage import outbox
from tests import images
from tests.chat import Chat
from tests.test_declaration import UP_TO_POLITICAL


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TELEGRAM_BOT_USERNAME", "nuanxin_bot")
    monkeypatch.chdir(tmp_path)
    return tmp_path / "data"


def run(capsys: pytest.CaptureFixture[str], *args: str, code: int = 0) -> str:
    assert main(list(args)) == code
    captured = capsys.readouterr()
    return captured.out if code == 0 else captured.err


def admin(capsys: pytest.CaptureFixture[str], data: Path, *args: str, code: int = 0) -> str:
    """``nuanxin admin <group> [<action>] --data-dir DATA …``"""
    head = 2 if args[0] in ("branch", "admins") else 1
    return run(capsys, "admin", *args[:head], "--data-dir", str(data), *args[head:], code=code)


def declare(data: Path, user: str, name: str, phone: str) -> None:
    """A rider declares through the chat, as riders do."""

    async def chat() -> None:
        app = await App.open(Settings(data_dir=data))
        try:
            lines = [*UP_TO_POLITICAL, "tap:群众", "tap:暂不", "tap:交通", "tap:确认提交"]
            lines[3:5] = [name, phone]
            await Chat(app, user).script(*lines)
        finally:
            await app.close()

    asyncio.run(chat())


def test_branches_are_added_edited_imported_listed_and_audited(
    capsys: pytest.CaptureFixture[str], data: Path, tmp_path: Path
) -> None:
    assert (
        admin(
            capsys,
            data,
            "branch",
            "add",
            "--name",
            "新业态党委",
            "--kind",
            "committee",
            "--code",
            "pdxyt",
        ).strip()
        == "PDXYT"
    )
    code = admin(
        capsys,
        data,
        "branch",
        "add",
        "--name",
        "张江站支部",
        "--kind",
        "网点站点",
        "--district",
        "浦东新区",
        "--parent",
        "PDXYT",
        "--secretary",
        "telegram:42",
    ).strip()
    admin(capsys, data, "branch", "edit", code, "--name", "美团张江站支部")
    roster = tmp_path / "branches.csv"
    roster.write_text(
        "code,name,kind,district,parent_code,secretaries\n"
        "LJZ001,陆家嘴商圈支部,商圈楼宇,浦东新区,LJZ000,wecom:lisi\n"
        "LJZ000,陆家嘴街道党工委,district,浦东新区,,\n",
        encoding="utf-8",
    )
    assert admin(capsys, data, "branch", "import", str(roster)).strip() == "新增 2 个，更新 0 个"
    listed = {
        b["code"]: b for b in json.loads(admin(capsys, data, "branch", "list", "--format", "json"))
    }
    assert listed[code]["name"] == "美团张江站支部"
    assert listed[code]["parent"] == "PDXYT" and listed[code]["secretaries"] == ["telegram:42"]
    assert listed["LJZ001"]["parent"] == "LJZ000"
    assert listed["LJZ001"]["secretaries"] == ["wecom:lisi"]

    bad_row = tmp_path / "bad-kind.csv"
    bad_row.write_text("code,name,kind\nCSC001,菜市场支部,菜市场\n", encoding="utf-8")
    said = admin(capsys, data, "branch", "import", str(bad_row), code=2)
    assert "\nnuanxin: ⚠️ 第 2 行有问题（没有「菜市场」这种类型。可选：" in said
    assert "branch." not in said

    refused = admin(capsys, data, "branch", "add", "--name", "x", "--kind", "菜市场", code=2)
    assert "没有「菜市场」这种类型" in refused
    loop = admin(capsys, data, "branch", "edit", "PDXYT", "--parent", code, code=2)
    assert "不能挂在自己下面" in loop
    assert len(json.loads(admin(capsys, data, "branch", "list", "--format", "json"))) == 4

    log = admin(capsys, data, "audit", "--format", "json")
    actions = [(e["action"], e["target"]) for e in json.loads(log)]
    assert ("branch_add", code) in actions and ("secretary_appoint", code) in actions
    assert ("branch_edit", code) in actions and ("branch_import", "") in actions
    assert all(e["actor"].startswith("cli:") for e in json.loads(log))


def test_the_qr_code_of_a_branch_opens_its_join_link(
    capsys: pytest.CaptureFixture[str], data: Path, tmp_path: Path
) -> None:
    code = admin(
        capsys, data, "branch", "add", "--name", "张江站支部", "--kind", "station"
    ).strip()
    poster = tmp_path / "poster.png"
    link = admin(capsys, data, "branch", "qr", code, "--out", str(poster)).strip()
    assert link == f"https://t.me/nuanxin_bot?start=join-{code}"
    assert images.decode_qr(poster) == link


def roster_rows() -> list[list[str]]:
    """A platform roster with each kind of mismatch."""
    return [
        ["姓名", "手机号", "平台", "站点"],
        ["张三", "+86 138-0013-8000", "美团", "张江站"],  # matched
        ["李四", "13900000001", "饿了么", "陆家嘴站"],  # in the roster, not declared
        ["王五", "13700000002", "美团", "张江站"],  # duplicate in the roster
        ["王五", "137 0000 0002", "美团", "张江站"],
        ["赵六", "12345", "闪送", "外滩站"],  # no valid number
    ]


@pytest.mark.parametrize("suffix", ["csv", "xlsx"])
def test_a_roster_is_compared_with_the_declarations(
    capsys: pytest.CaptureFixture[str], data: Path, tmp_path: Path, suffix: str
) -> None:
    declare(data, "a", "张三", "13800138000")
    declare(data, "b", "孙七", "13600000003")
    path = tmp_path / f"roster.{suffix}"
    if suffix == "csv":
        path.write_text("\n".join(",".join(r) for r in roster_rows()), encoding="utf-8")
    else:
        book = Workbook()
        sheet = book.active
        assert sheet is not None
        for row in roster_rows():
            sheet.append(row)
        book.save(path)
    out = tmp_path / "result.csv"
    admin(capsys, data, "compare", str(path), "--out", str(out))
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    outcomes = sorted((r["outcome"], r["roster_name"] or r["declared_name"]) for r in rows)
    assert outcomes == [
        ("bad_phone", "赵六"),
        ("declared_not_in_roster", "孙七"),
        ("duplicate_in_roster", "王五"),
        ("duplicate_in_roster", "王五"),
        ("in_roster_not_declared", "李四"),
        ("matched", "张三"),
    ]
    assert all("****" in r["phone"] for r in rows if r["outcome"] != "bad_phone")


def test_stats_and_xlsx_exports_show_what_riders_declared(
    capsys: pytest.CaptureFixture[str], data: Path, tmp_path: Path
) -> None:
    declare(data, "a", "张三", "13800138000")
    figures = json.loads(admin(capsys, data, "stats", "--format", "json"))
    assert figures["members"]["total"] == 1 and figures["members"]["pending"] == 1
    assert figures["members"]["by_political_status"] == {"masses": 1}
    assert figures["handling"]["response_rate"] is None

    sheet = tmp_path / "members.xlsx"
    run(
        capsys,
        "export",
        "members",
        "--format",
        "xlsx",
        "--out",
        str(sheet),
        "--data-dir",
        str(data),
    )
    page = load_workbook(sheet).active
    assert page is not None
    header, first = list(page.iter_rows(values_only=True))[:2]
    assert header[:2] == ("name", "phone") and first[:2] == ("张三", "138****8000")
    run(capsys, "export", "members", "--unmasked", "--data-dir", str(data))
    log = json.loads(admin(capsys, data, "audit", "--format", "json"))
    assert [e["action"] for e in log] == ["export_unmasked"]


def messages_to(data: Path, user: str) -> list[str]:
    """What the bot has queued for ``user`` (a running bot sends it)."""

    async def read() -> list[str]:
        app = await App.open(Settings(data_dir=data))
        try:
            async with app.db.reading() as tx:
                return [m.reply.text for m in await outbox.to_recipient(tx, user)]
        finally:
            await app.close()

    return asyncio.run(read())


def test_people_appointed_on_the_command_line_are_told_and_admins_can_be_dismissed(
    capsys: pytest.CaptureFixture[str], data: Path
) -> None:
    add = ("branch", "add", "--name", "张江站支部", "--kind", "station", "--code", "zj0001")
    admin(capsys, data, *add, "--secretary", "telegram:700")
    assert any("「张江站支部」的书记" in m for m in messages_to(data, "telegram:700"))
    admin(capsys, data, "branch", "edit", "ZJ0001", "--add-secretary", "wecom:lisi")
    assert any("支部码：ZJ0001" in m for m in messages_to(data, "wecom:lisi"))

    assert "现在是管理员" in admin(capsys, data, "admins", "add", "telegram:42")
    assert admin(capsys, data, "admins", "list").split() == ["telegram:42"]
    assert "不再是管理员" in admin(capsys, data, "admins", "remove", "telegram:42")
    assert admin(capsys, data, "admins", "list").split() == []
    told = messages_to(data, "telegram:42")
    assert any("被任命为管理员" in m for m in told) and any("不再是管理员" in m for m in told)
    refused = admin(capsys, data, "admins", "remove", "telegram:42", code=2)
    assert "不是在机器人里任命的管理员" in refused


def test_tables_saved_by_excel_on_chinese_windows_are_read_and_say_how(
    capsys: pytest.CaptureFixture[str], data: Path, tmp_path: Path
) -> None:
    header = "code,name,kind,district,parent_code,secretaries\r\n"
    rows = header + "GBK001,祎玥站支部,station,浦东新区,,\r\n"
    gbk = tmp_path / "branches-gbk.csv"
    gbk.write_bytes(rows.encode("gb18030"))
    assert main(["admin", "branch", "import", "--data-dir", str(data), str(gbk)]) == 0
    told = capsys.readouterr()
    assert "新增 1 个" in told.out and "已按 GB18030 编码读取 branches-gbk.csv" in told.err
    listed = admin(capsys, data, "branch", "list", "--format", "json")
    assert "祎玥站支部" in listed
    bom = tmp_path / "branches-bom.csv"
    bom.write_bytes(rows.replace("GBK001", "BOM001").encode("utf-8-sig"))
    assert "新增 1 个" in admin(capsys, data, "branch", "import", str(bom))
    broken = tmp_path / "broken.csv"
    broken.write_bytes(b"\xff\xfe\x00\x81\x30" * 4)
    refused = admin(capsys, data, "branch", "import", str(broken), code=2)
    assert "既不是 UTF-8 也不是 GB18030" in refused


def test_read_commands_on_a_folder_without_data_and_output_cut_short_say_nothing_wrong(
    capsys: pytest.CaptureFixture[str], data: Path, tmp_path: Path
) -> None:
    missing = tmp_path / "nowhere"
    for command in (["admin", "branch", "list"], ["admin", "audit"], ["export", "members"]):
        assert main([*command, "--data-dir", str(missing)]) == 2
        assert "里没有数据库" in capsys.readouterr().err
    assert not missing.exists()

    many = tmp_path / "many.csv"
    lines = [f"B{n:05d},第{n}站点支部,station,浦东新区,," for n in range(3000)]
    header = "code,name,kind,district,parent_code,secretaries"
    many.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    admin(capsys, data, "branch", "import", str(many))
    piped = subprocess.run(
        f"{sys.executable} -m bot admin branch list --data-dir {data} | head -1",
        shell=True,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert piped.stdout.strip() and piped.stderr == ""
