"""Steps shared by hazard reports and grievances: photos, location, a description."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from bot.events import Event, EventKind, Reply, Request
from handlers.context import Context, rows
from handlers.geo import out_of_bounds
from handlers.steps import (
    Advance,
    Draft,
    Invalid,
    InvalidInput,
    Outcome,
    Stay,
    Step,
    always,
    clean_text,
)

MAX_PHOTOS = 5


@dataclass(kw_only=True)
class PhotosStep(Step):
    """Collects photos one by one until the rider taps done; ``minimum`` 0 makes them optional.

    Photos collected so far wait in ``<field>_pending``; the field itself is set only on
    done, so the flow moves on only when the rider says so.
    """

    name: str
    field: str
    prompt_key: str
    label_key: str | None
    minimum: int
    when: Callable[[Draft], bool] = always
    takes_media: ClassVar[bool] = True

    @property
    def pending_key(self) -> str:
        return f"{self.field}_pending"

    async def prompt(self, ctx: Context, draft: Draft) -> Reply:
        return Reply(text=ctx.t(self.prompt_key), buttons=self._buttons(ctx, draft))

    def _buttons(self, ctx: Context, draft: Draft) -> tuple[tuple[Any, ...], ...]:
        count = len(draft.get(self.pending_key, []))
        if count:
            return ((ctx.button("button.photos_done", "done", count=count),),)
        if self.minimum == 0:
            return ((ctx.button("button.skip", "skip"),),)
        return ()

    async def accept(self, ctx: Context, draft: Draft, event: Event) -> Outcome:
        pending: list[str] = draft.setdefault(self.pending_key, [])
        if event.kind in (EventKind.PHOTO, EventKind.DOCUMENT) and event.album:
            return await self._album_photo(ctx, draft, event, pending)
        if event.kind in (EventKind.PHOTO, EventKind.DOCUMENT):
            media = ctx.media
            if media is None or media.photo is None:
                problem = media.problem if media else None
                return (
                    Invalid(problem.key, problem.params) if problem else Invalid("photo.not_image")
                )
            if len(pending) >= MAX_PHOTOS:
                return Invalid("photo.too_many", {"max": MAX_PHOTOS})
            if media.photo.sha256 in pending:
                return Invalid("photo.same_again")
            pending.append(media.photo.sha256)
            gps = media.photo.gps
            if gps and "photo_gps" not in draft and out_of_bounds(*gps) is None:
                draft["photo_gps"] = list(gps)
            await ctx.reply(
                ctx.t("photo.received", count=len(pending), max=MAX_PHOTOS),
                self._buttons(ctx, draft),
            )
            return Stay()
        if event.kind is EventKind.BUTTON and event.data == "done" and len(pending) >= 1:
            draft[self.field] = pending
            return Advance()
        if event.kind is EventKind.BUTTON and event.data == "skip" and self.minimum == 0:
            draft[self.field] = []
            return Advance()
        return Invalid("photo.expected")

    def display(self, ctx: Context, value: Any) -> str:
        return ctx.t("photo.count", count=len(value))

    async def _album_photo(
        self, ctx: Context, draft: Draft, event: Event, pending: list[str]
    ) -> Outcome:
        """Several photos sent at once are one answer, after the last of them: how many were
        taken, and (once) how many were left out, over the limit or not pictures."""
        album = draft.get("album") or {}
        if album.get("id") != event.album:
            album = {"id": event.album, "left_out": 0, "told": False}
        media = ctx.media
        photo = media.photo if media else None
        if photo is None or len(pending) >= MAX_PHOTOS:
            album["left_out"] += 1
        elif photo.sha256 not in pending:
            pending.append(photo.sha256)
            gps = photo.gps
            if gps and "photo_gps" not in draft and out_of_bounds(*gps) is None:
                draft["photo_gps"] = list(gps)
        draft["album"] = album
        if event.album_more:
            return Stay()
        key = "photo.received_album" if len(pending) > 1 else "photo.received"
        text = ctx.t(key, count=len(pending), max=MAX_PHOTOS)
        if album["left_out"] and not album["told"]:
            text += "\n" + ctx.t("photo.left_out", n=album["left_out"], max=MAX_PHOTOS)
            album["told"] = True
        await ctx.reply(text, self._buttons(ctx, draft))
        return Stay()


@dataclass(kw_only=True)
class LocationStep(Step):
    """A shared pin, a typed address, or (if the rider taps it) the photo's own position."""

    name: str
    field: str
    prompt_key: str
    label_key: str | None
    optional: bool
    when: Callable[[Draft], bool] = always

    async def prompt(self, ctx: Context, draft: Draft) -> Reply:
        buttons = []
        if "photo_gps" in draft:
            buttons.append(ctx.button("button.use_photo_location", "photo"))
        if self.optional:
            buttons.append(ctx.button("button.skip", "skip"))
        return Reply(
            text=ctx.t(self.prompt_key),
            buttons=rows(buttons, 1),
            request=Request.LOCATION,
            request_label=ctx.t("button.share_location"),
        )

    async def accept(self, ctx: Context, draft: Draft, event: Event) -> Outcome:
        if event.kind is EventKind.LOCATION:
            assert event.latitude is not None and event.longitude is not None
            if why := out_of_bounds(event.latitude, event.longitude):
                return Invalid(f"location.{why}")
            draft[self.field] = {"lat": event.latitude, "lon": event.longitude, "source": "pin"}
            return Advance()
        if event.kind is EventKind.TEXT:
            try:
                address = clean_text(event.text, 100)
            except InvalidInput as bad:
                return Invalid(bad.key, bad.params)
            draft[self.field] = {"address": address, "source": "typed"}
            return Advance()
        if event.kind is EventKind.BUTTON and event.data == "photo" and "photo_gps" in draft:
            lat, lon = draft["photo_gps"]
            draft[self.field] = {"lat": lat, "lon": lon, "source": "photo"}
            return Advance()
        if event.kind is EventKind.BUTTON and event.data == "skip" and self.optional:
            draft[self.field] = {}
            return Advance()
        return Invalid("location.expected")

    def display(self, ctx: Context, value: Any) -> str:
        if value.get("address"):
            return str(value["address"])
        if "lat" in value:
            key = "location.from_photo" if value["source"] == "photo" else "location.pin"
            return ctx.t(key, lat=f"{value['lat']:.5f}", lon=f"{value['lon']:.5f}")
        return ctx.t("value.none")


@dataclass(kw_only=True)
class DescriptionStep(Step):
    """Typed text or a voice note (kept as it is); riders may skip when it is optional."""

    name: str
    field: str
    prompt_key: str
    label_key: str | None
    max_len: int
    optional: bool
    voice: bool = True
    when: Callable[[Draft], bool] = always
    takes_media: ClassVar[bool] = True

    async def prompt(self, ctx: Context, draft: Draft) -> Reply:
        skip = ((ctx.button("button.skip", "skip"),),) if self.optional else ()
        return Reply(text=ctx.t(self.prompt_key), buttons=skip)

    async def accept(self, ctx: Context, draft: Draft, event: Event) -> Outcome:
        if event.kind is EventKind.TEXT:
            try:
                draft[self.field] = {"text": clean_text(event.text, self.max_len)}
            except InvalidInput as bad:
                return Invalid(bad.key, bad.params)
            return Advance()
        if event.kind is EventKind.VOICE and self.voice:
            if ctx.media is None or ctx.media.voice is None:
                problem = ctx.media.problem if ctx.media else None
                return (
                    Invalid(problem.key, problem.params) if problem else Invalid("hint.type_text")
                )
            draft[self.field] = {"voice": ctx.media.voice}
            return Advance()
        if event.kind is EventKind.BUTTON and event.data == "skip" and self.optional:
            draft[self.field] = {}
            return Advance()
        return Invalid("description.expected" if self.voice else "hint.type_text")

    def display(self, ctx: Context, value: Any) -> str:
        if value.get("voice"):
            return ctx.t("description.voice")
        return str(value.get("text") or ctx.t("value.none"))
