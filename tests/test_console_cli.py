"""The console and export commands as subprocesses, fed by a pipe."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from tests.cli import blocks, nuanxin

FIRST_HALF = """/start
/declare
!tap 1
李四
13912345678
"""
SECOND_HALF = """!tap 2
饿了么静安站
上海
静安区
!tap 4
!tap 2
!tap 1
!tap 1
"""


def test_a_piped_script_declares_and_the_export_shows_it(tmp_path: Path) -> None:
    data = tmp_path / "d"
    out = nuanxin("console", "--data-dir", str(data), stdin=FIRST_HALF + SECOND_HALF, cwd=tmp_path)
    said = blocks(out)
    assert all(to == "rider" for to, _ in said)
    assert "[1] 📷 随手拍" in said[0][1] and "🪪 亮身份" in said[0][1]
    assert "登记成功" in out
    exported = json.loads(
        nuanxin("export", "members", "--format", "json", "--data-dir", str(data), cwd=tmp_path)
    )
    assert exported == [
        {
            **exported[0],
            "name": "李四",
            "phone": "139****5678",
            "platform": "eleme",
            "station": "饿了么静安站",
            "political_status": "masses",
            "duty": "volunteer",
            "pledge": "遵守交通规则，安全文明配送",
            "status": "pending",
        }
    ]


def test_a_restart_mid_flow_resumes_where_the_rider_was(tmp_path: Path) -> None:
    env = {"NUANXIN_DATA_DIR": str(tmp_path / "env-data")}
    first = nuanxin("console", stdin=FIRST_HALF, cwd=tmp_path, env=env)
    assert blocks(first)[-1][1].startswith("3️⃣")
    second = nuanxin("console", stdin=SECOND_HALF, cwd=tmp_path, env=env)
    assert "饿了么" in second and "登记成功" in second
    assert (tmp_path / "env-data" / "nuanxin.db").exists()


def test_the_default_data_folder_is_under_the_working_directory(tmp_path: Path) -> None:
    nuanxin("console", stdin="/start\n", cwd=tmp_path)
    assert (tmp_path / "nuanxin-data" / "nuanxin.db").exists()


def test_one_script_plays_several_users(tmp_path: Path) -> None:
    out = nuanxin(
        "console", "--user", "a", stdin="/start\n!as b\n/lang en\n/start\n", cwd=tmp_path
    )
    assert [to for to, _ in blocks(out)] == ["a", "b", "b"]
    assert blocks(out)[0][1].startswith("👋 你好")
    assert blocks(out)[2][1].startswith("👋 Hello")


def test_console_mistakes_are_explained_not_sent(tmp_path: Path) -> None:
    out = nuanxin("console", stdin="!tap 9\n!photo /no/such.jpg\n!loc north\n", cwd=tmp_path)
    assert out.count("!! ") == 3
    assert "== to" not in out


def test_export_masks_phones_unless_asked(tmp_path: Path) -> None:
    data = str(tmp_path / "d")
    nuanxin("console", "--data-dir", data, stdin=FIRST_HALF + SECOND_HALF, cwd=tmp_path)
    masked = list(
        csv.DictReader(
            io.StringIO(
                nuanxin("export", "members", "--format", "csv", "--data-dir", data, cwd=tmp_path)
            )
        )
    )
    assert masked[0]["phone"] == "139****5678"
    assert masked[0]["name"] == "李四"
    full = json.loads(
        nuanxin(
            "export", "members", "--format", "json", "--unmasked", "--data-dir", data, cwd=tmp_path
        )
    )
    assert full[0]["phone"] == "13912345678"


def test_a_piped_script_files_a_hazard_and_a_grievance_that_the_exports_show(
    tmp_path: Path,
) -> None:
    from PIL import Image

    from tests.images import GPS_IFD, photo

    picture = photo(tmp_path / "shop.jpg", gps=(31.2304, 121.4737))
    data = str(tmp_path / "d")
    script = f"""/report
!tap 1
!photo {picture}
!tap 1
!tap 1
冷柜温度不够
!tap 1
/grievance
!tap 5
小区不让电动车进
!tap 1
!tap 1
!tap 2
!tap 1
"""
    out = nuanxin("console", "--data-dir", data, stdin=script, cwd=tmp_path)
    assert "YH-" in out and "SQ-" in out
    stored = list((tmp_path / "d" / "media" / "photos").glob("*/*.jpg"))
    assert len(stored) == 1
    with Image.open(stored[0]) as image:
        assert not image.getexif().get_ifd(GPS_IFD) and not dict(image.getexif())
    hazards = json.loads(
        nuanxin("export", "hazards", "--format", "open311", "--data-dir", data, cwd=tmp_path)
    )
    assert hazards == [
        {
            **hazards[0],
            "status": "open",
            "service_code": "food",
            "service_name": "食品安全",
            "description": "冷柜温度不够",
            "lat": 31.2304,
            "long": 121.4737,
        }
    ]
    assert not {"reporter", "phone", "name"} & set(hazards[0])
    grievances = list(
        csv.DictReader(
            io.StringIO(
                nuanxin(
                    "export", "grievances", "--format", "csv", "--data-dir", data, cwd=tmp_path
                )
            )
        )
    )
    assert [(g["category"], g["description"], g["reporter"]) for g in grievances] == [
        ("parking", "小区不让电动车进", "")
    ]


ROLES_SCRIPT = """!as rider
/join ZJ0001
/grievance
!tap 8
没有地方喝水
!tap 1
!tap 1
!tap 1
!tap 1
!as sec
/pending
!tap 1
!tap 1
!tap 2
已给站点装了饮水机
!as rider
!tap 5
!tap 1
!as admin
/stats
"""


def test_one_script_plays_rider_secretary_and_admin(tmp_path: Path) -> None:
    data = str(tmp_path / "d")
    env = {"NUANXIN_ADMINS": "console:admin"}
    code = nuanxin(
        "admin",
        "branch",
        "add",
        "--data-dir",
        data,
        "--code",
        "zj0001",
        "--name",
        "张江站支部",
        "--kind",
        "station",
        "--secretary",
        "console:sec",
        cwd=tmp_path,
        env=env,
    )
    assert code.strip() == "ZJ0001"
    said = blocks(
        nuanxin("console", "--data-dir", data, stdin=ROLES_SCRIPT, cwd=tmp_path, env=env)
    )
    to_secretary = [body for to, body in said if to == "sec"]
    assert to_secretary[0].startswith("🎖 您被任命为「张江站支部」的书记。")
    assert to_secretary[1] == "👋 有骑手加入了「张江站支部」。\n"
    assert to_secretary[2].startswith("🔔 诉求 SQ-")
    assert any("已改为「已解决」" in body for body in to_secretary)
    to_rider = [body for to, body in said if to == "rider"]
    assert any("已给站点装了饮水机" in body and "[5] 5⭐" in body for body in to_rider)
    stats = [body for to, body in said if to == "admin"][-1]
    assert "诉求 1 件" in stats and "满意率 100%" in stats and "(photo: " in stats
    exported = json.loads(
        nuanxin("export", "grievances", "--format", "json", "--data-dir", data, cwd=tmp_path)
    )
    assert [(g["status"], g["rating"]) for g in exported] == [("closed", 5)]
