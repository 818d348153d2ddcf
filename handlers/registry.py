"""Every action and flow of the bot, in one visible list. Order here is menu order."""

from __future__ import annotations

from handlers import basics, declare, grievance, hazard, lifecycle, records
from handlers.actions import Action, Registry, Role


def build_registry() -> Registry:
    actions = (
        Action("start", basics.start, commands=("start",)),
        Action("menu", basics.show_menu, commands=("menu",)),
        Action(
            "hazard", hazard.report_hazard, commands=("report", "hazard"), menu_label="menu.hazard"
        ),
        Action(
            "grievance",
            grievance.file_grievance,
            commands=("grievance",),
            menu_label="menu.grievance",
        ),
        Action("declare", declare.declare, commands=("declare",), menu_label="menu.declare"),
        Action(
            "records",
            records.list_records,
            commands=("records", "mine"),
            menu_label="menu.records",
        ),
        Action("record", records.show_record, commands=("record",)),
        Action("rate", lifecycle.rate),
        Action("reopen", lifecycle.reopen),
        Action(
            "setstatus", lifecycle.set_status_command, commands=("setstatus",), role=Role.ADMIN
        ),
        Action("withdraw", declare.withdraw, commands=("withdraw",)),
        Action(
            "help", basics.show_help, commands=("help",), menu_label="menu.help", during_flow=True
        ),
        Action(
            "lang",
            basics.choose_language,
            commands=("lang",),
            menu_label="menu.lang",
            during_flow=True,
        ),
        Action("cancel", basics.cancel, commands=("cancel",), during_flow=True),
    )
    flows = {
        flow.name: flow
        for flow in (
            declare.DECLARATION,
            declare.WITHDRAWAL,
            hazard.HAZARD,
            grievance.GRIEVANCE,
            lifecycle.COMMENT,
        )
    }
    return Registry(actions=actions, flows=flows)
