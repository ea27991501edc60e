"""Two nodes' CRM connections over one PostgreSQL database, against an org that rotates refresh tokens: a
token rotated (and stored) by one node revokes the copy the other holds; the other reads the stored one
again on `invalid_grant` and carries on, instead of calling the connection broken."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from salesforce_standin.rest_api import REFRESH_TOKEN, SalesforceRestStandin
from sqlalchemy import insert
from tests.connectors.salesforce.test_settings import CONFIG, SECRETS, a_log
from tests.integration.cluster.conftest import pg_engine, pg_schema

from callbridge.auth.secrets import TokenCipher
from callbridge.connectors import salesforce
from callbridge.connectors.base import CrmAuthError
from callbridge.services.crm_connections import CrmConnections
from callbridge.store import crm_connections as connections_store
from callbridge.store.tables import tenants

__all__ = ["pg_engine", "pg_schema"]  # the fixtures: a migrated PostgreSQL schema per test


async def test_a_refresh_token_rotated_by_another_node_is_read_again(pg_engine: object) -> None:
    engine = pg_engine
    org = SalesforceRestStandin()
    org.rotate_refresh_tokens = True
    cipher = TokenCipher("the-same-secret-on-every-node")
    with engine.begin() as connection:  # type: ignore[attr-defined]
        connection.execute(insert(tenants).values(id="acme", name="Acme", created_at=0.0))
    secrets = cipher.encrypt(json.dumps(SECRETS)).decode("ascii")
    values = {"tenant_id": "acme", "crm": "salesforce", "config": CONFIG, "secrets": secrets, "updated_at": 0.0}
    connections_store.save(engine, values)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=org.transport()) as http:
        node_a = CrmConnections(engine, cipher, http, {"salesforce": salesforce.plugin})  # type: ignore[arg-type]
        node_b = CrmConnections(engine, cipher, http, {"salesforce": salesforce.plugin})  # type: ignore[arg-type]
        on_a = await node_a.get("acme", "salesforce")
        on_b = await node_b.get("acme", "salesforce")
        assert on_a is not None
        assert on_b is not None

        await on_a.write_activity(a_log("a"))  # node A's grant rotates the token: the one B holds is revoked
        assert org.refresh_tokens == {"5Aep861rotated1"}
        await on_b.write_activity(a_log("b"))

        assert {t["Callbridge_Interaction_Id__c"] for t in org.tasks} == {"a", "b"}
        # B was refused with its copy, read the stored one, and stored the token its own grant rotated to
        assert [org.token_form(i)["refresh_token"] for i in range(3)] == [
            REFRESH_TOKEN,
            REFRESH_TOKEN,
            "5Aep861rotated1",
        ]
        assert await asyncio.to_thread(node_a.credentials, "acme", "salesforce") == {
            **SECRETS,
            "refresh_token": "5Aep861rotated2",
        }

        # the stored token itself refused (revoked in Salesforce): the connection is broken, said as before
        org.refresh_tokens.clear()
        org.expire_sessions()
        with pytest.raises(CrmAuthError, match="Get a new refresh token"):
            await on_b.write_activity(a_log("c"))
        assert len(org.token_requests) == 4, "the stored token is not tried twice"
