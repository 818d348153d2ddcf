"""Who is at the console: the session cookie, the sign-in link, the CSRF token and the role
check that every page and every action goes through."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from aiohttp import web
from multidict import MultiDictProxy

from bot.app import App
from handlers.desk import LINK_LIFETIME, SESSION_LIFETIME, Desk, desk_of
from storage import users
from storage import web as sessions
from storage.db import Tx

COOKIE = "nuanxin_session"
FLASH = "nuanxin_flash"
LANGS = ("zh", "en")


@dataclass(frozen=True)
class Visit:
    token: str
    desk: Desk
    csrf: str
    lang: str

    @property
    def user_id(self) -> str:
        return self.desk.user_id


class Refused(Exception):
    """The request may not go on; the page says why (``web.<reason>``) with this status."""

    def __init__(self, reason: str, status: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


def is_https(app: App, request: web.Request) -> bool:
    return request.secure or app.settings.web_url.startswith("https://")


async def visit_of(app: App, request: web.Request) -> Visit:
    """The signed-in secretary or admin, checked again against their roles on every request
    (a role taken away takes the console with it)."""
    token = request.cookies.get(COOKIE, "")
    if not token:
        raise Refused("signed_out", 401)
    async with app.db.reading() as tx:
        session = await sessions.session(tx, token, app.clock.now())
        desk = await desk_of(tx, app.settings, session.user_id) if session else None
    if session is None:
        raise Refused("signed_out", 401)
    if desk is None:
        raise Refused("not_staff", 403)
    return Visit(token, desk, session.csrf, session.lang)


def check_form(visit: Visit, form: MultiDictProxy[Any]) -> None:
    """Every form carries the session's CSRF token; one without it changes nothing."""
    sent = form.get("csrf")
    if not isinstance(sent, str) or not same_secret(sent, visit.csrf):
        raise Refused("csrf", 403)


def same_secret(given: str, expected: str) -> bool:
    """Compared in constant time, as bytes: whatever a hostile form sends is only unequal."""
    return secrets.compare_digest(given.encode(), expected.encode())


def back_to(request: web.Request) -> str:
    """Where the page that sent the form was, on this site only (never another host's
    address, nor ``//host``)."""
    came_from = urlsplit(request.headers.get("Referer", ""))
    path = came_from.path
    if not path.startswith("/") or path.startswith("//"):
        return "/"
    return f"{path}?{came_from.query}" if came_from.query else path


async def sign_in(app: App, request: web.Request, token: str) -> web.HTTPSeeOther:
    """Uses a ``/web`` link: once, within its ten minutes (a link that finds a rider is used
    up all the same)."""
    async with app.db.transaction() as tx:
        user_id = await sessions.use_link(tx, token, app.clock.now(), LINK_LIFETIME)
    if user_id is None:
        raise Refused("link_used", 403)
    return await sign_in_as(app, request, user_id)


async def sign_in_as(app: App, request: web.Request, user_id: str) -> web.HTTPSeeOther:
    """Opens a session for a secretary or an admin; anyone else is refused."""
    async with app.db.transaction() as tx:
        if await desk_of(tx, app.settings, user_id) is not None:
            return await open_session(app, request, tx, user_id)
    raise Refused("not_staff", 403)


async def open_session(app: App, request: web.Request, tx: Tx, user_id: str) -> web.HTTPSeeOther:
    """Opens a session; the redirect returned carries its cookie, to be raised once the
    transaction has committed."""
    session = secrets.token_urlsafe(32)
    lang = await users.lang_of(tx, user_id)
    await sessions.open_session(
        tx,
        session,
        user_id,
        secrets.token_urlsafe(24),
        lang if lang in LANGS else LANGS[0],
        app.clock.now(),
        SESSION_LIFETIME,
    )
    response = web.HTTPSeeOther("/")
    response.set_cookie(
        COOKIE,
        session,
        max_age=int(SESSION_LIFETIME.total_seconds()),
        httponly=True,
        samesite="Lax",
        secure=is_https(app, request),
        path="/",
    )
    return response


def flash(response: web.StreamResponse, lines: tuple[str, ...] | list[str]) -> None:
    """Words for the next page to show once (what the action did, or why not)."""
    if lines:
        response.set_cookie(FLASH, quote("\n".join(lines)), max_age=60, httponly=True, path="/")


def flashed(request: web.Request) -> list[str]:
    text = unquote(request.cookies.get(FLASH, ""))
    return [line for line in text.split("\n") if line][:5]
