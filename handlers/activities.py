"""Branch activities (组织生活): created by a secretary in a few steps, with invitations and
RSVP buttons, reminders to those who accepted, check-in on the spot, and recurrence.

Invitations and early reminders are not urgent and wait out the riders' peaks; the last
reminder (an hour before, by default) goes at once. A reminder or an invitation that fell due
while the bot was down is skipped if its occurrence has already started; otherwise it goes
late. Each occurrence of a recurring activity invites when the previous one starts.
"""

from __future__ import annotations

import calendar
import math
import secrets
from datetime import datetime, timedelta
from typing import Any

from bot.clock import CHINA
from bot.events import Button, Event, EventKind, Reply, Request
from bot.i18n import DEFAULT_LANG
from handlers import engine
from handlers.branch_step import BranchStep
from handlers.buttons import pack, unpack
from handlers.context import Context
from handlers.engine import Flow
from handlers.geo import distance_m
from handlers.quiet import push_when_quiet
from handlers.report_steps import LocationStep
from handlers.steps import (
    Advance,
    Choice,
    ChoiceStep,
    Draft,
    Invalid,
    InvalidInput,
    Outcome,
    Step,
    TextStep,
    clean_text,
)
from storage import activities, branches, declarations, users
from storage.activities import Activity, NewActivity
from storage.timefmt import from_db, to_db

KINDS = (
    "theme_day",
    "life_meeting",
    "lecture",
    "traffic",
    "first_aid",
    "legal",
    "health",
    "care",
    "other",
)
RECURRENCES = ("none", "weekly", "monthly")
INVITE, REMIND = "activity_invite", "activity_reminder"
CHECKIN_BEFORE = timedelta(minutes=30)
CHECKIN_AFTER = timedelta(hours=3)
"""Check-in is open from half an hour before the start to three hours after it."""
URGENT_WITHIN = timedelta(hours=1)


def occurrence_key(moment: datetime) -> str:
    return moment.astimezone(CHINA).strftime("%Y%m%d%H%M")


def from_key(key: str) -> datetime:
    return datetime.strptime(key, "%Y%m%d%H%M").replace(tzinfo=CHINA)


def following(activity: Activity, occurrence: datetime) -> datetime | None:
    """The next occurrence after this one: a week later, or the same day of next month (the
    month's last day when it is shorter)."""
    if activity.recurrence == "weekly":
        return occurrence + timedelta(days=7)
    if activity.recurrence == "monthly":
        local = activity.starts_at.astimezone(CHINA)
        current = occurrence.astimezone(CHINA)
        year, month = (current.year + current.month // 12, current.month % 12 + 1)
        day = min(local.day, calendar.monthrange(year, month)[1])
        return current.replace(year=year, month=month, day=day)
    return None


def current_occurrence(activity: Activity, now: datetime) -> datetime | None:
    """The occurrence whose check-in window holds ``now``."""
    occurrence: datetime | None = activity.starts_at
    while occurrence is not None and occurrence + CHECKIN_AFTER < now:
        occurrence = following(activity, occurrence)
    if occurrence is not None and occurrence - CHECKIN_BEFORE <= now:
        return occurrence
    return None


class WhenStep(Step):
    """A start time typed as ``12-10 15:00`` or ``2026-12-10 15:00``, in the future."""

    name = "when"
    field = "when"
    label_key = "activity.field.when"

    def __init__(self) -> None:
        self.when = lambda draft: True

    async def prompt(self, ctx: Context, draft: Draft) -> Reply:
        return Reply(text=ctx.t("activity.ask_when"))

    async def accept(self, ctx: Context, draft: Draft, event: Event) -> Outcome:
        if event.kind is not EventKind.TEXT:
            return Invalid("hint.type_text")
        moment = parse_when(event.text, ctx.now)
        if moment is None:
            return Invalid("activity.bad_when")
        if moment <= ctx.now:
            return Invalid("activity.past_when")
        draft[self.field] = to_db(moment)
        return Advance()

    def display(self, ctx: Context, value: Any) -> str:
        return from_db(str(value)).astimezone(CHINA).strftime("%Y-%m-%d %H:%M")


RECENT = timedelta(days=183)
"""A month and day without a year that fell this recently is a date gone by (refused), not
next year's: ``12-01`` typed on 12-02 is yesterday; ``01-05`` typed in December is January."""


def parse_when(text: str, now: datetime) -> datetime | None:
    """``2026-12-10 15:00``, or ``12-10 15:00``: the nearest such date, China's time."""
    cleaned = " ".join(text.replace("：", ":").split())
    year = now.astimezone(CHINA).year
    for candidate in (cleaned, f"{year}-{cleaned}", f"{year + 1}-{cleaned}"):
        try:
            moment = datetime.strptime(f"{candidate} +0800", "%Y-%m-%d %H:%M %z")
        except ValueError:
            continue
        if candidate == cleaned or moment > now - RECENT:
            return moment.astimezone(CHINA)
    return None


class ActivityFlow(Flow):
    name = "activity"
    title_key = "activity.title"
    summary_title_key = "activity.summary"
    steps = (
        TextStep(
            name="title",
            field="title",
            prompt_key="activity.ask_title",
            label_key="activity.field.title",
            max_len=60,
        ),
        ChoiceStep(
            name="kind",
            field="kind",
            prompt_key="activity.ask_kind",
            label_key="activity.field.kind",
            choices=tuple(Choice(k, f"activity.kind.{k}") for k in KINDS),
        ),
        WhenStep(),
        LocationStep(
            name="place",
            field="place",
            prompt_key="activity.ask_place",
            label_key="activity.field.place",
            optional=True,
        ),
        TextStep(
            name="link",
            field="link",
            prompt_key="activity.ask_link",
            label_key="activity.field.link",
            max_len=300,
            when=lambda draft: draft.get("place") == {},
        ),
        BranchStep(label_key="activity.field.branch", prompt_key="activity.ask_branch"),
        ChoiceStep(
            name="recurrence",
            field="recurrence",
            prompt_key="activity.ask_recurrence",
            label_key="activity.field.recurrence",
            choices=tuple(Choice(r, f"activity.recurrence.{r}") for r in RECURRENCES),
            per_row=3,
        ),
    )

    async def complete(self, ctx: Context, draft: Draft) -> None:
        branch = await branches.by_code(ctx.tx, draft["branch"])
        if branch is None or not ctx.handles(branch.id):
            await ctx.say("hint.not_allowed")
            return
        place = draft["place"]
        new = NewActivity(
            title=draft["title"],
            kind=draft["kind"],
            starts_at=from_db(draft["when"]),
            address=place.get("address", ""),
            latitude=place.get("lat"),
            longitude=place.get("lon"),
            link=draft.get("link", ""),
            recurrence=draft["recurrence"],
            checkin_code=f"{secrets.randbelow(10_000):04d}",
            created_by=ctx.user.id,
        )
        addressed = sorted(await branches.with_descendants(ctx.tx, branch.id))
        activity = await activities.create(ctx.tx, new, addressed, ctx.now)
        invited = await invite(ctx, activity, activity.starts_at)
        await ctx.say(
            "activity.created", title=activity.title, count=invited, code=activity.checkin_code
        )


ACTIVITY = ActivityFlow()


async def new_activity(ctx: Context, _: str) -> None:
    await engine.begin(ctx, ACTIVITY)


def describe(ctx: Context, activity: Activity, occurrence: datetime, lang: str) -> str:
    t = ctx.catalog.t
    where = activity.address or (
        t(lang, "activity.pin", lat=f"{activity.latitude:.5f}", lon=f"{activity.longitude:.5f}")
        if activity.latitude is not None and activity.longitude is not None
        else t(lang, "activity.online", link=activity.link)
    )
    return t(
        lang,
        "activity.card",
        title=activity.title,
        kind=t(lang, f"activity.kind.{activity.kind}"),
        when=occurrence.astimezone(CHINA).strftime("%m-%d %H:%M"),
        where=where,
    )


async def invite(ctx: Context, activity: Activity, occurrence: datetime) -> int:
    """Invites every member to one occurrence, plans its reminders and the next occurrence's
    invitation; returns how many were invited."""
    people = await activities.members(ctx.tx, activity)
    langs = await users.langs_of(ctx.tx, people)
    key = occurrence_key(occurrence)
    for person in people:
        lang = langs.get(person, DEFAULT_LANG)
        text = message(ctx, activity, occurrence, lang, "activity.invitation")
        buttons = (
            tuple(
                Button(
                    ctx.catalog.t(lang, f"activity.{value}"),
                    pack("rsvp", activity.id, key, value),
                )
                for value in ("yes", "no")
            ),
        )
        await push_when_quiet(ctx, person, Reply(text=text, buttons=buttons))
    for hours in ctx.settings.reminder_hours:
        due = occurrence - timedelta(hours=hours)
        if due > ctx.now:
            payload: dict[str, object] = {
                "activity": activity.id,
                "occurrence": key,
                "hours": hours,
            }
            await ctx.schedule(REMIND, f"{REMIND}:{activity.id}:{key}:{hours}", due, payload)
    upcoming = following(activity, occurrence)
    if upcoming is not None:
        await schedule_invitation(ctx, activity, upcoming, at=occurrence)
    return len(people)


async def schedule_invitation(
    ctx: Context, activity: Activity, occurrence: datetime, *, at: datetime
) -> None:
    key = occurrence_key(occurrence)
    payload: dict[str, object] = {"activity": activity.id, "occurrence": key}
    await ctx.schedule(INVITE, f"{INVITE}:{activity.id}:{key}", at, payload)


def message(
    ctx: Context, activity: Activity, occurrence: datetime, lang: str, key: str, **params: object
) -> str:
    """A line of news (``key``) above the activity's card, in the recipient's language."""
    head = ctx.catalog.t(lang, key, **params)
    return f"{head}\n{describe(ctx, activity, occurrence, lang)}"


async def invite_due(ctx: Context, payload: dict[str, object]) -> str:
    activity = await activities.get(ctx.tx, int(str(payload["activity"])))
    occurrence = from_key(str(payload["occurrence"]))
    if activity is None:
        return "gone"
    if occurrence <= ctx.now:
        upcoming = following(activity, occurrence)
        if upcoming is not None:
            await schedule_invitation(ctx, activity, upcoming, at=ctx.now)
        return "skipped_started"
    await invite(ctx, activity, occurrence)
    return "sent"


async def remind_due(ctx: Context, payload: dict[str, object]) -> str:
    activity = await activities.get(ctx.tx, int(str(payload["activity"])))
    occurrence = from_key(str(payload["occurrence"]))
    if activity is None:
        return "gone"
    if occurrence <= ctx.now:
        return "skipped_started"
    urgent = occurrence - ctx.now <= URGENT_WITHIN
    people = await activities.accepted(ctx.tx, activity.id, occurrence)
    langs = await users.langs_of(ctx.tx, people)
    for person in people:
        lang = langs.get(person, DEFAULT_LANG)
        reminder = Reply(
            text=message(
                ctx, activity, occurrence, lang, "activity.reminder", hours=payload["hours"]
            )
        )
        if urgent:
            await ctx.send(person, reminder)
        else:
            await push_when_quiet(ctx, person, reminder)
    return "sent"


ANSWERS = frozenset({"yes", "no"})


async def rsvp(ctx: Context, argument: str) -> None:
    """``rsvp:ID:OCCURRENCE:yes|no`` from an invitation."""
    activity_id, occurrence, answer = unpack(argument, int, from_key, ANSWERS)
    activity = await activities.get(ctx.tx, activity_id)
    if activity is None:
        ctx.alert("hint.unknown_button")
        return
    membership = await branches.membership(ctx.tx, ctx.user.id)
    if membership is None or membership.id not in activity.branch_ids:
        ctx.alert("hint.not_allowed")
        return
    if occurrence <= ctx.now:
        ctx.alert("activity.too_late")
        return
    await activities.answer(ctx.tx, activity.id, occurrence, ctx.user.id, answer, ctx.now)
    await ctx.say(f"activity.answered_{answer}", title=activity.title)


CODE_TRIES = 5
CODE_WAIT = timedelta(minutes=10)


class CheckinStep(Step):
    """A shared location near the place, or the code the secretary announces."""

    name = "checkin"
    field = "checkin"
    label_key = None

    def __init__(self) -> None:
        self.when = lambda draft: True

    async def prompt(self, ctx: Context, draft: Draft) -> Reply:
        return Reply(
            text=ctx.t("activity.ask_checkin", title=draft["title"]),
            request=Request.LOCATION if draft.get("lat") is not None else None,
            request_label=ctx.t("button.share_location"),
        )

    async def accept(self, ctx: Context, draft: Draft, event: Event) -> Outcome:
        if event.kind is EventKind.LOCATION and draft.get("lat") is not None:
            assert event.latitude is not None and event.longitude is not None
            away = distance_m(draft["lat"], draft["lon"], event.latitude, event.longitude)
            if away > ctx.settings.checkin_radius_m:
                return Invalid("activity.too_far", {"metres": round(away)})
            draft[self.field] = "location"
            return Advance()
        if event.kind is EventKind.TEXT:
            try:
                code = clean_text(event.text, 20)
            except InvalidInput as bad:
                return Invalid(bad.key, bad.params)
            return await self._code(ctx, draft, code)
        return Invalid("activity.checkin_how")

    async def _code(self, ctx: Context, draft: Draft, code: str) -> Outcome:
        """The code, with ``CODE_TRIES`` wrong ones allowed before a ``CODE_WAIT``: a
        four-digit code must not be found by trying them all."""
        activity, occurrence = int(draft["activity"]), from_key(draft["occurrence"])
        wrong, last = await activities.wrong_codes(ctx.tx, activity, occurrence, ctx.user.id)
        if wrong >= CODE_TRIES and last is not None and ctx.now - last < CODE_WAIT:
            minutes = math.ceil((CODE_WAIT - (ctx.now - last)).total_seconds() / 60)
            return Invalid("activity.code_wait", {"minutes": minutes})
        if code != draft["code"]:
            await activities.count_wrong_code(ctx.tx, activity, occurrence, ctx.user.id, ctx.now)
            return Invalid("activity.bad_code")
        draft[self.field] = "code"
        return Advance()


class CheckinFlow(Flow):
    name = "checkin"
    title_key = "activity.checkin_title"
    steps = (CheckinStep(),)

    async def complete(self, ctx: Context, draft: Draft) -> None:
        occurrence = from_key(draft["occurrence"])
        await activities.check_in(
            ctx.tx, int(draft["activity"]), occurrence, ctx.user.id, draft["checkin"], ctx.now
        )
        await ctx.say("activity.checked_in", title=draft["title"])


CHECKIN = CheckinFlow()


async def checkin(ctx: Context, _: str) -> None:
    """``/checkin``: for the activity of the rider's branch that is on now."""
    membership = await branches.membership(ctx.tx, ctx.user.id)
    candidates = await activities.of_branches(
        ctx.tx, frozenset({membership.id}) if membership else frozenset()
    )
    for activity in candidates:
        occurrence = current_occurrence(activity, ctx.now)
        if occurrence is not None:
            if await activities.checked_in(ctx.tx, activity.id, occurrence, ctx.user.id):
                await ctx.say("activity.already_checked_in", title=activity.title)
                return
            draft = {
                "activity": activity.id,
                "occurrence": occurrence_key(occurrence),
                "title": activity.title,
                "code": activity.checkin_code,
                "lat": activity.latitude,
                "lon": activity.longitude,
            }
            await engine.begin(ctx, CHECKIN, draft)
            return
    await ctx.say("activity.nothing_now")


async def list_activities(ctx: Context, _: str) -> None:
    """``/activities``: the secretary's activities with who accepted and who came."""
    scope = None if ctx.is_admin else ctx.secretary_of
    found = await activities.of_branches(ctx.tx, scope)
    if not found:
        await ctx.say("activity.none")
        return
    lines = [ctx.t("activity.list_title")]
    for activity in found:
        occurrence = current_occurrence(activity, ctx.now) or next_after(activity, ctx.now)
        if occurrence is None:
            occurrence = activity.starts_at
        lines.append("")
        lines.append(describe(ctx, activity, occurrence, ctx.lang))
        people = await activities.attendance(ctx.tx, activity.id, occurrence)
        names = await declarations.names(ctx.tx, [p.user_id for p in people])
        going = [names[p.user_id] for p in people if p.answer == "yes"]
        came = [names[p.user_id] for p in people if p.checked_in_at]
        lines.append(
            ctx.t(
                "activity.attendance",
                going=len(going),
                going_names="、".join(going) or "—",
                came=len(came),
                came_names="、".join(came) or "—",
                code=activity.checkin_code,
            )
        )
    await ctx.reply("\n".join(lines))


def next_after(activity: Activity, now: datetime) -> datetime | None:
    occurrence: datetime | None = activity.starts_at
    while occurrence is not None and occurrence < now:
        occurrence = following(activity, occurrence)
    return occurrence
