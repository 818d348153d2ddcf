"""The console transport: one event per input line, every message printed as a block.

It serves a person at a terminal and a piped script alike, and lets one script play several
users (``!as ID``), which is how flows are tried end to end without any platform.
"""

from __future__ import annotations

import asyncio
import shlex
import sys
from pathlib import Path
from typing import TextIO

from bot.app import App
from bot.events import Event, EventKind, Outgoing, Reply

PLATFORM = "console"


class ConsoleInputError(ValueError):
    """A ``!`` line the console cannot understand; told to the person typing, not the bot."""


def render(message: Outgoing) -> str:
    """The printed block: ``== to ID ==``, the text, extras, then ``[N] label`` per button."""
    reply = message.reply
    lines = [f"== to {message.address} =="]
    if reply.text:
        lines.append(reply.text)
    if reply.photo:
        lines.append(f"(photo: {reply.photo})")
    if reply.document:
        lines.append(f"(document: {reply.document})")
    if reply.voice:
        lines.append(f"(voice: {reply.voice})")
    if reply.venue:
        venue = reply.venue
        lines.append(
            f"(venue: {venue.title} | {venue.address} | "
            f"{venue.latitude:.6f},{venue.longitude:.6f})"
        )
    lines.extend(f"[{n}] {button.label}" for n, button in enumerate(reply.flat_buttons(), 1))
    return "\n".join(lines)


class Console:
    def __init__(self, app: App, user: str, out: TextIO = sys.stdout) -> None:
        self.app = app
        self.user = user
        self.out = out
        self._printing: set[asyncio.Task[None]] = set()
        self._delivering = asyncio.Lock()

    @property
    def user_id(self) -> str:
        return f"{PLATFORM}:{self.user}"

    async def event_for(self, line: str) -> Event | None:
        """Turns an input line into an event; ``!as`` switches user and yields none."""
        if line.startswith("/"):
            command, _, arguments = line[1:].partition(" ")
            return Event(self.user_id, EventKind.COMMAND, command=command.lower(), text=arguments)
        if not line.startswith("!"):
            return Event(self.user_id, EventKind.TEXT, text=line)
        try:
            words = shlex.split(line[1:])
        except ValueError as bad:
            raise ConsoleInputError(str(bad)) from None
        return await self._bang(words[0] if words else "", words[1:])

    async def _bang(self, verb: str, args: list[str]) -> Event | None:
        match verb, args:
            case "as", [user]:
                self.user = user
                return None
            case "tap", [number] if number.isdigit():
                return await self._tap(int(number))
            case "photo", [path]:
                return Event(self.user_id, EventKind.PHOTO, file=_existing(path))
            case "voice", [path]:
                return Event(self.user_id, EventKind.VOICE, file=_existing(path))
            case "doc", [path]:
                return Event(self.user_id, EventKind.DOCUMENT, file=_existing(path))
            case "loc", [lat, lon]:
                try:
                    latitude, longitude = float(lat), float(lon)
                except ValueError:
                    raise ConsoleInputError("usage: !loc LAT LON") from None
                return Event(
                    self.user_id, EventKind.LOCATION, latitude=latitude, longitude=longitude
                )
            case "contact", [phone]:
                return Event(self.user_id, EventKind.CONTACT, phone=phone)
        raise ConsoleInputError(
            "lines: text, /command, !tap N, !photo PATH, !voice PATH, !doc PATH, "
            "!loc LAT LON, !contact PHONE, !as ID"
        )

    async def _tap(self, number: int) -> Event:
        last = await self.app.last_buttons(self.user_id)
        buttons = last.flat_buttons() if last else []
        if not 1 <= number <= len(buttons):
            raise ConsoleInputError(f"no button [{number}] in the last message to {self.user}")
        return Event(self.user_id, EventKind.BUTTON, data=buttons[number - 1].data)

    async def deliver(self) -> list[Outgoing]:
        """Takes every unsent console message from the outbox, in order, and marks it sent;
        marking one may queue more (a broadcast's progress), which are taken too."""
        delivered: list[Outgoing] = []
        async with self._delivering:
            while batch := await self.app.unsent(
                PLATFORM, after=delivered[-1].id if delivered else 0
            ):
                for message in batch:
                    await self.app.mark_sent(message.id)
                delivered += batch
        return [message for message in delivered if not message.reply.shows_nothing]

    async def feed(self, line: str) -> list[Outgoing]:
        """Handles one input line and returns what the bot sent because of it."""
        await self.app.run_due()
        event = await self.event_for(line)
        notice: list[Outgoing] = []
        if event is not None:
            handled = await self.app.handle(event)
            if handled.notice:
                notice = [Outgoing(0, event.user, Reply(text=handled.notice))]
        return notice + await self.deliver()

    def _print_soon(self) -> None:
        """Messages queued from outside the terminal (the web console) print at once."""
        task = asyncio.get_running_loop().create_task(self._print_waiting())
        self._printing.add(task)
        task.add_done_callback(self._printing.discard)

    async def _print_waiting(self) -> None:
        self._print(await self.deliver())

    async def run(self, lines: TextIO) -> None:
        self.app.on_queued = self._print_soon
        self._print(await self.deliver())
        while True:
            line = await asyncio.to_thread(lines.readline)
            if not line:
                return
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            try:
                self._print(await self.feed(line))
            except ConsoleInputError as bad:
                print(f"!! {bad}", file=self.out, flush=True)

    def _print(self, messages: list[Outgoing]) -> None:
        for message in messages:
            print(render(message), file=self.out, flush=True)


def _existing(path: str) -> Path:
    file = Path(path).expanduser()
    if not file.is_file():
        raise ConsoleInputError(f"no such file: {path}")
    return file.resolve()


async def run_console(app: App, user: str, lines: TextIO = sys.stdin) -> None:
    await Console(app, user, sys.stdout).run(lines)
