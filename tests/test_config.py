"""Settings from the environment: what an operator writes in .env, and what a mistake says."""

from __future__ import annotations

from datetime import date, time, timedelta
from pathlib import Path

import pytest

from bot.cli import main
from bot.config import ConfigError, load_settings


def test_the_documented_example_file_is_valid_and_means_the_defaults() -> None:
    example = Path(__file__).resolve().parent.parent / ".env.example"
    settings = load_settings({}, env_file=example)
    assert settings.quiet_hours == ((time(10, 30), time(13, 30)), (time(16, 30), time(20, 30)))
    assert (settings.ack_working_days, settings.answer_working_days) == (1, 5)
    assert settings.reminder_hours == (24, 1)
    assert settings.digest_at == time(8, 0)
    assert settings.deadline_warning == timedelta(hours=4)
    assert settings.admins == frozenset({"console:admin"})


def test_quiet_hours_can_be_changed_or_switched_off() -> None:
    custom = load_settings({"NUANXIN_QUIET_HOURS": "11:00-13:00"}, env_file=None)
    assert custom.quiet_hours == ((time(11, 0), time(13, 0)),)
    assert load_settings({"NUANXIN_QUIET_HOURS": ""}, env_file=None).quiet_hours == ()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("NUANXIN_QUIET_HOURS", "13:30-10:30"),
        ("NUANXIN_QUIET_HOURS", "noon"),
        ("NUANXIN_DIGEST_AT", "8am"),
        ("NUANXIN_REMINDER_HOURS", "24,soon"),
        ("NUANXIN_ACK_WORKING_DAYS", "0"),
        ("NUANXIN_ADMINS", "zhangsan"),
        ("NUANXIN_CALENDAR_FILE", "/no/such/calendar.csv"),
    ],
)
def test_a_malformed_setting_is_named_in_a_one_line_error(
    name: str, value: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(ConfigError, match=name):
        load_settings({name: value}, env_file=None)
    monkeypatch.setenv(name, value)
    assert main(["admin", "stats"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("nuanxin: ") and name in error and error.count("\n") == 1


def test_a_calendar_file_declares_days_off_and_make_up_days(tmp_path: Path) -> None:
    calendar = tmp_path / "calendar.csv"
    calendar.write_text("# 2027 元旦\n2027-01-01,off\n2027-02-07,班\n", encoding="utf-8")
    settings = load_settings({"NUANXIN_CALENDAR_FILE": str(calendar)}, env_file=None)
    assert settings.calendar == {date(2027, 1, 1): False, date(2027, 2, 7): True}
    calendar.write_text("2027-01-01,off\n2027-13-01,off\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="line 2"):
        load_settings({"NUANXIN_CALENDAR_FILE": str(calendar)}, env_file=None)
