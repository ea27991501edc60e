"""Screen pops end to end: a real built-in CRM over HTTP, Callbridge in process, the agent's WebSocket."""

from __future__ import annotations

from typing import Any

from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from callbridge_crm.records import create_record
from tests.crm.crm_helpers import Crm
from tests.crm_integration.conftest import CrmIds, configure, connect_crm, next_pop, open_events
from tests.e2e.conftest import Harness
from tests.waiting import wait_for


def ready_agent(harness: Harness, crm: Crm) -> tuple[dict[str, str], dict[str, str]]:
    harness.setup_tenant("acme", agents=1)
    connect_crm(harness, crm)
    agent = harness.sign_in("acme", "agent1")
    assert harness.client.put("/api/v1/me/status", json={"status": "available"}, headers=agent).status_code == 200
    return agent, harness.api_key("acme")


def arrive(harness: Harness, pbx: dict[str, str], **body: Any) -> str:
    response = harness.client.post(
        "/api/v1/interactions", json={"queue_id": "sales", "channel": "phone", **body}, headers=pbx
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def test_a_call_from_a_number_stored_in_another_format_pops_the_contact_on_offer(
    harness: Harness, crm: Crm, crm_ids: CrmIds
) -> None:
    agent, pbx = ready_agent(harness, crm)
    configure(harness, window={"width": 800, "height": 600, "reuse": True})
    with open_events(harness, agent) as ws:
        ws.receive_text()  # init
        iid = arrive(harness, pbx, from_address="+1 415-555-0100")
        pop = next_pop(ws, iid)
    assert pop["trigger"] == "offered"
    assert pop["agent_id"] == "agent1"
    assert pop["matches"] == 1
    assert pop["timed_out"] is False
    assert pop["target"]["kind"] == "record"
    assert pop["target"]["object_type"] == "contact"
    assert pop["target"]["record_id"] == str(crm_ids.grace)
    assert pop["target"]["url"] == f"{crm.base_url}/records/contact/{crm_ids.grace}"
    assert pop["window"] == {"width": 800, "height": 600, "reuse": True}
    # the popped record is the one the activity will be linked to
    harness.client.post(f"/api/v1/me/offers/{iid}/accept", headers=agent)
    # the link is stored just after the pop goes out (the pop is not held up by the write)

    def linked_record() -> Any:
        return harness.client.get(f"/api/v1/me/interactions/{iid}/crm-record", headers=agent).json()

    wait_for(lambda: linked_record() is not None, "the popped record's link")
    linked = linked_record()
    assert linked == {"object_type": "contact", "record_id": str(crm_ids.grace), "name": "Grace Hopper"}


def test_several_matches_pop_the_search_results_and_none_a_prefilled_new_contact(
    harness: Harness, crm: Crm, crm_ids: CrmIds
) -> None:
    agent, pbx = ready_agent(harness, crm)
    configure(harness)
    with open_events(harness, agent) as ws:
        ws.receive_text()
        many = arrive(harness, pbx, from_address="(650) 555-0123")
        pop = next_pop(ws, many)
        assert pop["matches"] == 2
        assert pop["target"]["kind"] == "search"
        assert pop["target"]["query"] == "(650) 555-0123"
        assert pop["target"]["url"].startswith(f"{crm.base_url}/search?q=")
        harness.client.post(f"/api/v1/me/offers/{many}/accept", headers=agent)
        harness.client.post(f"/api/v1/me/interactions/{many}/complete", json={}, headers=agent)
        harness.client.put("/api/v1/me/status", json={"status": "available"}, headers=agent)
        none = arrive(
            harness, pbx, from_address="+1 303 555 0142", data={"name": "Ada Lovelace", "email": "ada@example.com"}
        )
        pop = next_pop(ws, none)
    assert pop["matches"] == 0
    assert pop["target"]["kind"] == "new_record"
    assert pop["target"]["object_type"] == "contact"
    assert pop["target"]["prefill"] == {"phone": "+1 303 555 0142", "name": "Ada Lovelace", "email": "ada@example.com"}
    assert pop["target"]["url"].startswith(f"{crm.base_url}/new/contact?")
    assert "name=Ada+Lovelace" in pop["target"]["url"]


def test_a_chat_with_a_case_number_pops_the_case(harness: Harness, crm: Crm, crm_ids: CrmIds) -> None:
    agent, pbx = ready_agent(harness, crm)
    configure(harness)
    with open_events(harness, agent) as ws:
        ws.receive_text()
        response = harness.client.post(
            "/api/v1/interactions",
            json={"queue_id": "support", "channel": "chat", "case_number": str(int(crm_ids.case_number))},
            headers=pbx,
        )
        pop = next_pop(ws, response.json()["id"])
    assert pop["target"]["kind"] == "record"
    assert pop["target"]["object_type"] == "case"
    assert pop["target"]["record_id"] == str(crm_ids.case)


def test_a_custom_rule_pops_by_interaction_data(harness: Harness, crm: Crm, crm_ids: CrmIds) -> None:
    agent, pbx = ready_agent(harness, crm)
    configure(harness, rules=[{"data_key": "account_phone", "object_type": "account", "field": "phone"}])
    with open_events(harness, agent) as ws:
        ws.receive_text()
        # the caller id matches nobody; the IVR collected the account's number
        iid = arrive(harness, pbx, from_address="+1 999 555 0000", data={"account_phone": "212.555.0199"})
        pop = next_pop(ws, iid)
    assert pop["target"]["kind"] == "record"
    assert (pop["target"]["object_type"], pop["target"]["record_id"]) == ("account", str(crm_ids.account))


def test_triggers_on_accept_only_and_on_complete_only(harness: Harness, crm: Crm, crm_ids: CrmIds) -> None:
    agent, pbx = ready_agent(harness, crm)
    configure(harness, triggers=["accepted"])
    seen: list[dict[str, Any]] = []
    with open_events(harness, agent) as ws:
        ws.receive_text()
        first = arrive(harness, pbx, from_address="+14155550100")
        harness.client.post(f"/api/v1/me/offers/{first}/accept", headers=agent)
        pop = next_pop(ws, first, seen)
        assert [p["trigger"] for p in seen] == ["accepted"]
        assert pop["target"]["record_id"] == str(crm_ids.grace)
        configure(harness, triggers=["completed"])
        harness.client.post(f"/api/v1/me/interactions/{first}/end", json={}, headers=agent)
        harness.client.post(f"/api/v1/me/interactions/{first}/complete", json={}, headers=agent)
        seen.clear()
        pop = next_pop(ws, first, seen)
        assert [p["trigger"] for p in seen] == ["completed"]


def test_settings_are_validated_naming_the_field(harness: Harness) -> None:
    harness.setup_tenant("acme", agents=1)
    c, h = harness.client, harness.admin
    bad = c.put("/api/v1/tenants/acme/screen-pop", json={"triggers": ["ringing"]}, headers=h)
    assert bad.status_code == 422
    assert bad.json()["field"].startswith("triggers")
    bad = c.put("/api/v1/tenants/acme/screen-pop", json={"window": {"width": 5}}, headers=h)
    assert bad.json()["field"] == "window.width"
    bad = c.put("/api/v1/tenants/acme/screen-pop", json={"all_agents": False, "agent_ids": ["ghost"]}, headers=h)
    assert bad.json()["field"] == "agent_ids"
    bad = c.put("/api/v1/tenants/acme/screen-pop", json={"crm": "nosuchcrm"}, headers=h)
    assert bad.json()["field"] == "crm"
    good = c.put(
        "/api/v1/tenants/acme/screen-pop", json={"enabled": True, "triggers": ["offered", "completed"]}, headers=h
    )
    assert good.status_code == 200
    assert c.get("/api/v1/tenants/acme/screen-pop", headers=h).json()["triggers"] == ["offered", "completed"]


def test_an_agent_cannot_read_the_record_a_colleague_was_popped(harness: Harness, crm: Crm, crm_ids: CrmIds) -> None:
    harness.setup_tenant("acme", agents=2)
    connect_crm(harness, crm)
    configure(harness)
    owner, colleague = harness.sign_in("acme", "agent1"), harness.sign_in("acme", "agent2")
    assert harness.client.put("/api/v1/me/status", json={"status": "available"}, headers=owner).status_code == 200
    pbx = harness.api_key("acme")
    iid = arrive(harness, pbx, from_address="+1 415-555-0100")
    assert harness.client.post(f"/api/v1/me/offers/{iid}/accept", headers=owner).status_code == 200

    def record(headers: dict[str, str]) -> Any:
        return harness.client.get(f"/api/v1/me/interactions/{iid}/crm-record", headers=headers)

    wait_for(lambda: record(owner).json() is not None, "the owner's record")
    refused = record(colleague)
    assert refused.status_code == 404, refused.text
    assert "record_id" not in refused.text
    # once the call has ended, it is still the owner's and still not the colleague's
    assert harness.client.post(f"/api/v1/me/interactions/{iid}/end", json={}, headers=owner).status_code == 200
    done = harness.client.post(f"/api/v1/me/interactions/{iid}/complete", json={}, headers=owner)
    assert done.status_code == 204, done.text
    assert record(owner).json()["record_id"] == str(crm_ids.grace)
    assert record(colleague).status_code == 404
    assert harness.client.get("/api/v1/me/interactions/nobody/crm-record", headers=owner).status_code == 404


def _contact(crm: Crm, first_name: str, phone: str) -> int:
    """A contact created in the CRM, whose own default region is US."""
    engine = create_engine(crm.database_url)
    with Session(engine) as session:
        contact = create_record(
            session, "contact", {"first_name": first_name, "last_name": "Byron", "phone": phone}, "US"
        )
        session.commit()
        contact_id = contact.id
    engine.dispose()
    return contact_id


def test_the_regions_say_how_numbers_without_a_country_code_are_read(harness: Harness, crm: Crm) -> None:
    """The tenant's phone_region reads caller ids; the connection's default_region reads the CRM's numbers."""
    ada = _contact(crm, "Ada", "+44 20 7946 0018")
    anne = _contact(crm, "Anne", "020 7183 8750")  # typed without a country code
    harness.setup_tenant("acme", agents=1)
    connect_crm(harness, crm)
    tenant = harness.client.get("/api/v1/tenants/acme", headers=harness.admin).json()
    changed = harness.client.put("/api/v1/tenants/acme", json={**tenant, "phone_region": "GB"}, headers=harness.admin)
    assert changed.status_code == 200, changed.text
    configure(harness)
    agent = harness.sign_in("acme", "agent1")
    pbx = harness.api_key("acme")
    c = harness.client

    def pop_for(ws: Any, caller: str) -> dict[str, Any]:
        assert c.put("/api/v1/me/status", json={"status": "available"}, headers=agent).status_code == 200
        iid = arrive(harness, pbx, from_address=caller)
        pop = next_pop(ws, iid)
        c.post(f"/api/v1/me/offers/{iid}/accept", headers=agent)
        c.post(f"/api/v1/me/interactions/{iid}/complete", json={}, headers=agent)
        return pop

    with open_events(harness, agent) as ws:
        ws.receive_text()
        # a British PBX sends the caller id without +44: read in the tenant's region (GB)
        pop = pop_for(ws, "020 7946 0018")
        assert (pop["matches"], pop["target"]["record_id"]) == (1, str(ada))
        # the CRM's number without a country code is read in its own region (US) only: not found
        assert pop_for(ws, "+442071838750")["matches"] == 0
        # ... until the connection says the CRM's numbers are British
        connect_crm(harness, crm, default_region="GB")
        pop = pop_for(ws, "+442071838750")
        assert (pop["matches"], pop["target"]["record_id"]) == (1, str(anne))
