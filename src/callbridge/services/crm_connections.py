"""Each tenant's CRM connections: settings and encrypted credentials in `crm_connections`
(`store/crm_connections.py`), turned into live `CrmConnector`s by the connector plugins.

Each connector package exports a `ConnectorPlugin` (`connectors/plugin.py`) through the
`callbridge.connectors` entry points; its models validate what admins enter and its
`from_settings` builds the tenant's connector. Credentials are stored encrypted; a connector
that receives new credentials (a rotated refresh token) hands them to `save_secrets`, which
stores them before they are used. `connected` / `disconnected` store or forget the refresh
token an admin's Connect obtained (`services/crm_oauth.py`) and who the integration user is.

A plugin may also build a connector acting as one agent (`ConnectorPlugin.for_agent`), with
the provider tokens single sign-on keeps for that agent (`agent_tokens`, e.g. `SsoService`),
or None when the connection is set to use the integration user only. Those connectors are
kept per (tenant, CRM, agent), at most `max_agent_connectors` of them.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

import httpx
from sqlalchemy import Connection, Engine

from callbridge.auth.oidc import SignInRefused
from callbridge.auth.secrets import DecryptionFailed
from callbridge.connectors.base import CrmConnector
from callbridge.connectors.plugin import AnyPlugin, SaveSecrets, discover
from callbridge.outbound import OutboundPolicy
from callbridge.services.audit import Actor, record
from callbridge.store import crm_connections as connections_store

log = logging.getLogger(__name__)

__all__ = ["AgentAccess", "AgentTokens", "CrmConnections", "SaveSecrets", "UnknownConnector", "discover_plugins"]


class ProviderToken(Protocol):
    """An agent's access token at the provider, and the instance URL it came with (Salesforce)."""

    @property
    def access_token(self) -> str: ...

    @property
    def instance_url(self) -> str: ...


class AgentTokens(Protocol):
    """The provider tokens single sign-on keeps for each agent (`SsoService`)."""

    async def access_token(self, tenant_id: str, agent_id: str) -> ProviderToken | None: ...

    async def refresh_access_token(self, tenant_id: str, agent_id: str) -> ProviderToken | None: ...


class AgentAccess:
    """One agent's provider tokens, for a connector acting as that agent. None when the agent has no
    tokens, or they cannot be refreshed (refused, provider unreachable): the connector then falls back
    to the integration user, so nothing waits on the agent signing in again."""

    def __init__(self, tokens: AgentTokens, tenant_id: str, agent_id: str) -> None:
        self.tokens = tokens
        self.tenant_id = tenant_id
        self.agent_id = agent_id

    async def access_token(self) -> ProviderToken | None:
        return await self._ask(self.tokens.access_token)

    async def refresh(self) -> ProviderToken | None:
        return await self._ask(self.tokens.refresh_access_token)

    async def _ask(self, method: Callable[[str, str], Awaitable[ProviderToken | None]]) -> ProviderToken | None:
        try:
            return await method(self.tenant_id, self.agent_id)
        except (SignInRefused, DecryptionFailed, httpx.HTTPError) as error:
            log.warning(
                "the agent's provider token cannot be used; using the integration user's: %s",
                error,
                extra={"tenant_id": self.tenant_id, "agent_id": self.agent_id},
            )
            return None


class Cipher(Protocol):
    def encrypt(self, plaintext: str) -> bytes: ...

    def decrypt(self, ciphertext: bytes) -> str: ...


def discover_plugins() -> dict[str, AnyPlugin]:
    """Connector plugins installed (entry points, and the built-in ones), by name."""
    return discover()


class UnknownConnector(Exception):
    def __init__(self, crm: str) -> None:
        super().__init__(f"no connector named {crm!r} can be configured here")
        self.crm = crm


class CrmConnections:
    def __init__(
        self,
        engine: Engine,
        cipher: Cipher,
        http: httpx.AsyncClient,
        plugins: Mapping[str, AnyPlugin] | None = None,
        *,
        agent_tokens: AgentTokens | None = None,
        max_agent_connectors: int = 1000,
        policy: OutboundPolicy | None = None,
    ) -> None:
        self.engine = engine
        self.policy = policy or OutboundPolicy()
        self.cipher = cipher
        self.http = http
        self.plugins: dict[str, AnyPlugin] = dict(discover_plugins() if plugins is None else plugins)
        self.agent_tokens = agent_tokens
        self.max_agent_connectors = max_agent_connectors
        self._live: dict[tuple[str, str], CrmConnector] = {}
        self._configs: dict[tuple[str, str], dict[str, Any]] = {}
        self._agents: OrderedDict[tuple[str, str, str], CrmConnector] = OrderedDict()
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}
        # told (tenant, crm) when a connection's stored settings or credentials change here: in a cluster every
        # node forgets its live connector, which would otherwise keep the old settings or refresh token
        self.on_change: list[Callable[[str, str], None]] = []

    def names(self) -> list[str]:
        return sorted(self.plugins)

    def plugin(self, crm: str) -> AnyPlugin:
        found = self.plugins.get(crm)
        if found is None:
            raise UnknownConnector(crm)
        return found

    def label(self, crm: str) -> str:
        """The words admins read for a connector: its plugin's label, or its name when it is not installed."""
        found = self.plugins.get(crm)
        return found.label if found is not None else crm

    def validate(self, crm: str, config: Mapping[str, Any], secrets: Mapping[str, str] | None) -> dict[str, Any]:
        validated = self.plugin(crm).validate(config, secrets)
        # Every URL the connector will call must be one Callbridge may connect to (DestinationRefused names it).
        for key, value in validated.items():
            if key.endswith("_url") and isinstance(value, str) and value:
                self.policy.check_url(value, key)
        return validated

    def save(
        self,
        tenant_id: str,
        crm: str,
        config: Mapping[str, Any],
        secrets: Mapping[str, str] | None,
        now: float,
        *,
        actor: Actor | None = None,
        keep_missing_secrets: bool = False,
    ) -> None:
        """Stores a connection; `secrets` None keeps the stored ones.

        `keep_missing_secrets`: a secret left out of `secrets` keeps its stored value (a form's "leave empty
        to keep"). With an `actor`, the change is audited in the same transaction, credentials only as changed.
        """
        self.plugin(crm)
        stored = connections_store.read(self.engine, tenant_id, crm)
        stored_secrets = self._decrypt(stored)
        if secrets is not None and keep_missing_secrets:
            secrets = {**stored_secrets, **{k: v for k, v in secrets.items() if v}}
        self.validate(crm, config, secrets)
        values: dict[str, Any] = {"tenant_id": tenant_id, "crm": crm, "config": dict(config), "updated_at": now}
        if secrets is not None:
            values["secrets"] = self._encrypt(secrets)
            if not secrets.get("refresh_token"):
                values["connected_as"], values["connected_at"] = "", None

        def audit(connection: Connection) -> None:
            if actor is None:
                return
            after_secrets = stored_secrets if secrets is None else dict(secrets)
            record(
                connection,
                tenant_id=tenant_id,
                actor=actor,
                action="crm_connection.created" if stored is None else "crm_connection.updated",
                target_type="crm_connection",
                target_id=crm,
                before=None if stored is None else _audited(stored.config, stored_secrets),
                after=_audited(dict(config), after_secrets),
                at=now,
            )

        connections_store.save(self.engine, values, also=audit)
        self._changed(tenant_id, crm)

    def describe(self, tenant_id: str, crm: str) -> dict[str, Any] | None:
        row = connections_store.read(self.engine, tenant_id, crm)
        if row is None:
            return None
        secrets = self._decrypt(row)
        return {
            "crm": crm,
            "config": row.config,
            "has_credentials": bool(row.secrets),
            "connected": bool(secrets.get("refresh_token")),
            "connected_as": row.connected_as,
            "connected_at": row.connected_at,
            "updated_at": row.updated_at,
        }

    def credentials(self, tenant_id: str, crm: str) -> dict[str, str]:
        """The stored credentials, decrypted (empty when there are none)."""
        return self._decrypt(connections_store.read(self.engine, tenant_id, crm))

    def connected(
        self, tenant_id: str, crm: str, refresh_token: str, connected_as: str, now: float, *, actor: Actor | None
    ) -> None:
        """Stores the integration user's refresh token an admin's Connect obtained, and who that user is."""
        self._replace_refresh_token(tenant_id, crm, refresh_token, (connected_as, now), now, actor, "connected")

    def disconnected(self, tenant_id: str, crm: str, now: float, *, actor: Actor | None) -> None:
        """Forgets the integration user's refresh token (after an admin's Revoke)."""
        self._replace_refresh_token(tenant_id, crm, None, ("", None), now, actor, "disconnected")

    def _replace_refresh_token(
        self,
        tenant_id: str,
        crm: str,
        refresh_token: str | None,
        connected: tuple[str, float | None],
        now: float,
        actor: Actor | None,
        verb: str,
    ) -> None:
        secrets = self.credentials(tenant_id, crm)
        secrets.pop("refresh_token", None)
        if refresh_token is not None:
            secrets["refresh_token"] = refresh_token

        def audit(connection: Connection) -> None:
            if actor is not None:
                record(
                    connection,
                    tenant_id=tenant_id,
                    actor=actor,
                    action=f"crm_connection.{verb}",
                    target_type="crm_connection",
                    target_id=crm,
                    before=None,
                    after={"connected_as": connected[0]},
                    at=now,
                )

        if not connections_store.update_secrets(
            self.engine, tenant_id, crm, self._encrypt(secrets), connected=connected, also=audit
        ):
            raise UnknownConnector(crm)
        self._changed(tenant_id, crm)

    async def get(self, tenant_id: str, crm: str, *, agent_id: str | None = None) -> CrmConnector | None:
        """The tenant's live connector for `crm`, or None when it is not connected.

        With `agent_id`, and a connection set to act as the agent (`token_source: agent_sso`), a connector
        using that agent's single sign-on tokens (the integration user's when the agent has none)."""
        connector = await self._tenant_connector(tenant_id, crm)
        plugin = self.plugins.get(crm)
        if connector is None or not agent_id or self.agent_tokens is None or plugin is None:
            return connector
        if plugin.agent_connector is None:
            return connector
        key = (tenant_id, crm, agent_id)
        found = self._agents.get(key)
        if found is not None:
            self._agents.move_to_end(key)
            return found
        config = self._configs.get((tenant_id, crm))
        if config is None:
            return connector
        acting: CrmConnector | None = plugin.for_agent(
            connector, config, self.http, AgentAccess(self.agent_tokens, tenant_id, agent_id)
        )
        if acting is None:
            return connector
        self._agents[key] = acting
        while len(self._agents) > self.max_agent_connectors:
            self._agents.popitem(last=False)
        return acting

    def _changed(self, tenant_id: str, crm: str) -> None:
        self.forget(tenant_id, crm)
        for tell in self.on_change:
            tell(tenant_id, crm)

    def forget(self, tenant_id: str, crm: str) -> None:
        """Drops the live connectors of a connection: the next use reads its stored settings again."""
        self._live.pop((tenant_id, crm), None)
        self._configs.pop((tenant_id, crm), None)
        for key in [k for k in self._agents if k[:2] == (tenant_id, crm)]:
            del self._agents[key]

    async def _tenant_connector(self, tenant_id: str, crm: str) -> CrmConnector | None:
        key = (tenant_id, crm)
        found = self._live.get(key)
        if found is not None:
            return found
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            found = self._live.get(key)
            if found is not None:
                return found
            plugin = self.plugins.get(crm)
            if plugin is None:
                return None
            row = await asyncio.to_thread(connections_store.read, self.engine, tenant_id, crm)
            if row is None:
                return None
            secrets = self._decrypt(row)

            async def save_secrets(new: dict[str, str]) -> None:
                merged = {**secrets, **new}
                secrets.update(new)
                await asyncio.to_thread(
                    connections_store.update_secrets, self.engine, tenant_id, crm, self._encrypt(merged)
                )

            async def load_secrets() -> dict[str, str]:
                stored = await asyncio.to_thread(connections_store.read, self.engine, tenant_id, crm)
                secrets.update(self._decrypt(stored))  # what a rotation here stores next starts from these
                return dict(secrets)

            connector: CrmConnector = plugin.from_settings(row.config, secrets, self.http, save_secrets, load_secrets)
            self._configs[key] = dict(row.config)
            self._live[key] = connector
            return connector

    def _decrypt(self, row: Any) -> dict[str, str]:
        if row is None or not row.secrets:
            return {}
        found: dict[str, str] = json.loads(self.cipher.decrypt(row.secrets.encode("ascii")))
        return found

    def _encrypt(self, secrets: Mapping[str, str]) -> str:
        return self.cipher.encrypt(json.dumps(dict(secrets))).decode("ascii")


def _audited(config: Mapping[str, Any], secrets: Mapping[str, str]) -> dict[str, Any]:
    """Settings by name; each credential as `credentials.<name>`, which the audit log records only as changed."""
    return {**dict(config), **{f"credentials.{k}": v for k, v in secrets.items()}}
