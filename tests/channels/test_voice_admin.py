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
    assert listed.json() == [{"number": "+18005550100", "queue_id": "sales", "greeting_id": None, "menu": None}]
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


def put_menu(tenant: Tenant, number: str, body: object) -> Any:
    return tenant.harness.client.put(
        f"/api/v1/tenants/{tenant.id}/voice/numbers/{number}/menu", json=body, headers=tenant.harness.admin
    )


def billing_queue(tenant: Tenant) -> None:
    created = tenant.harness.client.post(
        f"/api/v1/tenants/{tenant.id}/queues",
        json={"id": "billing", "name": "Billing", "channel": "phone"},
        headers=tenant.harness.admin,
    )
    assert created.status_code == 201, created.text


def test_a_number_answers_with_a_menu_whose_keys_choose_queues(tenant: Tenant) -> None:
    client, admin = tenant.harness.client, tenant.harness.admin
    billing_queue(tenant)
    assert put_number(tenant, "+18005550110", queue_id="sales").status_code == 200
    body = {"options": [{"digit": "2", "queue_id": "billing"}, {"digit": "1", "queue_id": "sales"}], "attempts": 2}
    saved = put_menu(tenant, "+18005550110", body)
    assert saved.status_code == 200, saved.text
    menu = {
        "options": [{"digit": "1", "queue_id": "sales"}, {"digit": "2", "queue_id": "billing"}],
        "greeting_id": None,
        "attempts": 2,
        "wait_seconds": 5,
        "default_queue_id": "sales",
    }
    assert saved.json() == menu
    url = f"/api/v1/tenants/{tenant.id}/voice/numbers/+18005550110/menu"
    assert client.get(url, headers=admin).json() == menu
    listed = client.get(f"/api/v1/tenants/{tenant.id}/voice/numbers", headers=admin).json()
    assert listed[0]["menu"] == menu
    # changing the number's queue keeps its menu; the number's queue is the menu's default
    assert put_number(tenant, "+18005550110", queue_id="billing").json()["menu"]["default_queue_id"] == "billing"
    assert client.delete(url, headers=admin).status_code == 204
    assert client.get(url, headers=admin).status_code == 404
    assert client.delete(url, headers=admin).status_code == 404
    actions = [entry["action"] for entry in client.get(f"/api/v1/tenants/{tenant.id}/audit-log", headers=admin).json()]
    assert {"voice_menu.set", "voice_menu.deleted"} <= set(actions)


def test_a_menu_is_refused_by_field_and_nothing_changes(tenant: Tenant) -> None:
    client, admin = tenant.harness.client, tenant.harness.admin
    assert put_number(tenant, "+18005550111", queue_id="sales").status_code == 200
    good = {"options": [{"digit": "1", "queue_id": "sales"}]}
    sales_and = [{"digit": "1", "queue_id": "sales"}]
    assert put_menu(tenant, "+18005550111", good).status_code == 200
    refusals = {
        "options": {"options": []},
        "options.0.digit": {"options": [{"digit": "A", "queue_id": "sales"}]},
        "options[1].digit": {"options": [*sales_and, {"digit": "1", "queue_id": "sales"}]},
        "options[0].queue_id": {"options": [{"digit": "9", "queue_id": "nowhere"}]},
        "options[1].queue_id": {"options": [*sales_and, {"digit": "2", "queue_id": "support"}]},
        "greeting_id": {"options": [{"digit": "1", "queue_id": "sales"}], "greeting_id": "no-such-greeting"},
        "attempts": {"options": [{"digit": "1", "queue_id": "sales"}], "attempts": 9},
        "wait_seconds": {"options": [{"digit": "1", "queue_id": "sales"}], "wait_seconds": 0},
    }
    for field, body in refusals.items():
        refused = put_menu(tenant, "+18005550111", body)
        assert refused.status_code == 422, (field, refused.text)
        assert refused.json()["field"] == field, refused.text
    url = f"/api/v1/tenants/{tenant.id}/voice/numbers/+18005550111/menu"
    assert client.get(url, headers=admin).json()["options"] == [{"digit": "1", "queue_id": "sales"}]
    # another tenant's queue is no queue here; another tenant's number is no number here
    other = new_tenant(tenant.harness)
    billing_queue(other)
    assert put_menu(tenant, "+18005550111", {"options": [{"digit": "1", "queue_id": "billing"}]}).status_code == 422
    assert put_menu(other, "+18005550111", good).status_code == 404
    assert put_menu(tenant, "+18005550199", good).status_code == 404
    # the number's removal takes its menu with it
    assert client.delete(f"/api/v1/tenants/{tenant.id}/voice/numbers/+18005550111", headers=admin).status_code == 204
    assert put_number(tenant, "+18005550111", queue_id="sales").json()["menu"] is None


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
