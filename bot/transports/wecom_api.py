"""A thin async client for the WeCom server API: just what the bot needs.

wechatpy 1.8 is synchronous, does not parse ``template_card_event`` and breaks on non-numeric
``MsgId``; a few calls over aiohttp are simpler than adapting it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

import aiohttp

from bot.transports.download import DownloadFailed, Downloads, save
from bot.transports.tls import trusted

log = logging.getLogger(__name__)

PLATFORM = "wecom"
"""The bot's ids of WeCom members are ``wecom:<UserId>``."""
FILE_LIMIT = 20 * 1024 * 1024
"""The largest file ``media/upload`` takes (普通文件 20MB), for the app and 微信客服 alike."""
TOKEN_EXPIRED = frozenset({40014, 42001})
"""An invalid or expired access_token: fetch a new one and try once more."""
NOT_A_MEMBER = frozenset({60111, 81013, 82001})
"""The user is not (or no longer) reachable through this app."""
RATE_LIMITED = frozenset({45009, 45033, -1})


class WeComError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"WeCom error {code}: {message}")
        self.code = code


class WeComClient:
    def __init__(
        self,
        api_url: str,
        corp_id: str,
        secret: str,
        agent_id: str,
        download_timeout_s: float = 20.0,
    ) -> None:
        self._api = api_url
        self._corp_id = corp_id
        self._secret = secret
        self.agent_id = agent_id
        self._session: aiohttp.ClientSession | None = None
        self._token = ""
        self._expires = 0.0
        self._refreshing = asyncio.Lock()
        self._downloads = Downloads(download_timeout_s)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
        await self._downloads.close()

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=30),
                connector=aiohttp.TCPConnector(ssl=trusted()),
            )
        return self._session

    async def token(self, *, stale: str = "") -> str:
        """The cached access_token; one refresh at a time, and only if it is still the stale
        one (another task may have refreshed it meanwhile)."""
        async with self._refreshing:
            if self._token and self._token != stale and time.monotonic() < self._expires:
                return self._token
            answer = await self._checked(
                self._http().get(
                    f"{self._api}/gettoken",
                    params={"corpid": self._corp_id, "corpsecret": self._secret},
                )
            )
            self._token = str(answer["access_token"])
            self._expires = time.monotonic() + int(answer.get("expires_in", 7200)) - 300
            return self._token

    async def call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        token = await self.token()
        try:
            return await self._checked(self._request(method, path, token, **kwargs))
        except WeComError as bad:
            if bad.code not in TOKEN_EXPIRED:
                raise
            log.info("WeCom access token expired; refreshing")
            token = await self.token(stale=token)
            return await self._checked(self._request(method, path, token, **kwargs))

    def _request(self, method: str, path: str, token: str, **kwargs: Any) -> Any:
        params = {**kwargs.pop("params", {}), "access_token": token}
        return self._http().request(method, f"{self._api}/{path}", params=params, **kwargs)

    @staticmethod
    async def _checked(request: Any) -> dict[str, Any]:
        async with request as response:
            response.raise_for_status()
            answer: dict[str, Any] = await response.json(content_type=None)
        code = int(answer.get("errcode", 0))
        if code:
            raise WeComError(code, str(answer.get("errmsg", "")))
        return answer

    async def send(self, message: dict[str, Any]) -> dict[str, Any]:
        """WeCom's answer: ``msgid``, and for a card with buttons its ``response_code``."""
        answer = await self.call(
            "POST", "message/send", json={**message, "agentid": self.agent_id}
        )
        invalid = answer.get("invaliduser", "")
        if invalid:
            raise WeComError(81013, f"invalid user {invalid}")
        return answer

    async def settle_card(self, member: str, response_code: str, label: str) -> None:
        """Turns a card's buttons into one that cannot be pressed, saying ``label``."""
        await self.call(
            "POST",
            "message/update_template_card",
            json={
                "userids": [member],
                "agentid": self.agent_id,
                "response_code": response_code,
                "button": {"replace_name": label},
            },
        )

    async def post_robot(self, webhook: str, text: str) -> None:
        """A group robot's webhook carries its own key: no access token."""
        await self._checked(
            self._http().post(webhook, json={"msgtype": "text", "text": {"content": text}})
        )

    async def upload(self, kind: str, path: Path) -> str:
        data = aiohttp.FormData()
        content = await asyncio.to_thread(path.read_bytes)
        data.add_field("media", content, filename=path.name)
        answer = await self.call("POST", "media/upload", params={"type": kind}, data=data)
        return str(answer["media_id"])

    async def download(self, media_id: str, target: Path, limit: int) -> int | None:
        """Saves a user's image or voice note, on connections of its own; its size, or None
        when it is bigger than ``limit``."""
        token = await self.token()
        url = f"{self._api}/media/get"
        params = {"media_id": media_id, "access_token": token}
        try:
            async with self._downloads.session().get(url, params=params) as got:
                got.raise_for_status()
                if got.content_type == "application/json":
                    answer = await got.json()
                    raise WeComError(int(answer.get("errcode", -1)), str(answer.get("errmsg")))
                return await save(got, target, limit)
        except (aiohttp.ClientError, TimeoutError) as trouble:
            raise DownloadFailed(f"{type(trouble).__name__}: {trouble}") from trouble
