"""Identity declaration (亮身份、亮职责、亮承诺): consent, a few taps, a badge.

The draft lives in the conversation until the rider confirms; only then is anything stored
in ``declarations``. Declining consent, cancelling or letting the draft expire stores nothing.
"""

from __future__ import annotations

import asyncio

from bot.badge import BadgeText, badge_path, render_badge
from bot.events import Event, EventKind, Request
from handlers import engine
from handlers.context import Context, rows
from handlers.engine import Flow, field_line
from handlers.membership import offer_branches
from handlers.phone import normalize_mobile
from handlers.review import alert_declaration
from handlers.steps import (
    YES_NO,
    Choice,
    ChoiceStep,
    Draft,
    Finish,
    InvalidInput,
    Outcome,
    TextStep,
)
from storage import declarations
from storage.declarations import Declaration
from storage.timefmt import from_db, to_db

PLATFORMS = tuple(
    Choice(code, f"platform.{code}")
    for code in ("meituan", "eleme", "shansong", "dada", "sfcity", "uupt", "other")
)
POLITICAL_STATUSES = tuple(
    Choice(code, f"political.{code}") for code in ("member", "probationary", "league", "masses")
)
PARTY_MEMBERS = frozenset({"member", "probationary"})
DUTIES = tuple(Choice(code, f"duty.{code}") for code in ("supervisor", "volunteer", "none"))
PLEDGES = tuple(Choice(code, f"pledge.{code}") for code in ("safety", "report", "help"))


def is_party_member(draft: Draft) -> bool:
    return draft.get("political_status") in PARTY_MEMBERS


class ConsentStep(ChoiceStep):
    """Consent comes before any personal question; declining ends the flow, storing nothing."""

    async def accept(self, ctx: Context, draft: Draft, event: Event) -> Outcome:
        if event.kind is EventKind.BUTTON and event.data == "no":
            await ctx.say("declare.declined")
            return Finish()
        outcome = await super().accept(ctx, draft, event)
        draft["consent_at"] = to_db(ctx.now)
        return outcome


class PhoneStep(TextStep):
    """A shared contact or a typed number; either must be a mainland mobile number."""

    def value_from(self, event: Event) -> str:
        if event.kind is EventKind.CONTACT:
            return event.phone
        if event.kind is EventKind.TEXT:
            return event.text
        raise InvalidInput("hint.bad_phone")


class PledgeStep(ChoiceStep):
    def display(self, ctx: Context, value: object) -> str:
        return pledge_text(ctx, str(value))


def pledge_text(ctx: Context, value: str) -> str:
    """A template's words in the rider's language, or the rider's own words."""
    template = next((p for p in PLEDGES if p.value == value), None)
    return ctx.t(template.label_key) if template else value


class DeclarationFlow(Flow):
    name = "declare"
    title_key = "declare.title"
    summary_title_key = "declare.summary"
    steps = (
        ConsentStep(
            name="consent",
            field="consent",
            prompt_key="declare.consent",
            label_key=None,
            choices=(Choice("yes", "button.agree"), Choice("no", "button.decline")),
        ),
        TextStep(
            name="name",
            field="name",
            prompt_key="declare.ask_name",
            label_key="field.name",
            max_len=30,
        ),
        PhoneStep(
            name="phone",
            field="phone",
            prompt_key="declare.ask_phone",
            label_key="field.phone",
            max_len=30,
            parse=normalize_mobile,
            request=Request.CONTACT,
            request_label_key="button.share_phone",
        ),
        ChoiceStep(
            name="platform",
            field="platform",
            prompt_key="declare.ask_platform",
            label_key="field.platform",
            choices=PLATFORMS,
            per_row=3,
            free_text=20,
        ),
        TextStep(
            name="station",
            field="station",
            prompt_key="declare.ask_station",
            label_key="field.station",
            max_len=50,
        ),
        TextStep(
            name="city",
            field="city",
            prompt_key="declare.ask_city",
            label_key="field.city",
            max_len=20,
        ),
        TextStep(
            name="district",
            field="district",
            prompt_key="declare.ask_district",
            label_key="field.district",
            max_len=20,
        ),
        ChoiceStep(
            name="political_status",
            field="political_status",
            prompt_key="declare.ask_political",
            label_key="field.political",
            choices=POLITICAL_STATUSES,
        ),
        TextStep(
            name="party_registration",
            field="party_registration",
            prompt_key="declare.ask_registration",
            label_key="field.registration",
            max_len=60,
            when=is_party_member,
        ),
        ChoiceStep(
            name="wants_branch",
            field="wants_branch",
            prompt_key="declare.ask_wants_branch",
            label_key="field.wants_branch",
            choices=YES_NO,
            when=is_party_member,
        ),
        ChoiceStep(
            name="duty",
            field="duty",
            prompt_key="declare.ask_duty",
            label_key="field.duty",
            choices=DUTIES,
            per_row=1,
        ),
        PledgeStep(
            name="pledge",
            field="pledge",
            prompt_key="declare.ask_pledge",
            label_key="field.pledge",
            choices=PLEDGES,
            per_row=1,
            free_text=200,
        ),
    )

    async def complete(self, ctx: Context, draft: Draft) -> None:
        previous = await declarations.get(ctx.tx, ctx.user.id)
        member = is_party_member(draft)
        declaration = Declaration(
            user_id=ctx.user.id,
            name=draft["name"],
            phone=draft["phone"],
            platform=draft["platform"],
            station=draft["station"],
            city=draft["city"],
            district=draft["district"],
            political_status=draft["political_status"],
            party_registration=draft["party_registration"] if member else None,
            wants_branch=draft["wants_branch"] == "yes" if member else None,
            duty=draft["duty"],
            pledge=pledge_text(ctx, draft["pledge"]),
            status="pending",
            consent_at=from_db(draft["consent_at"]),
            created_at=previous.created_at if previous else ctx.now,
            updated_at=ctx.now,
        )
        await declarations.save(ctx.tx, declaration)
        target = badge_path(ctx.settings.media_dir, ctx.user.id)
        badge = await asyncio.to_thread(render_badge, badge_text(ctx, declaration), target)
        await ctx.reply(
            ctx.t("declare.saved", name=declaration.name), ctx.menu(), photo=str(badge)
        )
        await alert_declaration(ctx, declaration)
        await offer_branches(ctx, declaration)


def label_of(ctx: Context, choices: tuple[Choice, ...], value: str) -> str:
    choice = next((c for c in choices if c.value == value), None)
    return ctx.t(choice.label_key) if choice else value


def badge_text(ctx: Context, declaration: Declaration) -> BadgeText:
    return BadgeText(
        title=ctx.t("badge.title"),
        name=declaration.name,
        lines=(
            ctx.t(
                "badge.platform",
                platform=label_of(ctx, PLATFORMS, declaration.platform),
                station=declaration.station,
            ),
            ctx.t(
                "badge.political",
                status=label_of(ctx, POLITICAL_STATUSES, declaration.political_status),
            ),
            ctx.t("badge.duty", duty=label_of(ctx, DUTIES, declaration.duty)),
        ),
        pledge_label=ctx.t("badge.pledge"),
        pledge=declaration.pledge,
        footer=ctx.t("badge.footer"),
    )


def draft_from(ctx: Context, declaration: Declaration) -> Draft:
    """A draft holding the stored answers, so an update starts at the summary."""
    pledge = next(
        (p.value for p in PLEDGES if ctx.t(p.label_key) == declaration.pledge),
        declaration.pledge,
    )
    draft: Draft = {
        "consent": "yes",
        "consent_at": to_db(declaration.consent_at),
        "name": declaration.name,
        "phone": declaration.phone,
        "platform": declaration.platform,
        "station": declaration.station,
        "city": declaration.city,
        "district": declaration.district,
        "political_status": declaration.political_status,
        "duty": declaration.duty,
        "pledge": pledge,
    }
    if declaration.party_registration is not None:
        draft["party_registration"] = declaration.party_registration
    if declaration.wants_branch is not None:
        draft["wants_branch"] = "yes" if declaration.wants_branch else "no"
    return draft


DECLARATION = DeclarationFlow()


async def declare(ctx: Context, argument: str) -> None:
    """The menu's 亮身份: a new declaration, or the rider's own with update and withdraw."""
    existing = await declarations.get(ctx.tx, ctx.user.id)
    if existing is None:
        await engine.begin(ctx, DECLARATION)
        return
    if argument == "edit":
        await engine.begin(ctx, DECLARATION, draft_from(ctx, existing))
        return
    await show_declaration(ctx, existing)


async def show_declaration(ctx: Context, declaration: Declaration) -> None:
    draft = draft_from(ctx, declaration)
    lines = [ctx.t("declare.mine", status=ctx.t(f"declaration_status.{declaration.status}"))]
    for step in DECLARATION.answered(draft):
        lines.append(field_line(ctx, step, draft))
    buttons = [
        ctx.menu_button("button.update", "declare", "edit"),
        ctx.menu_button("button.withdraw", "withdraw"),
    ]
    await ctx.reply("\n".join(lines), rows(buttons, 2))
