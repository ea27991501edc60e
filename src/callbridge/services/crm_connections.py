"""Each tenant's CRM connections: settings and encrypted credentials in `crm_connections`,
turned into live `CrmConnector`s by the connector plugins' factories.

A connector plugin package (found through the `callbridge.connectors` entry
points) offers `from_settings(config, secrets, http, save_secrets)`; the
built-in CRM's does. Credentials are stored encrypted; a connector that
receives new credentials (a rotated refresh token) hands them to
`save_secrets`, which stores them before they are used.

A plugin may also offer `for_agent(connector, config, http, agent)`: a connector
acting as one agent, with the provider tokens single sign-on keeps for that
agent (`agent_tokens`, e.g. `SsoService`), or None when the connection is set
to use the integration user only. Those connectors are kept per (tenant, CRM,
agent), at most `max_agent_connectors` of them.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from importlib.metadata import entry_points
from typing import Any, Protocol

import httpx
from sqlalchemy import Engine, select, update
from sqlalchemy.dialects import postgresql, sqlite

from callbridge.auth.oidc import SignInRefused
from callbridge.auth.secrets import DecryptionFailed
from callbridge.connectors.base import CrmConnector
from callbridge.services.audit import Actor, record
from callbridge.store.crm_tables import crm_connections

log = logging.getLogger(__name__)

SaveSecrets = Callable[[dict[str, str]], Awaitable[None]]


class ConnectorFactory(Protocol):
    def __call__(
        self, config: Mapping[str, Any], secrets: Mapping[str, str], http: httpx.AsyncClient, save_secrets: SaveSecrets
    ) -> CrmConnector: ...


class ConfigValidator(Protocol):
    def __call__(self, config: Mapping[str, Any], secrets: Mapping[str, str] | None) -> dict[str, Any]: ...


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


# Built-in plugins, found even before the package's entry points are (re)installed.
BUILT_IN_PLUGINS = {"builtin_crm": "callbridge.connectors.builtin_crm"}


def discover_plugins() -> dict[str, Any]:
    """Connector plugin packages that can be configured from settings, by entry-point name."""
    modules: dict[str, str] = dict(BUILT_IN_PLUGINS)
    for entry in entry_points(group="callbridge.connectors"):
        modules[entry.name] = entry.module
    found: dict[str, Any] = {}
    for name, module_name in modules.items():
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            log.exception("connector plugin %s cannot be imported", name)
            continue
        if callable(getattr(module, "from_settings", None)):
            found[name] = module
    return found


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
        plugins: Mapping[str, Any] | None = None,
        *,
        agent_tokens: AgentTokens | None = None,
        max_agent_connectors: int = 1000,
    ) -> None:
        self.engine = engine
        self.cipher = cipher
        self.http = http
        self.plugins = dict(discover_plugins() if plugins is None else plugins)
        self.agent_tokens = agent_tokens
        self.max_agent_connectors = max_agent_connectors
        self._live: dict[tuple[str, str], CrmConnector] = {}
        self._configs: dict[tuple[str, str], dict[str, Any]] = {}
        self._agents: OrderedDict[tuple[str, str, str], CrmConnector] = OrderedDict()
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}

    def names(self) -> list[str]:
        return sorted(self.plugins)

    def validate(self, crm: str, config: Mapping[str, Any], secrets: Mapping[str, str] | None) -> dict[str, Any]:
        plugin = self.plugins.get(crm)
        if plugin is None:
            raise UnknownConnector(crm)
        validated: dict[str, Any] = plugin.validate_settings(config, secrets)
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
        plugin = self.plugins.get(crm)
        if plugin is None:
            raise UnknownConnector(crm)
        stored = self._row(tenant_id, crm)
        stored_secrets: dict[str, str] = {}
        if stored is not None and stored.secrets:
            stored_secrets = json.loads(self.cipher.decrypt(stored.secrets.encode("ascii")))
        if secrets is not None and keep_missing_secrets:
            secrets = {**stored_secrets, **{k: v for k, v in secrets.items() if v}}
        self.validate(crm, config, secrets)
        values: dict[str, Any] = {"tenant_id": tenant_id, "crm": crm, "config": dict(config), "updated_at": now}
        if secrets is not None:
            values["secrets"] = self.cipher.encrypt(json.dumps(dict(secrets))).decode("ascii")
        with self.engine.begin() as connection:
            if actor is not None:
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
            insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
            statement = insert(crm_connections).values(**{"secrets": "", **values})
            connection.execute(
                statement.on_conflict_do_update(
                    index_elements=["tenant_id", "crm"],
                    set_={k: statement.excluded[k] for k in values if k not in ("tenant_id", "crm")},
                )
            )
        self._forget(tenant_id, crm)

    def describe(self, tenant_id: str, crm: str) -> dict[str, Any] | None:
        with self.engine.connect() as connection:
            row = connection.execute(
                select(crm_connections).where(crm_connections.c.tenant_id == tenant_id, crm_connections.c.crm == crm)
            ).first()
        if row is None:
            return None
        return {"crm": crm, "config": row.config, "has_credentials": bool(row.secrets), "updated_at": row.updated_at}

    async def get(self, tenant_id: str, crm: str, *, agent_id: str | None = None) -> CrmConnector | None:
        """The tenant's live connector for `crm`, or None when it is not connected.

        With `agent_id`, and a connection set to act as the agent (`token_source: agent_sso`), a connector
        using that agent's single sign-on tokens (the integration user's when the agent has none)."""
        connector = await self._tenant_connector(tenant_id, crm)
        if connector is None or not agent_id or self.agent_tokens is None:
            return connector
        for_agent = getattr(self.plugins.get(crm), "for_agent", None)
        if for_agent is None:
            return connector
        key = (tenant_id, crm, agent_id)
        found = self._agents.get(key)
        if found is not None:
            self._agents.move_to_end(key)
            return found
        config = self._configs.get((tenant_id, crm))
        if config is None:
            return connector
        acting: CrmConnector | None = for_agent(
            connector, config, self.http, AgentAccess(self.agent_tokens, tenant_id, agent_id)
        )
        if acting is None:
            return connector
        self._agents[key] = acting
        while len(self._agents) > self.max_agent_connectors:
            self._agents.popitem(last=False)
        return acting

    def _forget(self, tenant_id: str, crm: str) -> None:
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
            row = await asyncio.to_thread(self._row, tenant_id, crm)
            if row is None:
                return None
            secrets = json.loads(self.cipher.decrypt(row.secrets.encode("ascii"))) if row.secrets else {}

            async def save_secrets(new: dict[str, str]) -> None:
                merged = {**secrets, **new}
                secrets.update(new)
                ciphertext = self.cipher.encrypt(json.dumps(merged)).decode("ascii")
                await asyncio.to_thread(self._store_secrets, tenant_id, crm, ciphertext)

            connector: CrmConnector = plugin.from_settings(row.config, secrets, self.http, save_secrets)
            self._configs[key] = dict(row.config)
            self._live[key] = connector
            return connector

    def _row(self, tenant_id: str, crm: str) -> Any:
        with self.engine.connect() as connection:
            return connection.execute(
                select(crm_connections).where(crm_connections.c.tenant_id == tenant_id, crm_connections.c.crm == crm)
            ).first()

    def _store_secrets(self, tenant_id: str, crm: str, ciphertext: str) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                update(crm_connections)
                .where(crm_connections.c.tenant_id == tenant_id, crm_connections.c.crm == crm)
                .values(secrets=ciphertext)
            )


def _audited(config: Mapping[str, Any], secrets: Mapping[str, str]) -> dict[str, Any]:
    """Settings by name; each credential as `credentials.<name>`, which the audit log records only as changed."""
    return {**dict(config), **{f"credentials.{k}": v for k, v in secrets.items()}}
