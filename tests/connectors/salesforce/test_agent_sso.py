"""A Salesforce connection set to act as the agent (`token_source: agent_sso`): the agent's tokens come from
single sign-on (the real `SsoService`, tokens stored encrypted as a sign-in stores them); the org and its
OAuth endpoints are the stand-in, reached through `httpx.MockTransport`."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from authlib.integrations.httpx_client import AsyncOAuth2Client
from authlib.integrations.httpx_client._compat import httpx2 as oauth_httpx
from pydantic import ValidationError
from salesforce_standin.rest_api import (
    CLIENT_ID,
    CLIENT_SECRET,
    INSTANCE_URL,
    ORG_ID,
    REFRESH_TOKEN,
    SalesforceRestStandin,
)
from tests.e2e.conftest import Harness, make_harness

from callbridge.auth.oidc import ProviderConfig, ProviderKind, RelyingParty, token_set
from callbridge.auth.secrets import TokenCipher
from callbridge.connectors import salesforce
from callbridge.connectors.base import ActivityLog
from callbridge.services.crm_connections import AgentTokens, CrmConnections
from callbridge.services.sso import ProviderSettings, SsoService

URL = "/api/v1/tenants/acme/crm-connections/salesforce"
CREDENTIALS = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "refresh_token": REFRESH_TOKEN}
AGENT_TOKEN = f"{ORG_ID}!abe-session-1"
AGENT_REFRESH_TOKEN = "5Aep861abeRefresh1"
LOGIN = "https://login.salesforce.com"
DISCOVERY = {
    "issuer": LOGIN,
    "authorization_endpoint": f"{LOGIN}/services/oauth2/authorize",
    "token_endpoint": f"{LOGIN}/services/oauth2/token",
    "jwks_uri": f"{LOGIN}/id/keys",
    "token_endpoint_auth_methods_supported": ["client_secret_post"],
}


def salesforce_login_and_org(org: SalesforceRestStandin) -> httpx.MockTransport:
    """The stand-in org, plus Salesforce's OpenID Connect discovery document on the login host."""

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/.well-known/openid-configuration":
            return httpx.Response(200, json=DISCOVERY)
        return org.handle(request)

    return httpx.MockTransport(handle)


def for_the_oauth_client(transport: httpx.MockTransport) -> Any:
    """The same transport for Authlib's OAuth client, which runs on its own copy of httpx (`httpx2`)."""

    def handle(request: Any) -> Any:
        answer = transport.handle_request(
            httpx.Request(request.method, str(request.url), headers=dict(request.headers), content=request.read())
        )
        return oauth_httpx.Response(answer.status_code, headers=dict(answer.headers), content=answer.read())

    return oauth_httpx.MockTransport(handle)


class StandinRelyingParty(RelyingParty):
    """The relying party with its HTTP going to the stand-in instead of the network."""

    def __init__(self, transport: httpx.MockTransport, clock: Any) -> None:
        super().__init__(clock)
        self.transport = transport

    def _http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=self.transport, timeout=10)

    def _client(self, config: ProviderConfig, metadata: dict[str, Any], redirect_uri: str) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(
            client_id=config.client_id,
            client_secret=config.client_secret,
            token_endpoint_auth_method="client_secret_post",
            transport=for_the_oauth_client(self.transport),
            timeout=10,
        )


class Setup:
    def __init__(self, harness: Harness, org: SalesforceRestStandin) -> None:
        self.harness = harness
        self.org = org
        svc = harness.services
        transport = salesforce_login_and_org(org)
        self.sso = SsoService(
            svc.engine,
            svc.node,
            svc.clock,
            TokenCipher("test-secret-key"),
            StandinRelyingParty(transport, svc.clock.now),
        )
        self.connections: CrmConnections = harness.client.app.state.crm_integration.connections  # type: ignore[attr-defined]
        self.connections.http = httpx.AsyncClient(transport=transport)
        agent_tokens: AgentTokens = self.sso
        self.connections.agent_tokens = agent_tokens

    def connect(self, **config: Any) -> None:
        body = {"config": {"instance_url": INSTANCE_URL, **config}, "credentials": CREDENTIALS}
        response = self.harness.client.put(URL, json=body, headers=self.harness.admin)
        assert response.status_code == 200, response.text

    def signed_in_with_salesforce(self, agent_id: str, access_token: str, refresh_token: str) -> None:
        """The tokens as a finished sign-in stores them (Salesforce's answer: no expiry)."""
        self.org.valid_tokens.add(access_token)
        self.org.refresh_tokens.add(refresh_token)
        answer = {
            "access_token": access_token,
            "refresh_token": refresh_token,
            "instance_url": INSTANCE_URL,
            "token_type": "Bearer",
            "scope": "openid api refresh_token",
        }
        with self.harness.services.engine.begin() as connection:
            self.sso._store_tokens(
                connection, "acme", agent_id, f"salesforce:{ORG_ID}", False, token_set(answer, 1_800_000_000.0)
            )

    def write(self, agent_id: str | None, interaction_id: str = "i-1") -> None:
        async def go() -> None:
            connector = await self.connections.get("acme", "salesforce", agent_id=agent_id)
            assert connector is not None
            await connector.write_activity(activity(interaction_id))

        self.harness.run(go())

    def last_authorization(self) -> str:
        return self.org.requests[-1].headers["Authorization"]


def activity(interaction_id: str) -> ActivityLog:
    return ActivityLog(
        external_id=interaction_id,
        subject="Inbound call from +1 415 555 1212",
        channel="phone",
        direction="inbound",
        started_at=datetime(2026, 11, 24, 23, 30, tzinfo=UTC),
        duration_seconds=60,
        disposition="Resolved",
        comments="Asked about the invoice.",
    )


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    org = SalesforceRestStandin(valid_tokens=set())
    for harness in make_harness(tmp_path):
        c, h = harness.client, harness.admin
        assert c.post("/api/v1/tenants", json={"id": "acme", "name": "Acme"}, headers=h).status_code == 201
        for agent in ("abe", "bea"):
            body = {"id": agent, "display_name": agent.title(), "email": f"{agent}@example.com"}
            response = c.post("/api/v1/tenants/acme/agents", json=body, headers=h)
            assert response.status_code == 201, response.text
        found = Setup(harness, org)
        found.sso.configure(
            "acme", ProviderSettings(kind=ProviderKind.SALESFORCE, client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
        )
        yield found
        harness.run(found.connections.http.aclose())


def test_a_task_is_written_with_the_agents_sso_token(setup: Setup) -> None:
    setup.connect(token_source="agent_sso")
    setup.signed_in_with_salesforce("abe", AGENT_TOKEN, AGENT_REFRESH_TOKEN)

    setup.write("abe")

    assert setup.last_authorization() == f"Bearer {AGENT_TOKEN}"
    assert [t["Callbridge_Interaction_Id__c"] for t in setup.org.tasks] == ["i-1"]
    assert setup.org.token_requests == []  # the integration user never signed in


def test_invalid_session_forces_one_sso_refresh_then_succeeds(setup: Setup) -> None:
    setup.connect(token_source="agent_sso")
    setup.signed_in_with_salesforce("abe", AGENT_TOKEN, AGENT_REFRESH_TOKEN)
    setup.write("abe", "i-1")
    setup.org.expire_sessions()

    setup.write("abe", "i-2")

    assert len(setup.org.token_requests) == 1
    assert setup.org.token_form()["refresh_token"] == AGENT_REFRESH_TOKEN
    refreshed = setup.harness.run(setup.sso.access_token("acme", "abe"))
    assert refreshed is not None
    assert refreshed.access_token != AGENT_TOKEN
    assert setup.last_authorization() == f"Bearer {refreshed.access_token}"
    assert [t["Callbridge_Interaction_Id__c"] for t in setup.org.tasks] == ["i-1", "i-2"]


def test_an_agent_without_sso_tokens_or_no_agent_falls_back_to_the_integration_user(setup: Setup) -> None:
    setup.connect(token_source="agent_sso")

    setup.write("bea", "i-1")

    assert [setup.org.token_form(i)["refresh_token"] for i in range(len(setup.org.token_requests))] == [REFRESH_TOKEN]
    integration = setup.last_authorization()
    assert integration.startswith(f"Bearer {ORG_ID}!issued-")

    setup.write(None, "i-2")  # e.g. an admin's retry

    assert setup.last_authorization() == integration
    assert len(setup.org.tasks) == 2


def test_a_refused_sso_refresh_falls_back_to_the_integration_user(setup: Setup) -> None:
    setup.connect(token_source="agent_sso")
    setup.signed_in_with_salesforce("abe", AGENT_TOKEN, AGENT_REFRESH_TOKEN)
    setup.org.valid_tokens.discard(AGENT_TOKEN)
    setup.org.refresh_tokens.discard(AGENT_REFRESH_TOKEN)  # the agent's access was revoked

    setup.write("abe")

    assert [setup.org.token_form(i)["refresh_token"] for i in range(len(setup.org.token_requests))] == [
        AGENT_REFRESH_TOKEN,
        REFRESH_TOKEN,
    ]
    assert setup.last_authorization().startswith(f"Bearer {ORG_ID}!issued-")
    assert len(setup.org.tasks) == 1


def test_the_integration_user_is_used_by_default_even_for_a_signed_in_agent(setup: Setup) -> None:
    setup.connect()
    setup.signed_in_with_salesforce("abe", AGENT_TOKEN, AGENT_REFRESH_TOKEN)

    setup.write("abe")

    assert setup.last_authorization().startswith(f"Bearer {ORG_ID}!issued-")
    assert setup.org.token_form()["refresh_token"] == REFRESH_TOKEN


def test_connectors_acting_as_agents_are_kept_per_agent_within_a_bound(setup: Setup) -> None:
    setup.connect(token_source="agent_sso")
    setup.connections.max_agent_connectors = 1

    async def get(agent_id: str) -> object:
        return await setup.connections.get("acme", "salesforce", agent_id=agent_id)

    abe = setup.harness.run(get("abe"))
    assert setup.harness.run(get("abe")) is abe
    bea = setup.harness.run(get("bea"))
    assert bea is not abe
    assert setup.harness.run(get("abe")) is not abe  # abe's was dropped to keep the bound

    setup.connect(token_source="agent_sso", api_version="61.0")  # a change of settings starts afresh
    assert setup.harness.run(get("bea")) is not bea


def test_token_source_is_validated_naming_the_field(setup: Setup) -> None:
    assert salesforce.plugin.validate({"instance_url": INSTANCE_URL}, None)["token_source"] == "integration_user"
    validated = salesforce.plugin.validate({"instance_url": INSTANCE_URL, "token_source": "agent_sso"}, None)
    assert validated["token_source"] == "agent_sso"
    with pytest.raises(ValidationError) as refused:
        salesforce.plugin.validate({"instance_url": INSTANCE_URL, "token_source": "the_agent"}, None)
    assert [e["loc"] for e in refused.value.errors()] == [("token_source",)]

    body = {"config": {"instance_url": INSTANCE_URL, "token_source": "the_agent"}, "credentials": CREDENTIALS}
    response = setup.harness.client.put(URL, json=body, headers=setup.harness.admin)
    assert response.status_code == 422
    assert "config.token_source" in response.text
