"""Signing in to the web console through WeCom (网页授权登录, ``snsapi_base``): opened from the
app's workbench inside WeCom, the console learns which member is there without a link.

WeCom sends the member back with a one-time ``code``; ``auth/getuserinfo`` turns it into their
UserId. A visitor who is not a member of the company (an ``openid`` only) is nobody here.
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

import aiohttp

from bot.config import Settings
from bot.transports.wecom_api import PLATFORM, WeComClient, WeComError

log = logging.getLogger(__name__)

AUTHORIZE = "https://open.weixin.qq.com/connect/oauth2/authorize"


class WeComSignIn:
    def __init__(self, settings: Settings) -> None:
        self._corp_id = settings.wecom_corp_id
        self._agent_id = settings.wecom_agent_id
        self._client = WeComClient(
            settings.wecom_api_url,
            settings.wecom_corp_id,
            settings.wecom_secret.value,
            settings.wecom_agent_id,
        )

    @staticmethod
    def available(settings: Settings) -> bool:
        return bool(settings.wecom_corp_id and settings.wecom_secret)

    def authorize_url(self, back_to: str, state: str) -> str:
        query = urlencode(
            {
                "appid": self._corp_id,
                "redirect_uri": back_to,
                "response_type": "code",
                "scope": "snsapi_base",
                "state": state,
                "agentid": self._agent_id,
            }
        )
        return f"{AUTHORIZE}?{query}#wechat_redirect"

    async def member(self, code: str) -> str | None:
        """The bot's id of the member the code names (``wecom:<UserId>``), or None."""
        try:
            answer = await self._client.call("GET", "auth/getuserinfo", params={"code": code})
        except (WeComError, aiohttp.ClientError, TimeoutError) as bad:
            log.warning("WeCom did not say whose sign-in code it was: %s", bad)
            return None
        user_id = answer.get("userid") or answer.get("UserId")
        return f"{PLATFORM}:{user_id}" if user_id else None

    async def close(self) -> None:
        await self._client.close()
