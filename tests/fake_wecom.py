"""A local server that speaks WeCom's server API, and a member's phone posting callbacks.

The server answers ``gettoken``, ``message/send``, ``media/upload`` and ``media/get`` and
records every message sent; it can expire the access token once, to exercise the refresh.
:class:`Member` builds callbacks as WeCom does: XML, encrypted and signed.
"""

from __future__ import annotations

import itertools
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape

import aiohttp
from aiohttp import web

from bot.transports.wecom_crypto import WeComCrypto
from tests.local_server import LocalServer

CORP_ID = "ww1436e0e65a779aee"
AGENT_ID = "1000002"
SECRET = "app-secret"
TOKEN = "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo"
AES_KEY = "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt"
KF_SECRET = "kf-secret"
KF_TOKEN = "kfTokenQ8v2LmN4"
KF_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


@dataclass
class FakeWeCom(LocalServer):
    sent: list[dict[str, Any]] = field(default_factory=list)
    media: dict[str, bytes] = field(default_factory=dict)
    robot: list[tuple[str, str]] = field(default_factory=list)
    """(key, text) of what group robots were given."""
    token_requests: int = 0
    expire_once: bool = False
    left: set[str] = field(default_factory=set)
    """Members no longer in the app: sending to them reports them invalid."""
    card_updates: list[dict[str, Any]] = field(default_factory=list)
    """What ``update_template_card`` was asked, by response code."""
    _cards: dict[str, str] = field(default_factory=dict)
    """Response code → the member whose card it updates (each code works once)."""
    _tokens: dict[str, str] = field(default_factory=dict)
    """The access token of each secret (the app's, the customer-service account's)."""
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    sign_in_codes: dict[str, str] = field(default_factory=dict)
    """A web sign-in's code → the member it names (each code works once, as WeCom's)."""

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/cgi-bin"

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/cgi-bin/gettoken", self._gettoken),
            web.post("/cgi-bin/message/send", self._send),
            web.post("/cgi-bin/media/upload", self._upload),
            web.get("/cgi-bin/media/get", self._get),
            web.post("/cgi-bin/webhook/send", self._robot),
            web.post("/cgi-bin/message/update_template_card", self._update_card),
            web.get("/cgi-bin/auth/getuserinfo", self._user_of_code),
        ]

    def to(self, user: str) -> list[dict[str, Any]]:
        return [m for m in self.sent if m["touser"] == user]

    async def _gettoken(self, request: web.Request) -> web.Response:
        secret = request.query.get("corpsecret", "")
        if secret not in (SECRET, KF_SECRET) or request.query.get("corpid") != CORP_ID:
            return web.json_response({"errcode": 40001, "errmsg": "invalid credential"})
        self.token_requests += 1
        self._tokens[secret] = f"token-{next(self._ids)}"
        return web.json_response(
            {"errcode": 0, "access_token": self._tokens[secret], "expires_in": 7200}
        )

    def _refusal(self, request: web.Request) -> web.Response | None:
        if request.query.get("access_token") not in self._tokens.values():
            return web.json_response({"errcode": 40014, "errmsg": "invalid access_token"})
        if self.expire_once:
            self.expire_once = False
            self._tokens.clear()
            return web.json_response({"errcode": 42001, "errmsg": "access_token expired"})
        return None

    async def _user_of_code(self, request: web.Request) -> web.Response:
        if refusal := self._refusal(request):
            return refusal
        member = self.sign_in_codes.pop(request.query.get("code", ""), None)
        if member is None:
            return web.json_response({"errcode": 40029, "errmsg": "invalid code"})
        return web.json_response({"errcode": 0, "errmsg": "ok", "userid": member})

    async def _send(self, request: web.Request) -> web.Response:
        if refusal := self._refusal(request):
            return refusal
        message = await request.json()
        if message["touser"] in self.left:
            return web.json_response({"errcode": 0, "invaliduser": message["touser"]})
        async with self._changed:
            self.sent.append(message)
            self._changed.notify_all()
        answer: dict[str, Any] = {"errcode": 0, "msgid": f"msg{next(self._ids)}"}
        if message["msgtype"] == "template_card":
            code = f"code{next(self._ids)}"
            self._cards[code] = message["touser"]
            answer["response_code"] = code
        return web.json_response(answer)

    async def _update_card(self, request: web.Request) -> web.Response:
        if refusal := self._refusal(request):
            return refusal
        asked = await request.json()
        member = self._cards.pop(asked.get("response_code", ""), None)
        if member is None or asked.get("userids") != [member]:
            return web.json_response({"errcode": 40008, "errmsg": "invalid response_code"})
        async with self._changed:
            self.card_updates.append(asked)
            self._changed.notify_all()
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    async def _robot(self, request: web.Request) -> web.Response:
        message = await request.json()
        async with self._changed:
            self.robot.append((request.query.get("key", ""), message["text"]["content"]))
            self._changed.notify_all()
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    async def _upload(self, request: web.Request) -> web.Response:
        if refusal := self._refusal(request):
            return refusal
        form = await request.post()
        upload = form["media"]
        assert isinstance(upload, web.FileField)
        media_id = f"media-{next(self._ids)}"
        self.media[media_id] = upload.file.read()
        return web.json_response(
            {"errcode": 0, "type": request.query["type"], "media_id": media_id}
        )

    async def _get(self, request: web.Request) -> web.Response:
        if refusal := self._refusal(request):
            return refusal
        body = self.media.get(request.query.get("media_id", ""))
        if body is None:
            return web.json_response({"errcode": 40007, "errmsg": "invalid media_id"})
        return web.Response(body=body, content_type="image/jpeg")


async def post_signed(
    url: str,
    crypto: WeComCrypto,
    inner: str,
    now: str,
    *,
    agent_id: str = AGENT_ID,
    signature: str | None = None,
    timestamp: str | None = None,
    nonce: str | None = None,
    outer: str | None = None,
    encrypted: str | None = None,
) -> int:
    """Posts a callback as WeCom does, encrypted and signed; the keywords forge its parts."""
    stamp = timestamp or now
    once = nonce or secrets.token_hex(5)
    encrypted = encrypted or crypto.encrypt(inner)
    body = outer or (
        f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName>"
        f"<AgentID><![CDATA[{agent_id}]]></AgentID>"
        f"<Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
    )
    params = {
        "msg_signature": signature or crypto.sign(stamp, once, encrypted),
        "timestamp": stamp,
        "nonce": once,
    }
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, params=params, data=body.encode()) as answer,
    ):
        return answer.status


async def echo_check(url: str, crypto: WeComCrypto, echo: str) -> tuple[int, str, int]:
    """WeCom checking a callback URL: the status and text for a signed ``echostr``, and the
    status for a forged one."""
    sealed = crypto.encrypt(echo)
    params = {"msg_signature": crypto.sign("1", "2", sealed), "timestamp": "1", "nonce": "2"}
    async with aiohttp.ClientSession() as session:
        async with session.get(url, params={**params, "echostr": sealed}) as answer:
            status, text = answer.status, await answer.text()
        forged = {**params, "msg_signature": "0" * 40, "echostr": sealed}
        async with session.get(url, params=forged) as answer:
            return status, text, answer.status


MSG_IDS = itertools.count(7_000_000_000_000_000_000)
"""WeCom's message ids, unique across the company's members."""


class Member:
    """A WeCom member whose app posts encrypted callbacks to the bot."""

    def __init__(self, user: str, callback_url: str, clock: Any) -> None:
        self.user = user
        self.url = callback_url
        self.clock = clock
        self.crypto = WeComCrypto(TOKEN, AES_KEY, CORP_ID)

    def xml(
        self, kind: str, msg_id: str | None = None, *, no_id: bool = False, **fields: str
    ) -> str:
        """A message as WeCom sends it; ``no_id``: without a ``MsgId``, as some kinds come."""
        body = "".join(f"<{k}><![CDATA[{v}]]></{k}>" for k, v in fields.items())
        msg_id = msg_id or str(next(MSG_IDS))
        id_tag = "" if no_id else f"<MsgId>{msg_id}</MsgId>"
        return (
            f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName>"
            f"<FromUserName><![CDATA[{escape(self.user)}]]></FromUserName>"
            f"<CreateTime>{int(self.clock.now().timestamp())}</CreateTime>"
            f"<MsgType><![CDATA[{kind}]]></MsgType>{body}{id_tag}"
            f"<AgentID>{AGENT_ID}</AgentID></xml>"
        )

    async def post(
        self,
        inner: str,
        *,
        signature: str | None = None,
        timestamp: str | None = None,
        nonce: str | None = None,
        outer: str | None = None,
        encrypted: str | None = None,
    ) -> int:
        """Posts one callback as WeCom would; the keywords forge its parts."""
        return await post_signed(
            self.url,
            self.crypto,
            inner,
            str(int(self.clock.now().timestamp())),
            signature=signature,
            timestamp=timestamp,
            nonce=nonce,
            outer=outer,
            encrypted=encrypted,
        )

    async def say(self, text: str) -> int:
        return await self.post(self.xml("text", Content=text))

    async def tap(self, key: str) -> int:
        return await self.post(
            self.xml(
                "event",
                Event="template_card_event",
                EventKey=key,
                TaskId=f"task{time.monotonic_ns()}",
                CardType="button_interaction",
            )
        )


def buttons_of(message: dict[str, Any]) -> list[tuple[str, str]]:
    card = message.get("template_card") or {}
    return [(b["text"], b["key"]) for b in card.get("button_list", [])]


def text_of(message: dict[str, Any]) -> str:
    if message["msgtype"] == "text":
        return str(message["text"]["content"])
    if message["msgtype"] == "template_card":
        card = message["template_card"]
        return f"{card['main_title']['title']}\n{card.get('sub_title_text', '')}"
    return json.dumps(message, ensure_ascii=False)
