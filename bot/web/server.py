"""The console's routes: pages behind a signed-in visit, actions behind its CSRF token too, and
one answer for everything refused or broken (a page in the reader's language, never a
traceback)."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

from bot.app import App
from bot.photos import photo_path, stored_file
from bot.transports.site import Site
from bot.transports.wecom_signin import WeComSignIn
from bot.web.pages import Reader
from bot.web.render import Pages
from bot.web.visit import (
    COOKIE,
    FLASH,
    LANGS,
    Refused,
    Visit,
    back_to,
    check_form,
    flash,
    is_https,
    same_secret,
    sign_in,
    sign_in_as,
    visit_of,
)
from handlers.desk import DeskActions, Outcome, Result
from handlers.organisation import qr_file
from storage import branches, reports
from storage import web as sessions

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
FONTS = Path(__file__).parent.parent / "assets" / "fonts"
NOTE_MAX = 500
"""As long as the chat lets an answer or a reason be."""

PageHandler = Callable[[web.Request, Visit], Awaitable[web.StreamResponse]]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


WECOM_STATE = "nuanxin_wecom_state"


class Console:
    def __init__(self, app: App) -> None:
        self.app = app
        self.pages = Pages(app.catalog)
        self.reader = Reader(app, self.pages)
        self.desk = DeskActions(app.db, app.settings, app.clock, app.catalog)
        self.wecom = WeComSignIn(app.settings) if WeComSignIn.available(app.settings) else None

    async def close(self) -> None:
        if self.wecom is not None:
            await self.wecom.close()

    def _lang_guess(self, request: web.Request) -> str:
        """Before anyone is signed in: Chinese unless the browser prefers English."""
        accepted = request.headers.get("Accept-Language", "")
        return "en" if accepted.lower().startswith("en") else "zh"

    def _guarded(self, handler: PageHandler, *, form: bool = False) -> Handler:
        async def run(request: web.Request) -> web.StreamResponse:
            lang = self._lang_guess(request)
            try:
                visit = await visit_of(self.app, request)
                lang = visit.lang
                if form:
                    check_form(visit, await request.post())
                response = await handler(request, visit)
                if isinstance(response, web.HTTPException):
                    raise response
            except Refused as refused:
                return self.refusal(refused, lang)
            except web.HTTPRequestEntityTooLarge:
                return self.refusal(Refused("too_large", 413), lang)
            except web.HTTPException:
                raise
            except Exception:
                log.exception("the console failed on %s %s", request.method, request.path)
                return self.pages.render("message.html", lang, status=500, reason="sorry")
            if FLASH in request.cookies and not form and not response.prepared:
                response.del_cookie(FLASH, path="/")
            return response

        return run

    def refusal(self, refused: Refused, lang: str) -> web.Response:
        return self.pages.render(
            "message.html",
            lang,
            status=refused.status,
            reason=refused.reason,
            wecom=self.wecom is not None,
        )

    def routes(self) -> list[web.AbstractRouteDef]:
        r = self.reader
        pages: list[tuple[str, PageHandler]] = [
            ("/", r.overview),
            ("/items", r.items),
            ("/items/{ref}", r.item),
            ("/items/{ref}/photo/{n}", self.photo),
            ("/items/{ref}/voice", self.voice),
            ("/map", r.map),
            ("/deadlines", r.deadlines),
            ("/declarations", r.declarations),
            ("/branches", r.organisations),
            ("/branches/{code}/qr.png", self.join_qr),
            ("/activities", r.activities),
            ("/exports", r.exports),
            ("/exports/{what}.{fmt}", self.export),
            ("/audit", r.audit_log),
        ]
        actions: list[tuple[str, PageHandler]] = [
            ("/items/{ref}", self.act_on_item),
            ("/declarations/{user}", self.review),
            ("/lang", self.choose_lang),
            ("/signout", self.sign_out),
        ]
        return [
            *(web.get(path, self._guarded(handler)) for path, handler in pages),
            *(web.post(path, self._guarded(handler, form=True)) for path, handler in actions),
            web.get("/signin/{token}", self.sign_in_page),
            web.post("/signin", self.sign_in),
            web.get("/auth/wecom", self.wecom_start),
            web.get("/auth/wecom/back", self.wecom_back),
            web.static("/static", STATIC),
            web.static("/fonts", FONTS),
        ]

    async def sign_in_page(self, request: web.Request) -> web.Response:
        """The link only shows a button: a link previewer fetching it signs nobody in and
        does not use it up."""
        return self.pages.render(
            "signin.html", self._lang_guess(request), token=request.match_info["token"]
        )

    async def sign_in(self, request: web.Request) -> web.StreamResponse:
        lang = self._lang_guess(request)
        try:
            form = await request.post()
            token = form.get("token")
            if not isinstance(token, str) or not token:
                raise Refused("link_used", 403)
            redirect = await sign_in(self.app, request, token)
        except Refused as refused:
            return self.refusal(refused, lang)
        raise redirect

    def _base_url(self, request: web.Request) -> str:
        return self.app.settings.web_url.rstrip("/") or f"{request.scheme}://{request.host}"

    async def wecom_start(self, request: web.Request) -> web.StreamResponse:
        """Opened from the WeCom app's workbench: off to WeCom to say who this is."""
        if self.wecom is None:
            return self.refusal(Refused("no_item", 404), self._lang_guess(request))
        state = secrets.token_urlsafe(16)
        back = f"{self._base_url(request)}/auth/wecom/back"
        response = web.HTTPFound(self.wecom.authorize_url(back, state))
        response.set_cookie(
            WECOM_STATE,
            state,
            max_age=600,
            httponly=True,
            samesite="Lax",
            secure=is_https(self.app, request),
            path="/auth/wecom",
        )
        raise response

    async def wecom_back(self, request: web.Request) -> web.StreamResponse:
        """WeCom sends the member back with a code; the state must be the one this browser
        was given, so nobody can be signed in on someone else's code."""
        lang = self._lang_guess(request)
        state, code = request.query.get("state", ""), request.query.get("code", "")
        expected = request.cookies.get(WECOM_STATE, "")
        try:
            if self.wecom is None or not code or not expected:
                raise Refused("wecom_failed", 403)
            if not same_secret(state, expected):
                raise Refused("wecom_failed", 403)
            member = await self.wecom.member(code)
            if member is None:
                raise Refused("wecom_failed", 403)
            redirect = await sign_in_as(self.app, request, member)
        except Refused as refused:
            return self.refusal(refused, lang)
        redirect.del_cookie(WECOM_STATE, path="/auth/wecom")
        raise redirect

    async def sign_out(self, request: web.Request, visit: Visit) -> web.StreamResponse:
        async with self.app.db.transaction() as tx:
            await sessions.end_session(tx, visit.token)
        response = self.pages.render("message.html", visit.lang, reason="signed_out_now")
        response.del_cookie(COOKIE, path="/")
        return response

    async def choose_lang(self, request: web.Request, visit: Visit) -> web.StreamResponse:
        lang = (await request.post()).get("lang")
        if lang in LANGS:
            async with self.app.db.transaction() as tx:
                await sessions.set_lang(tx, visit.token, str(lang))
        raise web.HTTPSeeOther(back_to(request))

    def _after(self, outcome: Outcome, lang: str, back: str) -> web.StreamResponse:
        if outcome.result is Result.GONE:
            raise Refused("no_item", 404)
        if outcome.result is Result.REFUSED and not outcome.said:
            raise Refused("not_yours", 403)
        if outcome.result is Result.MALFORMED:
            raise Refused("bad_form", 400)
        if self.app.on_queued is not None:
            self.app.on_queued()
        said = list(outcome.said)
        if outcome.result is Result.CHANGED:
            said.insert(0, self.pages.word(lang, "web.changed_meanwhile"))
        response = web.HTTPSeeOther(back)
        flash(response, said)
        return response

    async def act_on_item(self, request: web.Request, visit: Visit) -> web.StreamResponse:
        form = await request.post()
        ref = request.match_info["ref"]
        verb, note, seen = (str(form.get(name, "")) for name in ("verb", "note", "seen"))
        if len(note) > NOTE_MAX:
            response = web.HTTPSeeOther(f"/items/{ref}")
            flash(response, [self.pages.word(visit.lang, "web.too_long", most=NOTE_MAX)])
            return response
        outcome = await self.desk.act_on_item(visit.user_id, ref, verb, note, seen)
        return self._after(outcome, visit.lang, f"/items/{ref}")

    async def review(self, request: web.Request, visit: Visit) -> web.StreamResponse:
        form = await request.post()
        reason = str(form.get("reason", ""))[:NOTE_MAX]
        verified = form.get("verdict") == "verify"
        outcome = await self.desk.review_declaration(
            visit.user_id, request.match_info["user"], verified, reason
        )
        return self._after(outcome, visit.lang, "/declarations")

    async def _item_file(self, request: web.Request, visit: Visit) -> reports.Report:
        async with self.app.db.reading() as tx:
            report = await reports.get(tx, request.match_info["ref"])
        if report is None:
            raise Refused("no_item", 404)
        if not visit.desk.handles(report.branch_id):
            raise Refused("not_yours", 403)
        return report

    async def photo(self, request: web.Request, visit: Visit) -> web.StreamResponse:
        report = await self._item_file(request, visit)
        async with self.app.db.reading() as tx:
            shas = await reports.photos(tx, report.id)
        n = request.match_info["n"]
        if not n.isdigit() or not 0 < int(n) <= len(shas):
            raise Refused("no_item", 404)
        return web.FileResponse(photo_path(self.app.settings.media_dir, shas[int(n) - 1]))

    async def voice(self, request: web.Request, visit: Visit) -> web.StreamResponse:
        report = await self._item_file(request, visit)
        found = (
            stored_file(self.app.settings.media_dir, "voice", report.voice)
            if report.voice
            else None
        )
        if found is None:
            raise Refused("no_item", 404)
        return web.FileResponse(found)

    async def join_qr(self, request: web.Request, visit: Visit) -> web.StreamResponse:
        """A branch's join QR code, for a poster: for those who run the branch."""
        async with self.app.db.reading() as tx:
            branch = await branches.by_code(tx, request.match_info["code"])
        if branch is None:
            raise Refused("no_item", 404)
        if not visit.desk.handles(branch.id):
            raise Refused("not_yours", 403)
        made = await asyncio.to_thread(qr_file, self.app.settings, branch)
        if made is None:
            raise Refused("no_item", 404)
        return web.FileResponse(made)

    async def export(self, request: web.Request, visit: Visit) -> web.StreamResponse:
        what, fmt = request.match_info["what"], request.match_info["fmt"]
        made = await self.desk.export(visit.user_id, what, fmt)
        if made is None:
            raise Refused("admins_only", 403)
        response = web.StreamResponse(
            headers={"Content-Disposition": f'attachment; filename="{made.name}"'}
        )
        await response.prepare(request)
        try:
            with made.open("rb") as source:
                while chunk := source.read(256 * 1024):
                    await response.write(chunk)
        finally:
            made.unlink(missing_ok=True)
        await response.write_eof()
        return response


SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data: https:; style-src 'self' 'unsafe-inline'; "
        "script-src 'self'; frame-ancestors 'none'; form-action 'self' https://open.weixin.qq.com"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
"""Scripts only from the console itself (a description is text, and could never run anyway);
map tiles from wherever ``NUANXIN_MAP_TILES`` points."""


@web.middleware
async def guarded_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Pages hold personal data: never kept by a shared cache, never framed elsewhere."""
    try:
        response = await handler(request)
    except web.HTTPException as moved:
        moved.headers.update(SECURITY_HEADERS)
        raise
    response.headers.update(SECURITY_HEADERS)
    if not request.path.startswith(("/static/", "/fonts/")):
        response.headers["Cache-Control"] = "no-store"
    return response


class ConsoleSite(Site):
    def __init__(self, app: App, console: Console) -> None:
        super().__init__(app, console.routes(), (guarded_headers,))
        self._console = console

    async def stop(self) -> None:
        await super().stop()
        await self._console.close()


async def serve_console(app: App, listen: str) -> ConsoleSite:
    """The console on ``HOST:PORT``, in the bot's own process."""
    site = ConsoleSite(app, Console(app))
    await site.start(listen)
    log.info("the web console listens on %s", listen)
    return site
