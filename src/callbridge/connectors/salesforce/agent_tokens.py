"""Acting as the agent: the agent's own Salesforce access token, kept after single sign-on, with the
integration user's tokens as the fallback.

`AgentSsoTokens` is an `AccessTokenSource`. It asks `AgentAccess` (Callbridge hands one in, bound to
one tenant and one agent) for the agent's token on every call, so a token stored by a later sign-in is
used at once. `refresh()`, called after Salesforce answered INVALID_SESSION_ID, forces a new token
from the provider (Salesforce gives no expiry, so the refusal is the only sign). When the agent has no
tokens, or the provider refuses to refresh them, the integration user's token is used instead, so an
activity is still written (as the integration user); a token Salesforce refused and that could not be
refreshed is not tried again, until the agent's next sign-in stores another.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol

from .client import TokenProvider


class AgentToken(Protocol):
    """An agent's access token and the instance URL Salesforce gave with it."""

    @property
    def access_token(self) -> str: ...

    @property
    def instance_url(self) -> str: ...


class AgentAccess(Protocol):
    """One agent's tokens: None when the agent has none (or they cannot be refreshed)."""

    async def access_token(self) -> AgentToken | None: ...

    async def refresh(self) -> AgentToken | None:
        """A new token from the provider, whatever the stored one's expiry says."""
        ...


class AgentSsoTokens:
    """The agent's access token, or the integration user's (`fallback`) when the agent has none."""

    def __init__(
        self,
        agent: AgentAccess,
        fallback: TokenProvider,
        on_instance_url: Callable[[str], None] | None = None,
    ) -> None:
        self.agent = agent
        self.fallback = fallback
        self.on_instance_url = on_instance_url
        self.using_fallback = False
        self._current = ""
        self._refused = ""  # the agent's token Salesforce refused and the provider would not refresh
        self._lock = asyncio.Lock()

    async def access_token(self) -> str:
        token = await self.agent.access_token()
        if token is not None and token.access_token == self._refused:
            token = None
        return await self._use(token)

    async def refresh(self) -> str:
        seen = self._current
        async with self._lock:
            if self._current != seen and self._current:
                return self._current  # another caller refreshed while this one waited
            if self.using_fallback:
                self._current = await self.fallback.refresh()
                self._fallback_instance_url()
                return self._current
            refused = self._current
            token = await self.agent.refresh()
            if token is None:
                self._refused = refused
            return await self._use(token)

    async def _use(self, token: AgentToken | None) -> str:
        if token is None:
            self.using_fallback = True
            self._current = await self.fallback.access_token()
            self._fallback_instance_url()
            return self._current
        self.using_fallback = False
        if self.on_instance_url is not None and token.instance_url:
            self.on_instance_url(token.instance_url)
        self._current = token.access_token
        return self._current

    def _fallback_instance_url(self) -> None:
        instance_url = getattr(self.fallback, "instance_url", "")
        if self.on_instance_url is not None and isinstance(instance_url, str) and instance_url:
            self.on_instance_url(instance_url)
