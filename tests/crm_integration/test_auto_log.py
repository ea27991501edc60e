"""Auto log end to end: completed interactions become exactly one activity in the real built-in CRM."""

from __future__ import annotations

import time

import httpx

from callbridge.store import crm_outbox
from tests.crm.crm_helpers import Crm, access_token_for
from tests.crm_integration.conftest import (
    CrmIds,
    CrmProxy,
    activities,
    configure,
    connect_crm,
    enable_auto_log,
)
from tests.crm_integration.flows import handle, outbox
from tests.e2e.conftest import Harness
from tests.waiting import wait_for

MARKER = "[Cut by Callbridge"


def ready(harness: Harness, crm: Crm) -> tuple[dict[str, str], dict[str, str]]:
    harness.setup_tenant("acme", agents=1)
    connect_crm(harness, crm)
    enable_auto_log(harness)
    agent = harness.sign_in("acme", "agent1")
    harness.client.put("/api/v1/me/status", json={"status": "available"}, headers=agent)
    return agent, harness.api_key("acme")


def sent(harness: Harness, iid: str) -> dict[str, object]:
    def done() -> bool:
        return any(r["interaction_id"] == iid and r["status"] == "sent" for r in outbox(harness))

    wait_for(done, "the log to be delivered")
    return next(r for r in outbox(harness) if r["interaction_id"] == iid)


def test_a_completed_call_becomes_exactly_one_activity_with_the_right_fields(
    harness: Harness, crm: Crm, crm_ids: CrmIds
) -> None:
    agent, pbx = ready(harness, crm)
    configure(harness)  # the pop on offer links the call to Grace
    iid = handle(harness, agent, pbx, notes="Wants a callback on Friday.", from_address="415.555.0100", linked=True)
    row = sent(harness, iid)
    mine = [a for a in activities(crm) if a.external_id == iid]
    assert len(mine) == 1
    activity = mine[0]
    assert str(activity.id) == row["activity_id"]
    assert activity.subject == "Inbound call from 415.555.0100"
    assert (activity.type, activity.direction, activity.disposition) == ("call", "inbound", "resolved")
    assert activity.contact_id == crm_ids.grace
    assert activity.start is not None
    assert activity.duration_seconds is not None
    assert activity.duration_seconds >= 0
    assert activity.comments is not None
    assert "Queue: Sales" in activity.comments
    assert "Agent: Agent 1" in activity.comments
    assert "Wants a callback on Friday." in activity.comments
    assert MARKER not in activity.comments
    # the relay ran again: still one activity
    harness.client.post(f"/api/v1/tenants/acme/auto-log/{iid}/retry", headers=harness.admin)
    assert len([a for a in activities(crm) if a.external_id == iid]) == 1


def test_a_call_completed_while_the_pop_still_searches_is_logged_against_the_record_it_finds(
    harness: Harness, crm: Crm, crm_ids: CrmIds
) -> None:
    proxy = CrmProxy(crm.base_url)
    try:
        harness.setup_tenant("acme", agents=1)
        connect_crm(harness, crm, base_url=proxy.url)
        enable_auto_log(harness)
        configure(harness, search_timeout_ms=10_000)  # the longest an admin may set
        agent = harness.sign_in("acme", "agent1")
        harness.client.put("/api/v1/me/status", json={"status": "available"}, headers=agent)
        # only another node's relay runs: it shares the outbox, not the searches of the node that pops
        relay = harness.client.app.state.crm_integration.relay  # type: ignore[attr-defined]
        harness.run(relay.stop())
        proxy.hold_searches()  # a slow CRM: the agent completes the call before the pop's search answers
        iid = handle(harness, agent, harness.api_key("acme"), from_address="415.555.0100")
        wait_for(lambda: proxy.searches_waiting == 1, "the pop's search to reach the CRM")
        engine = harness.services.engine
        assert crm_outbox.claim(engine, time.time(), lease_seconds=30, at_most=10) == [], "nothing is due yet"
        assert [r["status"] for r in outbox(harness) if r["interaction_id"] == iid] == ["pending"]
        proxy.release_searches()
        wait_for(lambda: (crm_outbox.next_due(engine) or 0.0) <= time.time(), "the log to be due when the search ends")
        harness.run(relay.start())
        row = sent(harness, iid)
        activity = next(a for a in activities(crm) if a.external_id == iid)
        assert str(activity.id) == row["activity_id"]
        assert activity.contact_id == crm_ids.grace, "the log waited for the pop's search and links its record"
    finally:
        proxy.close()


def test_a_long_multibyte_log_is_cut_at_a_character_boundary_and_kept_whole(harness: Harness, crm: Crm) -> None:
    agent, pbx = ready(harness, crm)
    notes = ("Ünïcödé ✓ 日本語のテキスト 🙂🚀 " * 400)[:4400]
    assert len(notes.encode("utf-8")) >= 10_000
    iid = handle(harness, agent, pbx, notes=notes, from_address="+1 303 555 0142")
    sent(harness, iid)
    activity = next(a for a in activities(crm) if a.external_id == iid)
    stored = activity.comments or ""
    encoded = stored.encode("utf-8")
    assert len(encoded) <= 4000
    assert encoded.decode("utf-8") == stored  # valid UTF-8, no broken character
    assert MARKER in stored
    assert stored.endswith(".]")
    # the full log: attached in the CRM, and kept by Callbridge
    token = access_token_for(crm)["access_token"]
    with httpx.Client(base_url=f"{crm.base_url}/api/v1", headers={"Authorization": f"Bearer {token}"}) as api:
        attachments = api.get(f"/activities/{activity.id}/attachments").json()["records"]
        assert [a["name"] for a in attachments] == [f"callbridge-log-{iid}.txt"]
        body = api.get(f"/attachments/{attachments[0]['id']}/body").content.decode("utf-8")
    log = harness.client.get(f"/api/v1/tenants/acme/interactions/{iid}/log", headers=harness.admin).json()
    assert notes.strip() in log["comments"]
    assert body == log["comments"]


def test_a_log_that_cannot_be_written_is_failed_with_the_reason_and_retried_by_an_admin(
    harness: Harness, crm: Crm
) -> None:
    harness.setup_tenant("acme", agents=1)
    # the integration user lacks "API Enabled"
    token = access_token_for(crm, "nia@example.com", scope="openid email crm.read crm.write offline_access")
    credentials = {
        "client_id": crm.client_id,
        "client_secret": crm.client_secret,
        "refresh_token": token["refresh_token"],
    }
    response = harness.client.put(
        "/api/v1/tenants/acme/crm-connections/builtin_crm",
        json={"config": {"base_url": crm.base_url}, "credentials": credentials},
        headers=harness.admin,
    )
    assert response.status_code == 200
    enable_auto_log(harness)
    agent = harness.sign_in("acme", "agent1")
    harness.client.put("/api/v1/me/status", json={"status": "available"}, headers=agent)
    iid = handle(harness, agent, harness.api_key("acme"), from_address="+14155550100")
    wait_for(lambda: bool(outbox(harness, "failed")), "the log to fail")
    failed = outbox(harness, "failed")[0]
    assert failed["interaction_id"] == iid
    assert "API Enabled" in failed["last_error"]
    assert failed["error_code"] == "API_DISABLED_FOR_USER"
    # the admin connects the CRM as a user with API access, then retries
    connect_crm(harness, crm)
    retried = harness.client.post(f"/api/v1/tenants/acme/auto-log/{iid}/retry", headers=harness.admin)
    assert retried.status_code == 200
    sent(harness, iid)
    assert len([a for a in activities(crm) if a.external_id == iid]) == 1
    assert outbox(harness, "failed") == []


def test_click_to_dial_creates_an_outbound_call_logged_against_the_clicked_record(
    harness: Harness, crm: Crm, crm_ids: CrmIds
) -> None:
    agent, _pbx = ready(harness, crm)
    configure(harness, triggers=["offered", "accepted"])
    c = harness.client
    call = c.post(
        "/api/v1/me/calls",
        json={
            "to_address": "(212) 555-0199",
            "record": {"object_type": "account", "record_id": str(crm_ids.account), "name": "Globex"},
        },
        headers=agent,
    )
    assert call.status_code == 201, call.text
    view = call.json()
    assert (view["direction"], view["state"], view["agent_id"]) == ("outbound", "connected", "agent1")
    me = c.get("/api/v1/me", headers=agent).json()
    assert me["agents"]["agent1"]["status"] == "busy"
    iid = view["id"]
    c.post(f"/api/v1/me/interactions/{iid}/end", json={}, headers=agent)
    c.post(f"/api/v1/me/interactions/{iid}/complete", json={"disposition": "left message"}, headers=agent)
    sent(harness, iid)
    activity = next(a for a in activities(crm) if a.external_id == iid)
    assert (activity.direction, activity.account_id, activity.contact_id) == ("outbound", crm_ids.account, None)
    assert activity.subject == "Outbound call to (212) 555-0199"
    # the old body (no record) still works
    plain = c.post("/api/v1/me/calls", json={"to_address": "+14155550100"}, headers=agent)
    assert plain.status_code in (201, 409)


def test_notes_saved_during_wrap_up_reach_the_crm_when_the_wrap_up_time_runs_out(harness: Harness, crm: Crm) -> None:
    """The agent types, the wrap-up time ends before Complete: the interaction completes with what they typed."""
    agent, pbx = ready(harness, crm)
    c = harness.client
    queue = {"name": "Sales", "channel": "phone", "wrap_up_seconds": 4}
    assert c.put("/api/v1/tenants/acme/queues/sales", json=queue, headers=harness.admin).status_code == 200
    iid = c.post("/api/v1/interactions", json={"queue_id": "sales", "channel": "phone"}, headers=pbx).json()["id"]
    assert c.post(f"/api/v1/me/offers/{iid}/accept", headers=agent).status_code == 200
    draft = {"disposition": "Follow-up needed", "notes": "Call back on Friday about the invoice."}
    assert c.put(f"/api/v1/me/interactions/{iid}/wrap-up", json=draft, headers=agent).status_code == 200
    assert c.post(f"/api/v1/me/interactions/{iid}/end", json={}, headers=agent).status_code == 200
    draft["notes"] += " Prefers e-mail."
    assert c.put(f"/api/v1/me/interactions/{iid}/wrap-up", json=draft, headers=agent).status_code == 200
    assert c.get(f"/api/v1/me/interactions/{iid}/wrap-up", headers=agent).json() == draft
    sent(harness, iid)  # completed by the timer, then logged
    activity = next(a for a in activities(crm) if a.external_id == iid)
    assert activity.disposition == "Follow-up needed"
    assert activity.comments is not None
    assert "Call back on Friday about the invoice. Prefers e-mail." in activity.comments
    late = c.put(f"/api/v1/me/interactions/{iid}/wrap-up", json=draft, headers=agent)
    assert late.status_code in (404, 409), late.text
