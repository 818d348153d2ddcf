"""Grievances (诉求): what makes riders' work hard, filed in a few taps, anonymous if wished."""

from __future__ import annotations

from bot.events import Event
from handlers import engine
from handlers.context import Context
from handlers.engine import Flow
from handlers.filing import JoinStep, candidates_from, file_report, home_branch
from handlers.report_steps import DescriptionStep, LocationStep, PhotosStep
from handlers.steps import Advance, Choice, ChoiceStep, Draft, Outcome
from storage import reports

CATEGORIES = tuple(
    Choice(code, f"grievance.cat.{code}")
    for code in (
        "rights",
        "governance",
        "entry",
        "stairs",
        "parking",
        "charging",
        "rest",
        "water",
        "meals",
        "other",
    )
)
RIGHTS_TOPICS = tuple(
    Choice(code, f"grievance.topic.{code}")
    for code in ("pay", "penalties", "insurance", "accident", "algorithm")
)
PRIVACY = (
    Choice("named", "grievance.privacy.named"),
    Choice("anonymous", "grievance.privacy.anonymous"),
)


def is_rights(draft: Draft) -> bool:
    return draft.get("category") == "rights"


class GrievanceCategoryStep(ChoiceStep):
    """After the category, looks for open grievances like it in the rider's queue."""

    async def accept(self, ctx: Context, draft: Draft, event: Event) -> Outcome:
        outcome = await super().accept(ctx, draft, event)
        if isinstance(outcome, Advance):
            found = await reports.open_grievances(
                ctx.tx, draft["category"], await home_branch(ctx)
            )
            draft["candidates"] = await candidates_from(ctx, [(r, None) for r in found])
        return outcome


class GrievanceFlow(Flow):
    name = "grievance"
    title_key = "grievance.title"
    summary_title_key = "grievance.summary"
    steps = (
        GrievanceCategoryStep(
            name="category",
            field="category",
            prompt_key="grievance.ask_category",
            label_key="field.category",
            choices=CATEGORIES,
        ),
        ChoiceStep(
            name="topic",
            field="topic",
            prompt_key="grievance.ask_topic",
            label_key="field.topic",
            choices=RIGHTS_TOPICS,
            when=is_rights,
        ),
        JoinStep("grievance"),
        DescriptionStep(
            name="description",
            field="description",
            prompt_key="grievance.ask_description",
            label_key="field.description",
            max_len=1000,
            optional=False,
        ),
        PhotosStep(
            name="photos",
            field="photos",
            prompt_key="grievance.ask_photos",
            label_key="field.photos",
            minimum=0,
        ),
        LocationStep(
            name="location",
            field="location",
            prompt_key="grievance.ask_location",
            label_key="field.location",
            optional=True,
        ),
        ChoiceStep(
            name="anonymous",
            field="anonymous",
            prompt_key="grievance.ask_privacy",
            label_key="field.privacy",
            choices=PRIVACY,
            per_row=1,
        ),
    )

    async def complete(self, ctx: Context, draft: Draft) -> None:
        await file_report(ctx, "grievance", draft)


GRIEVANCE = GrievanceFlow()


async def file_grievance(ctx: Context, _: str) -> None:
    await engine.begin(ctx, GRIEVANCE)
