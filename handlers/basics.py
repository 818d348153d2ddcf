"""The actions every bot needs: welcome, help, cancel, language, menu."""

from __future__ import annotations

from handlers import membership
from handlers.context import Context, rows
from storage import users
from storage.users import User

LANGUAGE_NAMES = {"zh": "中文", "en": "English"}


JOIN_PAYLOAD = "join-"


async def start(ctx: Context, payload: str) -> None:
    """Greets and shows the menu; a deep link (``/start join-CODE``) joins that branch."""
    if payload.startswith(JOIN_PAYLOAD):
        await membership.join(ctx, payload.removeprefix(JOIN_PAYLOAD))
        return
    await ctx.show_menu("menu.welcome")


async def show_menu(ctx: Context, _: str) -> None:
    await ctx.show_menu()


async def show_help(ctx: Context, _: str) -> None:
    """The basics, then every command this person may use, theirs by role."""
    lines = [ctx.t("help.text"), ctx.t("help.commands")]
    lines += [f"/{command} — {ctx.t(f'command.{command}')}" for command in ctx.commands]
    await ctx.reply("\n".join(lines))
    ctx.show_step_again = True


async def cancel(ctx: Context, _: str) -> None:
    if ctx.conversation is None:
        await ctx.say("flow.nothing_to_cancel")
        return
    ctx.conversation = None
    await ctx.say("flow.cancelled_any")


async def choose_language(ctx: Context, choice: str) -> None:
    """``/lang en`` or a tap on a language button sets it; bare ``/lang`` offers the buttons."""
    if choice in LANGUAGE_NAMES:
        await users.set_lang(ctx.tx, ctx.user.id, choice)
        ctx.user = User(id=ctx.user.id, lang=choice)
        await ctx.say("lang.set", language=LANGUAGE_NAMES[choice])
        ctx.show_step_again = True
        return
    if choice:
        await ctx.say("hint.unknown_language", choice=choice)
    buttons = [
        ctx.menu_button("lang.name", "lang", code, name=name)
        for code, name in LANGUAGE_NAMES.items()
    ]
    await ctx.reply(ctx.t("lang.pick"), rows(buttons, 2))
