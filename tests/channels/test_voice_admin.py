"""Voice administration (numbers, desk phones): stored and validated whether or not voice runs here."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from callbridge.channels.sip.directory import digest_ha1
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
