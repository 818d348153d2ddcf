"""Actions: what a user can start by a command or a main-menu button."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from bot.config import Settings
from handlers.context import Context
from handlers.engine import Flow
from storage.branches import Authority


class Role(StrEnum):
    """Who may run an action: admins may do everything secretaries may; a secretary acts
    only on items of their own branches, which each action checks for itself."""

    RIDER = "rider"
    SECRETARY = "secretary"
    ADMIN = "admin"


ROLE_ORDER = (Role.RIDER, Role.SECRETARY, Role.ADMIN)


def role_of(settings: Settings, user_id: str, authority: Authority) -> Role:
    """Admins are named in the settings or appointed; secretaries run a branch or more."""
    if user_id in settings.admins or authority.appointed_admin:
        return Role.ADMIN
    return Role.SECRETARY if authority.runs else Role.RIDER


@dataclass(frozen=True)
class Action:
    name: str
    run: Callable[[Context, str], Awaitable[None]]
    """Called with the command's arguments, or the part of the button data after the name."""
    commands: tuple[str, ...] = ()
    menu_label: str | None = None
    during_flow: bool = False
    """May run while a flow is in progress (help, language, cancel) without abandoning it."""
    ends_flow: bool = False
    """Run in the middle of a flow, leaves it first, saying so (the menu, a fresh start)."""
    listed: bool = False
    """Shown, as its first command with ``command.<command>``, in the command menus of the
    roles it serves and in their /help."""
    role: Role = Role.RIDER


@dataclass(frozen=True)
class Registry:
    actions: tuple[Action, ...]
    flows: Mapping[str, Flow]

    def by_command(self, command: str) -> Action | None:
        return next((a for a in self.actions if command in a.commands), None)

    def by_name(self, name: str) -> Action | None:
        return next((a for a in self.actions if a.name == name), None)

    def commands(self, role: Role) -> tuple[str, ...]:
        """The commands a person of ``role`` is offered: those of their role and below."""
        reach = ROLE_ORDER[: ROLE_ORDER.index(role) + 1]
        return tuple(a.commands[0] for a in self.actions if a.listed and a.role in reach)

    def menu(self) -> tuple[tuple[str, str], ...]:
        return tuple((a.menu_label, a.name) for a in self.actions if a.menu_label)
