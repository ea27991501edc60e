from tests.e2e.conftest import Harness


def test_an_inbound_call_is_offered_accepted_and_completed(harness: Harness) -> None:
    harness.setup_tenant("acme")
    agent = harness.sign_in("acme", "agent1")
    pbx = harness.api_key("acme")
    c = harness.client
    assert c.put("/api/v1/me/status", json={"status": "available"}, headers=agent).status_code == 200
    created = c.post(
        "/api/v1/interactions",
        json={"queue_id": "sales", "channel": "phone", "from_address": "+14155550100"},
        headers=pbx,
    )
    assert created.status_code == 201, created.text
    interaction = created.json()
    assert interaction["state"] == "offered"
    assert interaction["agent_id"] == "agent1"
    accepted = c.post(f"/api/v1/me/offers/{interaction['id']}/accept", headers=agent)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["state"] == "connected"
    assert c.get("/api/v1/me", headers=agent).json()["agents"]["agent1"]["status"] == "busy"
    ended = c.post(f"/api/v1/interactions/{interaction['id']}/end", json={"reason": "hangup"}, headers=pbx)
    assert ended.json()["state"] == "wrap_up"
    done = c.post(
        f"/api/v1/me/interactions/{interaction['id']}/complete",
        json={"disposition": "sold", "notes": "wants a callback"},
        headers=agent,
    )
    assert done.status_code == 204, done.text
    final = c.get(f"/api/v1/interactions/{interaction['id']}", headers=pbx).json()
    assert final["state"] == "completed"
    assert final["disposition"] == "sold"
    assert c.get("/api/v1/me", headers=agent).json()["agents"]["agent1"]["status"] == "available"
