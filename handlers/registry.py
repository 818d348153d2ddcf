"""Every action and flow of the bot, in one visible list. Order here is menu order."""

from __future__ import annotations

from handlers import (
    activities,
    basics,
    branch_admin,
    broadcast,
    declare,
    exports,
    grievance,
    handling,
    hazard,
    lifecycle,
    membership,
    records,
    review,
    stations,
    stats,
)
from handlers.actions import Action, Registry, Role


def build_registry() -> Registry:
    actions = (
        Action("start", basics.start, commands=("start",), ends_flow=True),
        Action("menu", basics.show_menu, commands=("menu",), ends_flow=True),
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
            "stations",
            stations.find_stations,
            commands=("stations", "nearby"),
            menu_label="menu.stations",
        ),
        Action("stationfb", stations.feedback),
        Action(
            "records",
            records.list_records,
            commands=("records", "mine"),
            menu_label="menu.records",
        ),
        Action("record", records.show_record, commands=("record",)),
        Action("points", records.show_points, commands=("points",), menu_label="menu.points"),
        Action("join", membership.join, commands=("join",)),
        Action("whoami", branch_admin.whoami, commands=("whoami",), during_flow=True),
        Action("pending", review.pending, commands=("pending",), role=Role.SECRETARY),
        Action(
            "newactivity",
            activities.new_activity,
            commands=("newactivity",),
            role=Role.SECRETARY,
        ),
        Action(
            "activities",
            activities.list_activities,
            commands=("activities",),
            role=Role.SECRETARY,
        ),
        Action("rsvp", activities.rsvp),
        Action("checkin", activities.checkin, commands=("checkin",)),
        Action("act", handling.act, role=Role.SECRETARY),
        Action("decl", review.decide, role=Role.SECRETARY),
        Action("qr", branch_admin.qr_command, commands=("qr",), role=Role.SECRETARY),
        Action("branches", branch_admin.list_branches, commands=("branches",), role=Role.ADMIN),
        Action("newbranch", branch_admin.new_branch, commands=("newbranch",), role=Role.ADMIN),
        Action("editbranch", branch_admin.edit_command, commands=("editbranch",), role=Role.ADMIN),
        Action("appoint", branch_admin.appoint_command, commands=("appoint",), role=Role.ADMIN),
        Action("dismiss", branch_admin.dismiss_command, commands=("dismiss",), role=Role.ADMIN),
        Action("stats", stats.show_stats, commands=("stats",), role=Role.ADMIN),
        Action("addstation", stations.add_command, commands=("addstation",), role=Role.ADMIN),
        Action("editstation", stations.edit_command, commands=("editstation",), role=Role.ADMIN),
        Action(
            "closestation", stations.close_command, commands=("closestation",), role=Role.ADMIN
        ),
        Action(
            "broadcast", broadcast.start_broadcast, commands=("broadcast",), role=Role.SECRETARY
        ),
        Action("export", exports.export_command, commands=("export",), role=Role.ADMIN),
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
            branch_admin.NEW_BRANCH,
            handling.HANDLE_NOTE,
            review.REJECTION,
            broadcast.BROADCAST,
            activities.ACTIVITY,
            activities.CHECKIN,
            stations.SEARCH,
            stations.FEEDBACK,
        )
    }
    return Registry(actions=actions, flows=flows)
