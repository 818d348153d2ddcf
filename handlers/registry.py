"""Every action and flow of the bot, in one visible list. Order here is menu order."""

from __future__ import annotations

from handlers import basics, declare
from handlers.actions import Action, Registry


def build_registry() -> Registry:
    actions = (
        Action("start", basics.start, commands=("start",)),
        Action("menu", basics.show_menu, commands=("menu",)),
        Action("declare", declare.declare, commands=("declare",), menu_label="menu.declare"),
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
    flows = {flow.name: flow for flow in (declare.DECLARATION, declare.WITHDRAWAL)}
    return Registry(actions=actions, flows=flows)
