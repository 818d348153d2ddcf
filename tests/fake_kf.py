"""A local WeCom server that also runs a 微信客服 (WeChat customer-service) account, and WeChat
users who write to it.

The account keeps every message in one log, as the platform does: a user's messages, the
system's events, what human servicers typed. A callback (encrypted and signed with the
account's own token and key) carries only a short-lived token; ``kf/sync_msg`` pages through
the log by cursor or token (never both), ``limit`` at a time. Sending keeps WeChat's rule and
refuses what breaks it: after a user's message, five messages within 48 hours; a welcome code
once, within 20 seconds.
"""

from __future__ import annotations

import itertools
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from bot.transports.wecom_crypto import WeComCrypto
from tests.fake_wecom import CORP_ID, KF_AES_KEY, KF_TOKEN, FakeWeCom, post_signed

OPEN_KFID = "wkAJ2GCAAAnuxin0001"
CONTACT_URL = "https://work.weixin.qq.com/kfid/kfc0123456789abcdef"
QUOTA = 5
WINDOW = timedelta(hours=48)


@dataclass
class FakeKf(FakeWeCom):
    clock: Any = None
    log: list[dict[str, Any]] = field(default_factory=list)
    """Every message of the account, oldest first; a cursor is a position in it."""
    kf_sent: list[dict[str, Any]] = field(default_factory=list)
    """What the bot sent through the account (welcome messages included)."""
    refused: list[dict[str, Any]] = field(default_factory=list)
    """What the bot tried to send against the rule."""
    page: int = 1000
    """At most this many messages a pull returns, whatever the limit asked."""
    fail_pulls: int = 0
    """Pulls to fail (a server error) before answering again."""
    fail_from: int = 10**9
    """The pull (counted from 1) from which every pull fails."""
    pulls: list[dict[str, Any]] = field(default_factory=list)
    tokens: dict[str, tuple[int, datetime]] = field(default_factory=dict)
    """A callback's token: where the log stood when it was issued, and until when it works."""
    welcome_codes: dict[str, tuple[str, datetime]] = field(default_factory=dict)
    _window: dict[str, tuple[datetime, int]] = field(default_factory=dict)
    """A user's last message and how many sends it has allowed so far."""
    _msg_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def routes(self) -> list[web.RouteDef]:
        return [
            *super().routes(),
            web.post("/cgi-bin/kf/sync_msg", self._sync),
            web.post("/cgi-bin/kf/send_msg", self._kf_send),
            web.post("/cgi-bin/kf/send_msg_on_event", self._on_event),
            web.post("/cgi-bin/kf/account/list", self._accounts),
            web.post("/cgi-bin/kf/add_contact_way", self._contact_way),
        ]

    def to_user(self, user: str) -> list[dict[str, Any]]:
        return [m for m in self.kf_sent if m.get("touser") == user]

    def add(self, user: str, msgtype: str, body: dict[str, Any], origin: int = 3) -> str:
        """A message goes into the account's log; a user's opens their window."""
        msgid = f"kfmsg{next(self._msg_ids)}"
        now = self.clock.now()
        message = {
            "msgid": msgid,
            "open_kfid": OPEN_KFID,
            "external_userid": user,
            "send_time": int(now.timestamp()),
            "origin": origin,
            "msgtype": msgtype,
            msgtype: body,
        }
        if msgtype == "event":
            message.pop("external_userid")
            message["origin"] = 4
            body.setdefault("external_userid", user)
            body.setdefault("open_kfid", OPEN_KFID)
            if body.get("event_type") == "enter_session":
                code = f"welcome-{secrets.token_hex(4)}"
                body["welcome_code"] = code
                self.welcome_codes[code] = (user, now + timedelta(seconds=20))
        elif origin == 3:
            self._window[user] = (now, 0)
        self.log.append(message)
        return msgid

    def issue_token(self, position: int | None = None) -> str:
        token = f"ENC{secrets.token_hex(8)}"
        start = len(self.log) - 1 if position is None else position
        self.tokens[token] = (max(0, start), self.clock.now() + timedelta(minutes=10))
        return token

    async def _sync(self, request: web.Request) -> web.Response:
        if refusal := self._refusal(request):
            return refusal
        asked = await request.json()
        async with self._changed:
            self.pulls.append(asked)
            self._changed.notify_all()
        if self.fail_pulls or len(self.pulls) >= self.fail_from:
            self.fail_pulls = max(0, self.fail_pulls - 1)
            return web.json_response({"errcode": -1, "errmsg": "system busy"})
        if "cursor" in asked and "token" in asked:
            return web.json_response({"errcode": 40058, "errmsg": "cursor and token both given"})
        if "token" in asked:
            issued = self.tokens.get(asked["token"])
            if issued is None or self.clock.now() > issued[1]:
                return web.json_response({"errcode": 95007, "errmsg": "invalid msg token"})
            start = issued[0]
        else:
            start = int(asked.get("cursor") or 0)
        end = min(len(self.log), start + min(self.page, int(asked.get("limit", 1000))))
        return web.json_response(
            {
                "errcode": 0,
                "next_cursor": str(end),
                "has_more": int(end < len(self.log)),
                "msg_list": self.log[start:end],
            }
        )

    async def _kf_send(self, request: web.Request) -> web.Response:
        if refusal := self._refusal(request):
            return refusal
        message = await request.json()
        user = message["touser"]
        wrote, used = self._window.get(user, (None, 0))
        if wrote is None or self.clock.now() - wrote > WINDOW or used >= QUOTA:
            self.refused.append(message)
            return web.json_response({"errcode": 95001, "errmsg": "send msg count limit"})
        if message.get("open_kfid") != OPEN_KFID:
            return web.json_response({"errcode": 95000, "errmsg": "invalid open_kfid"})
        self._window[user] = (wrote, used + 1)
        return await self._record(message)

    async def _record(self, message: dict[str, Any]) -> web.Response:
        async with self._changed:
            self.kf_sent.append(message)
            self._changed.notify_all()
        return web.json_response({"errcode": 0, "msgid": f"sent{next(self._ids)}"})

    async def _on_event(self, request: web.Request) -> web.Response:
        if refusal := self._refusal(request):
            return refusal
        message = await request.json()
        user, until = self.welcome_codes.pop(message.get("code", ""), ("", None))
        if until is None or self.clock.now() > until:
            self.refused.append(message)
            return web.json_response({"errcode": 95018, "errmsg": "invalid welcome code"})
        return await self._record({**message, "touser": user})

    async def _accounts(self, request: web.Request) -> web.Response:
        if refusal := self._refusal(request):
            return refusal
        return web.json_response(
            {"errcode": 0, "account_list": [{"open_kfid": OPEN_KFID, "name": "暖新"}]}
        )

    async def _contact_way(self, request: web.Request) -> web.Response:
        if refusal := self._refusal(request):
            return refusal
        asked = await request.json()
        if asked.get("open_kfid") != OPEN_KFID:
            return web.json_response({"errcode": 95000, "errmsg": "invalid open_kfid"})
        return web.json_response({"errcode": 0, "url": f"{CONTACT_URL}?scene={asked['scene']}"})


class WeChatUser:
    """A WeChat user chatting with the account; every message is announced by a callback."""

    def __init__(self, kf: FakeKf, user: str, callback_url: str) -> None:
        self.kf = kf
        self.user = user
        self.url = callback_url
        self.crypto = WeComCrypto(KF_TOKEN, KF_AES_KEY, CORP_ID)

    async def send(self, msgtype: str, body: dict[str, Any], origin: int = 3) -> int:
        start = len(self.kf.log)
        self.kf.add(self.user, msgtype, body, origin)
        return await self.announce(self.kf.issue_token(start))

    async def announce(
        self,
        token: str,
        *,
        signature: str | None = None,
        timestamp: str | None = None,
        nonce: str | None = None,
    ) -> int:
        """Posts the callback that says the account has news."""
        now = self.kf.clock.now()
        inner = (
            f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName>"
            f"<CreateTime>{int(now.timestamp())}</CreateTime>"
            "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[kf_msg_or_event]]></Event>"
            f"<Token><![CDATA[{token}]]></Token><OpenKfId><![CDATA[{OPEN_KFID}]]></OpenKfId>"
            "</xml>"
        )
        return await post_signed(
            self.url,
            self.crypto,
            inner,
            str(int(now.timestamp())),
            agent_id="",
            signature=signature,
            timestamp=timestamp,
            nonce=nonce,
        )

    async def say(self, text: str) -> int:
        return await self.send("text", {"content": text})

    async def click(self, item: dict[str, Any]) -> int:
        """Taps a menu item: WeChat sends its label as text, with its id."""
        click = item["click"]
        return await self.send("text", {"content": click["content"], "menu_id": click["id"]})

    async def enter(self, scene_param: str = "") -> int:
        return await self.send(
            "event",
            {"event_type": "enter_session", "scene": "nuanxin", "scene_param": scene_param},
        )


def items_of(message: dict[str, Any]) -> list[dict[str, Any]]:
    return list((message.get("msgmenu") or {}).get("list", []))


def item(message: dict[str, Any], label: str) -> dict[str, Any]:
    return next(i for i in items_of(message) if label in i["click"]["content"])


def text_of(message: dict[str, Any]) -> str:
    if message["msgtype"] == "text":
        return str(message["text"]["content"])
    if message["msgtype"] == "msgmenu":
        menu = message["msgmenu"]
        return f"{menu.get('head_content', '')}\n{menu.get('tail_content', '')}".strip()
    return str(message["msgtype"])
