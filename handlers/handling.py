"""Secretaries handle what riders send: alerts with buttons, and the actions behind them.

Every action is checked against the item's branch,
written to the item's history and to the audit log, and pushed to the riders who sent it. A
grievance filed anonymously shows nobody's name, to anybody.
"""

from __future__ import annotations

from bot.events import Button, Reply
from bot.i18n import DEFAULT_LANG
from bot.photos import photo_path, stored_file
from handlers import engine
from handlers.buttons import pack, unpack
from handlers.context import Context
from handlers.engine import Flow
from handlers.lifecycle import StatusError, change_status, confirm
from handlers.routing import responsible
from handlers.steps import Draft, TextStep
from storage import audit, branches, declarations, outbox, personal, points, reports, users
from storage.reports import OPEN_STATUSES, Report

HAZARD_POINTS = 10
"""Earned by each reporter of a hazard a secretary confirms (受理) or resolves."""
VERBS_WITH_NOTE = {"res": "resolved", "rej": "rejected", "dup": "duplicate"}
VERBS = frozenset({"show", "ack", "fwd", *VERBS_WITH_NOTE})


async def reporter_name(ctx: Context, report: Report, lang: str) -> str:
    if report.anonymous:
        return ctx.catalog.t(lang, "card.anonymous")
    declaration = await declarations.get(ctx.tx, report.reporter)
    if declaration:
        return declaration.name
    if await personal.withdrew(ctx.tx, report.reporter):
        return ctx.catalog.t(lang, "card.withdrawn")
    return ctx.catalog.t(lang, "card.rider")


async def report_card(ctx: Context, report: Report, recipient: str) -> list[Reply]:
    """The item as a handler sees it, in the handler's language, with its action buttons and
    its photos (the first under the card, the others after it)."""
    lang = await users.lang_of(ctx.tx, recipient)
    t = ctx.catalog.t
    place = report.address or (
        f"{report.latitude:.5f}, {report.longitude:.5f}" if report.latitude is not None else "—"
    )
    text = t(
        lang,
        "card.report",
        kind=t(lang, f"kind.{report.kind}"),
        ref=report.ref,
        category=t(lang, f"{report.kind}.cat.{report.category}"),
        description=report.description or (t(lang, "card.voice_below") if report.voice else "—"),
        place=place,
        who=await reporter_name(ctx, report, lang),
        count=len(await reports.reporters(ctx.tx, report.id)),
        status=t(lang, f"status.{report.status}"),
    )
    if await outbox.waiting_refs(ctx.tx, ctx.now, report.ref):
        text += "\n" + t(lang, "card.update_waits")
    buttons: tuple[tuple[Button, ...], ...] = ()
    if report.status in OPEN_STATUSES:

        def act(key: str, verb: str) -> Button:
            return Button(t(lang, key), pack("act", verb, report.ref))

        above = await branches.ancestors(ctx.tx, report.branch_id) if report.branch_id else []
        first_row = (act("handle.ack", "ack"), *([act("handle.fwd", "fwd")] if above else []))
        buttons = (
            first_row,
            (act("handle.res", "res"), act("handle.rej", "rej"), act("handle.dup", "dup")),
        )
    shas = await reports.photos(ctx.tx, report.id)
    files = [str(photo_path(ctx.settings.media_dir, sha)) for sha in shas]
    card = Reply(text=text, buttons=buttons, photo=files[0] if files else None)
    extra = [
        Reply(text=t(lang, "card.photo", ref=report.ref, n=n, total=len(files)), photo=file)
        for n, file in enumerate(files[1:], start=2)
    ]
    voice = stored_file(ctx.settings.media_dir, "voice", report.voice) if report.voice else None
    if voice is not None:
        extra.append(Reply(text=t(lang, "card.voice", ref=report.ref), voice=str(voice)))
    return [card, *extra]


BRANCH_GROUP = "group"
"""Recipients ``group:<branch id>``: the branch's group chat, for a transport that keeps one
(WeCom posts to the branch's group robot). A line each, without any rider's name."""


async def alert(ctx: Context, report: Report, branch_id: int | None) -> bool:
    """Tells whoever handles the item; False when nobody does yet (no secretary up the
    tree and no admin set up)."""
    people = await responsible(ctx, branch_id)
    for person in people:
        for reply in await report_card(ctx, report, person):
            await ctx.send(person, reply, card_of=report.ref)
    branch = await branches.get(ctx.tx, branch_id) if branch_id is not None else None
    if branch is not None and branch.robot_webhook:
        text = ctx.catalog.t(
            DEFAULT_LANG,
            "robot.alert",
            kind=ctx.catalog.t(DEFAULT_LANG, f"kind.{report.kind}"),
            ref=report.ref,
            category=ctx.catalog.t(DEFAULT_LANG, f"{report.kind}.cat.{report.category}"),
            branch=branch.name,
        )
        await ctx.send(f"{BRANCH_GROUP}:{branch.id}", Reply(text=text))
    return bool(people)


async def act(ctx: Context, argument: str) -> None:
    """``act:VERB:REF`` from a card's buttons."""
    verb, ref = unpack(argument, VERBS, str)
    report = await reports.get(ctx.tx, ref)
    if report is None:
        ctx.alert("report.not_found", ref=ref)
        return
    if not ctx.handles(report.branch_id):
        ctx.alert("hint.not_allowed")
        return
    if verb == "show":
        for reply in await report_card(ctx, report, ctx.user.id):
            await ctx.send(ctx.user.id, reply)
    elif verb == "ack":
        await apply(ctx, report, "acknowledged", "")
    elif verb == "fwd":
        await forward(ctx, report)
    elif verb in VERBS_WITH_NOTE:
        if report.status not in OPEN_STATUSES:
            ctx.alert("handle.closed", ref=report.ref)
            return
        await engine.begin(ctx, HANDLE_NOTE, {"ref": report.ref, "verb": verb})
    else:
        ctx.alert("hint.unknown_button")


async def apply(ctx: Context, report: Report, status: str, note: str) -> bool:
    try:
        await change_status(ctx, report, status, note)
    except StatusError as bad:
        await ctx.reply((await ctx.render_for(ctx.user.id, bad.key, **bad.params)).text)
        return False
    await audit.record(ctx.tx, ctx.actor, f"report_{status}", report.ref, ctx.now, note)
    await bring_cards_up_to_date(ctx, report.ref, status)
    if report.kind == "hazard" and status in ("acknowledged", "resolved"):
        await award_points(ctx, report)
    if report.kind == "hazard" and status == "rejected":
        await take_back_points(ctx, report)
    await confirm(ctx, report, status)
    return True


async def bring_cards_up_to_date(ctx: Context, ref: str, status: str) -> None:
    """Every other handler's card of the item is edited in place (where the platform can) to
    show its new state and who changed it, without the buttons nobody should press now; from
    the web console, the actor's own cards too (nobody tapped them)."""
    report = await reports.get(ctx.tx, ref)
    assert report is not None
    actor = await declarations.get(ctx.tx, ctx.user.id)
    for card in await outbox.cards_of(ctx.tx, ref):
        if card.recipient == ctx.user.id and not ctx.via:
            continue
        lang = await users.lang_of(ctx.tx, card.recipient)
        handled = ctx.catalog.t(
            lang,
            "card.handled",
            who=actor.name if actor else ctx.user.id,
            status=ctx.catalog.t(lang, f"status.{status}"),
        )
        current, *_ = await report_card(ctx, report, card.recipient)
        text = f"{current.text}\n{handled}"
        await ctx.send(card.recipient, Reply(text=text, photo=current.photo, edit_of=card.id))


async def award_points(ctx: Context, report: Report) -> None:
    for reporter in await reports.reporters(ctx.tx, report.id):
        if await points.award(
            ctx.tx, reporter, HAZARD_POINTS, "hazard_confirmed", report.id, ctx.now
        ):
            await ctx.push(reporter, "points.earned", n=HAZARD_POINTS, ref=report.ref)


async def take_back_points(ctx: Context, report: Report) -> None:
    """An item accepted, then rejected, was not a hazard after all: its points go back, with
    a line in each reporter's history."""
    for reporter in await reports.reporters(ctx.tx, report.id):
        taken = await points.take_back(
            ctx.tx, reporter, "hazard_confirmed", "hazard_rejected", report.id, ctx.now
        )
        if taken:
            await ctx.push(reporter, "points.taken_back", n=taken, ref=report.ref)


async def forward(ctx: Context, report: Report) -> None:
    """Up one level of the tree: the item moves there and its secretaries are alerted."""
    above = await branches.ancestors(ctx.tx, report.branch_id) if report.branch_id else []
    if not above:
        await ctx.say("handle.no_parent", ref=report.ref)
        return
    parent = above[0]
    if await apply(ctx, report, "forwarded", parent.name):
        await reports.move_to(ctx.tx, report.id, parent.id)
        moved = await reports.get(ctx.tx, report.ref)
        assert moved is not None
        await alert(ctx, moved, parent.id)


class NoteStep(TextStep):
    """Asks for the answer, the reason or the original's reference, as the verb needs."""

    async def prompt(self, ctx: Context, draft: Draft) -> Reply:
        return Reply(text=ctx.t(f"handle.ask_{draft['verb']}", ref=draft["ref"]))


class HandleNoteFlow(Flow):
    """The answer to a resolved item, the reason for a rejection, or the original of a
    duplicate: the words the rider will read."""

    name = "handle_note"
    title_key = "handle.title"
    steps = (
        NoteStep(
            name="note",
            field="note",
            prompt_key="handle.ask_res",
            label_key=None,
            max_len=500,
        ),
    )

    async def complete(self, ctx: Context, draft: Draft) -> None:
        report = await reports.get(ctx.tx, draft["ref"])
        if report is None or not ctx.handles(report.branch_id):
            await ctx.say("hint.not_allowed")
            return
        await apply(ctx, report, VERBS_WITH_NOTE[draft["verb"]], draft["note"])


HANDLE_NOTE = HandleNoteFlow()
