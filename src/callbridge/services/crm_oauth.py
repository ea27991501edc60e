"""An admin connects a tenant's CRM as its integration user: "Connect" sends the browser to the CRM's
authorization endpoint (authorization code with PKCE, a fresh sign-in), the callback trades the code for
tokens, asks the CRM who signed in, and stores the refresh token (encrypted) with that name and the time;
"Revoke" revokes the refresh token at the CRM and forgets it. The same for every connector plugin: the
endpoints and scopes are the plugin's (`ConnectorPlugin.oauth`), the HTTP is `connectors/oauth.py`.

A started Connect waits `ttl_seconds` in the database (`store.crm_connects`), so the CRM's callback may reach
any node; it is bound to the admin who started it, its `state` is single-use and stored only as a hash, and its
PKCE verifier is stored encrypted.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass

from callbridge.connectors import oauth
from callbridge.connectors.base import CrmError
from callbridge.connectors.plugin import OAuthEndpoints
from callbridge.services.audit import Actor
from callbridge.services.crm_connections import CrmConnections
from callbridge.store import crm_connects


class ConnectRefused(Exception):
    """Connect cannot start or finish; the message says what the admin should do."""


@dataclass(frozen=True, slots=True)
class PendingConnect:
    tenant_id: str
    crm: str
    subject_id: str  # the admin who pressed Connect
    code_verifier: str
    redirect_uri: str
    expires_at: float


class CrmAuthorizations:
    def __init__(
        self, connections: CrmConnections, clock: Callable[[], float] = time.time, ttl_seconds: float = 600.0
    ) -> None:
        self.connections = connections
        self.clock = clock
        self.ttl_seconds = ttl_seconds

    def _client(self, tenant_id: str, crm: str) -> tuple[OAuthEndpoints, oauth.ClientCredentials]:
        plugin = self.connections.plugin(crm)
        described = self.connections.describe(tenant_id, crm)
        secrets = self.connections.credentials(tenant_id, crm)
        if described is None or not secrets.get("client_id") or not secrets.get("client_secret"):
            raise ConnectRefused(
                f"Save the {plugin.label} settings with the OAuth client's client_id and client_secret first, "
                "then press Connect."
            )
        endpoints = plugin.oauth(plugin.settings(described["config"]))
        return endpoints, oauth.ClientCredentials(secrets["client_id"], secrets["client_secret"])

    def start(self, tenant_id: str, crm: str, subject_id: str, redirect_uri: str) -> str:
        """The URL to send the admin's browser to (blocking: call it in a worker thread)."""
        endpoints, client = self._client(tenant_id, crm)
        request = oauth.authorization_request(endpoints, client.client_id, redirect_uri)
        now = self.clock()
        verifier = self.connections.cipher.encrypt(request.code_verifier).decode("ascii")
        stored = crm_connects.StoredConnect(tenant_id, crm, subject_id, verifier, redirect_uri, now + self.ttl_seconds)
        crm_connects.add(self.connections.engine, _hash(request.state), stored, now)
        return request.url

    def take(self, state: str) -> PendingConnect | None:
        """The Connect a callback's `state` belongs to (once), or None when unknown or expired (blocking)."""
        stored = crm_connects.take(self.connections.engine, _hash(state))
        if stored is None or stored.expires_at <= self.clock():
            return None
        verifier = self.connections.cipher.decrypt(stored.code_verifier.encode("ascii"))
        return PendingConnect(
            stored.tenant_id, stored.crm, stored.subject_id, verifier, stored.redirect_uri, stored.expires_at
        )

    async def finish(self, pending: PendingConnect, code: str, actor: Actor | None) -> str:
        """Trades the code for tokens and stores the refresh token; answers who the integration user is."""
        endpoints, client = await asyncio.to_thread(self._client, pending.tenant_id, pending.crm)
        http = self.connections.http
        try:
            grant = await oauth.exchange_code(
                http,
                endpoints,
                client,
                code=code,
                code_verifier=pending.code_verifier,
                redirect_uri=pending.redirect_uri,
            )
        except CrmError as error:
            raise ConnectRefused(f"{error} Press Connect to try again.") from error
        connected_as = await oauth.who(http, endpoints, grant.access_token)
        await asyncio.to_thread(
            functools.partial(
                self.connections.connected,
                pending.tenant_id,
                pending.crm,
                grant.refresh_token,
                connected_as,
                self.clock(),
                actor=actor,
            )
        )
        return connected_as

    async def revoke(self, tenant_id: str, crm: str, actor: Actor | None) -> str:
        """Revokes the stored refresh token at the CRM and forgets it here. Answers "" when the CRM revoked
        it, or what the admin should do in the CRM when it could not (it is forgotten here either way)."""
        endpoints, client = await asyncio.to_thread(self._client, tenant_id, crm)
        secrets = await asyncio.to_thread(self.connections.credentials, tenant_id, crm)
        token = secrets.get("refresh_token", "")
        problem = ""
        if token:
            try:
                await oauth.revoke(self.connections.http, endpoints, client, token)
            except CrmError as error:
                problem = (
                    f"{error} Callbridge forgot the token; revoke Callbridge's access in the CRM too "
                    "(the integration user's connected apps)."
                )
        await asyncio.to_thread(
            functools.partial(self.connections.disconnected, tenant_id, crm, self.clock(), actor=actor)
        )
        return problem


def _hash(state: str) -> str:
    return hashlib.sha256(state.encode("utf-8")).hexdigest()
