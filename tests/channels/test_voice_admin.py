"""Voice administration (numbers, desk phones): stored and validated whether or not voice runs here."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

from sqlalchemy import select

from callbridge.channels.sip.directory import digest_ha1
from callbridge.channels.sip.webrtc import Softphones, softphone_user
from callbridge.store.voice_tables import voice_desk_phones
from tests.channels.conftest import Tenant, new_tenant


def put_number(tenant: Tenant, number: str, **body: object) -> Any:
    return tenant.harness.client.put(
        f"/api/v1/tenants/{tenant.id}/voice/numbers/{number}", json=body, headers=tenant.harness.admin
    )


def test_a_number_maps_to_a_phone_queue_and_is_listed(tenant: Tenant) -> None:
    response = put_number(tenant, "+18005550100", queue_id="sales")
    assert response.status_code == 200, response.text
    listed = tenant.harness.client.get(f"/api/v1/tenants/{tenant.id}/voice/numbers", headers=tenant.harness.admin)
    assert listed.json() == [{"number": "+18005550100", "queue_id": "sales", "greeting_id": None}]
    deleted = tenant.harness.client.delete(
        f"/api/v1/tenants/{tenant.id}/voice/numbers/+18005550100", headers=tenant.harness.admin
    )
    assert deleted.status_code == 204


def test_numbers_are_e164_lead_to_phone_queues_and_belong_to_one_tenant(tenant: Tenant) -> None:
    assert put_number(tenant, "18005550100", queue_id="sales").json()["field"] == "number"
    assert put_number(tenant, "+18005550101", queue_id="support").json()["field"] == "queue_id"
    assert put_number(tenant, "+18005550101", queue_id="nowhere").json()["field"] == "queue_id"
    assert put_number(tenant, "+18005550102", queue_id="sales").status_code == 200
    other = new_tenant(tenant.harness)
    taken = put_number(other, "+18005550102", queue_id="sales")
    assert taken.status_code == 422
    assert taken.json()["field"] == "number"


def test_a_desk_phone_keeps_only_the_digest_ha1_and_its_user_name_is_unique(tenant: Tenant) -> None:
    client, admin = tenant.harness.client, tenant.harness.admin
    url = f"/api/v1/tenants/{tenant.id}/voice/desk-phones"
    response = client.put(
        f"{url}/agent1", json={"username": f"{tenant.id}-desk", "password": "long enough secret"}, headers=admin
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"agent_id": "agent1", "username": f"{tenant.id}-desk", "realm": "callbridge"}
    with tenant.harness.services.engine.connect() as connection:
        row = connection.execute(select(voice_desk_phones).where(voice_desk_phones.c.tenant_id == tenant.id)).one()
    assert row.ha1 == digest_ha1(f"{tenant.id}-desk", "callbridge", "long enough secret")
    assert "long enough secret" not in str(tuple(row))
    taken = client.put(
        f"{url}/agent2", json={"username": f"{tenant.id}-desk", "password": "another secret!"}, headers=admin
    )
    assert taken.status_code == 422
    assert taken.json()["field"] == "username"
    short = client.put(f"{url}/agent2", json={"username": f"{tenant.id}-two", "password": "short"}, headers=admin)
    assert short.status_code == 422
    assert short.json()["field"] == "password"
    assert client.delete(f"{url}/agent1", headers=admin).status_code == 204
    assert client.delete(f"{url}/agent1", headers=admin).status_code == 404
    audit = client.get(f"/api/v1/tenants/{tenant.id}/audit-log", headers=admin)
    assert audit.status_code == 200, audit.text
    actions = [entry["action"] for entry in audit.json()]
    assert "desk_phone.set" in actions
    assert "desk_phone.deleted" in actions
    assert "long enough secret" not in audit.text
    assert row.ha1 not in audit.text


def test_voice_administration_is_for_the_tenant_s_administrators(tenant: Tenant) -> None:
    agent = tenant.agent("agent1", available=False)
    response = tenant.harness.client.get(f"/api/v1/tenants/{tenant.id}/voice/numbers", headers=agent)
    assert response.status_code in (401, 403)


def test_which_phone_rings_defaults_to_the_desk_phone_when_there_is_one_and_can_be_chosen(tenant: Tenant) -> None:
    client, admin = tenant.harness.client, tenant.harness.admin
    url = f"/api/v1/tenants/{tenant.id}/voice/phones"
    assert client.get(f"{url}/agent1", headers=admin).json() == {
        "agent_id": "agent1",
        "rings": "browser",
        "chosen": False,
        "desk_phone": None,
    }
    desk = client.put(
        f"/api/v1/tenants/{tenant.id}/voice/desk-phones/agent1",
        json={"username": f"{tenant.id}-a1", "password": "long enough secret"},
        headers=admin,
    )
    assert desk.status_code == 200, desk.text
    assert client.get(f"{url}/agent1", headers=admin).json()["rings"] == "desk"
    chosen = client.put(f"{url}/agent1", json={"rings": "browser"}, headers=admin)
    assert chosen.status_code == 200, chosen.text
    assert chosen.json() == {"agent_id": "agent1", "rings": "browser", "chosen": True, "desk_phone": f"{tenant.id}-a1"}
    wrong = client.put(f"{url}/agent1", json={"rings": "fax"}, headers=admin)
    assert wrong.status_code == 422
    assert wrong.json()["field"] == "rings"
    assert client.put(f"{url}/nobody", json={"rings": "desk"}, headers=admin).status_code == 404
    assert client.get(f"{url}/nobody", headers=admin).status_code == 404
    audit = client.get(f"/api/v1/tenants/{tenant.id}/audit-log", headers=admin)
    assert "agent_phone.set" in audit.text


def test_without_voice_the_softphone_says_why_it_is_not_available(tenant: Tenant) -> None:
    agent = tenant.agent("agent1", available=False)
    answer = tenant.harness.client.get("/api/v1/me/softphone", headers=agent)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["available"] is False
    assert body["voice"] is False
    assert body["rings"] == "browser"
    assert "voice" in body["reason"]
    assert body["password"] is None
    assert tenant.harness.client.get("/api/v1/me/softphone", headers=tenant.harness.admin).status_code == 403


def test_softphone_credentials_are_auth_ephemeral_ones_for_the_agents_own_sip_user() -> None:
    softphones = Softphones(ws_url="ws://127.0.0.1:5066/", domain="127.0.0.1", ttl_seconds=600, secret="s3cret")
    found = softphones.credentials("acme", "agent1", 1_800_000_000)
    user = softphone_user("acme", "agent1")
    assert found.username == f"1800000600:{user}"
    assert found.aor == f"sip:{user}@127.0.0.1"
    mac = hmac.new(b"s3cret", found.username.encode(), hashlib.sha1).digest()
    assert found.password == base64.b64encode(mac).decode()
    assert found.expires_at == 1_800_000_600
    assert softphone_user("acme", "agent2") != user
    assert softphone_user("other", "agent1") != user
