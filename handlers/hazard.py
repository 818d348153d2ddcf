"""Hazard photo reports (随手拍/随手报): category, photos, place, a word; a few taps."""

from __future__ import annotations

from bot.events import Event
from handlers import engine
from handlers.context import Context
from handlers.engine import Flow
from handlers.filing import JoinStep, candidates_from, file_report
from handlers.geo import distance_m
from handlers.report_steps import DescriptionStep, LocationStep, PhotosStep
from handlers.steps import Advance, Choice, ChoiceStep, Draft, Outcome
from storage import reports

CATEGORIES = tuple(
    Choice(code, f"hazard.cat.{code}")
    for code in ("food", "drug", "product", "equipment", "other")
)


class HazardLocationStep(LocationStep):
    """After a place with coordinates, looks for open hazards of the same kind close by."""

    async def accept(self, ctx: Context, draft: Draft, event: Event) -> Outcome:
        outcome = await super().accept(ctx, draft, event)
        place = draft.get(self.field) or {}
        if isinstance(outcome, Advance) and "lat" in place:
            radius = ctx.settings.duplicate_radius_m
            found = []
            for report in await reports.open_near(
                ctx.tx, draft["category"], place["lat"], place["lon"], radius
            ):
                assert report.latitude is not None and report.longitude is not None
                metres = distance_m(place["lat"], place["lon"], report.latitude, report.longitude)
                if metres <= radius:
                    found.append((report, metres))
            found.sort(key=lambda pair: pair[1])
            draft["candidates"] = await candidates_from(ctx, found)
        return outcome


class HazardFlow(Flow):
    name = "hazard"
    title_key = "hazard.title"
    summary_title_key = "hazard.summary"
    steps = (
        ChoiceStep(
            name="category",
            field="category",
            prompt_key="hazard.ask_category",
            label_key="field.category",
            choices=CATEGORIES,
        ),
        PhotosStep(
            name="photos",
            field="photos",
            prompt_key="hazard.ask_photos",
            label_key="field.photos",
            minimum=1,
        ),
        HazardLocationStep(
            name="location",
            field="location",
            prompt_key="hazard.ask_location",
            label_key="field.location",
            optional=False,
        ),
        JoinStep("hazard"),
        DescriptionStep(
            name="description",
            field="description",
            prompt_key="hazard.ask_description",
            label_key="field.description",
            max_len=1000,
            optional=True,
        ),
    )

    async def complete(self, ctx: Context, draft: Draft) -> None:
        await file_report(ctx, "hazard", draft)


HAZARD = HazardFlow()


async def report_hazard(ctx: Context, _: str) -> None:
    await engine.begin(ctx, HAZARD)
