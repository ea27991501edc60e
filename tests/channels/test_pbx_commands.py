"""An outside PBX follows Callbridge's decisions through the signed command webhook: connect a call an agent
accepted, hang up, dial for click to dial, transfer to an outside number. Each is sent only when the admin says
the PBX follows it; a PBX that refuses changes nothing, or puts the call back where it was."""

from __future__ import annotations

from typing import Any

from tests.channels.conftest import Tenant
from tests.channels.test_hold import PbxStandIn, configure, connected_call, live, pbx  # noqa: F401 - the fixture
from tests.channels.test_telephony import incoming, send

EVERY_COMMAND = ["hold", "resume", "connect", "hang_up", "dial", "transfer"]


def offered(tenant: Tenant, call_id: str = "call-1") -> dict[str, str]:
    agent = tenant.agent("agent1")
    send(tenant, **incoming(event_id=f"{call_id}-in", call_id=call_id))
    assert live(tenant, call_id)["state"] == "offered"
    return agent


def sent(pbx: PbxStandIn) -> list[tuple[Any, ...]]:  # noqa: F811
    return [(c["command"], c["call_id"], c["agent_id"], c.get("to_address")) for c in pbx.commands]


def test_the_commands_followed_are_the_admins_choice_and_unknown_ones_are_refused_by_name(
    tenant: Tenant,
    pbx: PbxStandIn,  # noqa: F811
) -> None:
    saved = configure(tenant, pbx.url, commands=["connect", "resume", "hold"])
    assert saved.status_code == 200, saved.text
    assert saved.json()["commands"] == ["hold", "resume", "connect"]
    half = configure(tenant, pbx.url, commands=["hold", "connect"])  # a caller held could not be resumed
    assert half.status_code == 422
    assert (half.json()["field"], "hold and resume together" in half.json()["message"]) == ("commands", True)
    unknown = configure(tenant, pbx.url, commands=["hold", "teleport"])
    assert unknown.status_code == 422
    assert unknown.json()["field"].startswith("commands")
    settings = f"/api/v1/tenants/{tenant.id}/telephony/settings"
    assert tenant.harness.client.get(settings, headers=tenant.harness.admin).json()["commands"] == [
        "hold",
        "resume",
        "connect",
    ]


def test_accepting_in_the_console_asks_the_pbx_to_connect_the_call_to_the_agent(
    tenant: Tenant,
    pbx: PbxStandIn,  # noqa: F811
) -> None:
    assert configure(tenant, pbx.url, commands=EVERY_COMMAND).status_code == 200
    agent = offered(tenant)

    accepted = tenant.harness.client.post("/api/v1/me/offers/call-1/accept", headers=agent)

    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["state"] == "connected"
    assert sent(pbx) == [("connect", "call-1", "agent1", None)]
    answered = send(tenant, event_id="a1", type="call.answered", call_id="call-1", agent_id="agent1")
    assert answered.status_code == 200, answered.text
    assert answered.json()["applied"] is False, "the PBX's report repeats what Callbridge already knows"


def test_a_pbx_that_does_not_connect_the_call_leaves_it_ringing_for_the_agent_in_its_place(
    tenant: Tenant,
    pbx: PbxStandIn,  # noqa: F811
) -> None:
    assert configure(tenant, pbx.url, commands=["connect"]).status_code == 200
    agent = offered(tenant)
    before = live(tenant)
    pbx.status = 503

    refused = tenant.harness.client.post("/api/v1/me/offers/call-1/accept", headers=agent)

    assert refused.status_code == 503
    assert "connect the call to you" in refused.json()["message"]
    assert "still rings for you" in refused.json()["message"]
    after = live(tenant)
    assert (after["state"], after["agent_id"], after["queue_id"]) == ("offered", "agent1", "sales")
    assert after["enqueued_at"] == before["enqueued_at"], "the caller keeps their place"
    pbx.status = 200
    accepted = tenant.harness.client.post("/api/v1/me/offers/call-1/accept", headers=agent)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["state"] == "connected"
    assert [c[0] for c in sent(pbx)] == ["connect", "connect"]


def test_only_the_agent_a_call_rings_for_can_have_the_pbx_connect_it(
    tenant: Tenant,
    pbx: PbxStandIn,  # noqa: F811
) -> None:
    assert configure(tenant, pbx.url, commands=["connect"]).status_code == 200
    offered(tenant)
    other = tenant.agent("agent2")

    taken = tenant.harness.client.post("/api/v1/me/offers/call-1/accept", headers=other)

    assert taken.status_code == 409, taken.text
    assert pbx.commands == []
    assert live(tenant)["agent_id"] == "agent1"


def test_a_pbx_that_does_not_follow_connect_is_not_asked(tenant: Tenant, pbx: PbxStandIn) -> None:  # noqa: F811
    assert configure(tenant, pbx.url).status_code == 200  # hold and resume only, as before
    connected_call(tenant)
    assert pbx.commands == []


def test_hanging_up_in_the_console_asks_the_pbx_first_and_a_refusal_changes_nothing(
    tenant: Tenant,
    pbx: PbxStandIn,  # noqa: F811
) -> None:
    assert configure(tenant, pbx.url, commands=["hang_up"]).status_code == 200
    agent = connected_call(tenant)
    client = tenant.harness.client
    pbx.status = 500

    refused = client.post("/api/v1/me/interactions/call-1/end", json={"reason": "hangup"}, headers=agent)

    assert refused.status_code == 503
    assert "HTTP 500" in refused.json()["message"]
    assert live(tenant)["state"] == "connected"
    pbx.status = 200
    ended = client.post("/api/v1/me/interactions/call-1/end", json={"reason": "hangup"}, headers=agent)
    assert ended.status_code == 200, ended.text
    assert ended.json()["state"] == "wrap_up"
    assert [c[0] for c in sent(pbx)] == ["hang_up", "hang_up"]  # refused once, then done
    reported = send(tenant, event_id="end-1", type="call.ended", call_id="call-1")
    assert reported.status_code == 200, reported.text
    assert reported.json()["applied"] is False


def test_click_to_dial_asks_the_pbx_to_dial_and_a_refusal_ends_the_call_as_failed(
    tenant: Tenant,
    pbx: PbxStandIn,  # noqa: F811
) -> None:
    assert configure(tenant, pbx.url, commands=["dial"]).status_code == 200
    agent = tenant.agent("agent1")
    client = tenant.harness.client

    dialled = client.post("/api/v1/me/calls", json={"to_address": "+14155550199"}, headers=agent)

    assert dialled.status_code == 201, dialled.text
    call_id = dialled.json()["id"]
    assert sent(pbx) == [("dial", call_id, "agent1", "+14155550199")]
    client.post(f"/api/v1/me/interactions/{call_id}/end", json={"reason": "done"}, headers=agent)
    client.post(f"/api/v1/me/interactions/{call_id}/complete", json={"disposition": "", "notes": ""}, headers=agent)
    pbx.status = 502
    refused = client.post("/api/v1/me/calls", json={"to_address": "+14155550198"}, headers=agent)
    assert refused.status_code == 503
    assert "dial the number" in refused.json()["message"]
    ended = [i for i in tenant.snapshot()["interactions"].values() if i["to_address"] == "+14155550198"]  # type: ignore[attr-defined]
    assert all(i["state"] != "connected" for i in ended), "a call nobody dialled is not left connected"


def test_transferring_to_an_outside_number_goes_through_a_pbx_that_follows_transfer(
    tenant: Tenant,
    pbx: PbxStandIn,  # noqa: F811
) -> None:
    client = tenant.harness.client
    assert configure(tenant, pbx.url).status_code == 200
    agent = connected_call(tenant)
    transfer = "/api/v1/me/interactions/call-1/transfer"
    not_followed = client.post(transfer, json={"target": "+14155550177"}, headers=agent)
    assert not_followed.status_code == 409
    assert "transfer command" in not_followed.json()["message"]
    assert configure(tenant, pbx.url, commands=["transfer"]).status_code == 200
    pbx.status = 500
    assert client.post(transfer, json={"target": "+14155550177"}, headers=agent).status_code == 503
    assert live(tenant)["state"] == "connected"
    pbx.status = 200

    moved = client.post(transfer, json={"target": "+14155550177"}, headers=agent)

    assert moved.status_code == 204, moved.text
    assert sent(pbx)[-1] == ("transfer", "call-1", "agent1", "+14155550177")
    assert client.post(transfer, json={"target": "+14155550177"}, headers=tenant.agent("agent2")).status_code == 409


def test_the_settings_kept_in_memory_follow_each_save_and_the_removal_of_the_webhook(
    tenant: Tenant,
    pbx: PbxStandIn,  # noqa: F811
) -> None:
    client = tenant.harness.client
    assert configure(tenant, pbx.url).status_code == 200  # hold and resume: accepting asks nothing
    agent = offered(tenant, "call-1")
    assert client.post("/api/v1/me/offers/call-1/accept", headers=agent).status_code == 200
    assert pbx.commands == []
    assert configure(tenant, pbx.url, commands=["connect"]).status_code == 200
    agent2 = tenant.agent("agent2")
    send(tenant, **incoming(event_id="call-2-in", call_id="call-2"))
    assert client.post("/api/v1/me/offers/call-2/accept", headers=agent2).status_code == 200
    assert sent(pbx) == [("connect", "call-2", "agent2", None)]
    settings = f"/api/v1/tenants/{tenant.id}/telephony/settings"
    removed = client.put(settings, json={"webhook_url": None}, headers=tenant.harness.admin)
    assert removed.status_code == 200, removed.text

    held = client.post("/api/v1/me/interactions/call-2/hold", headers=agent2)

    assert held.status_code == 503
    assert "no telephony command webhook" in held.json()["message"]
    assert len(pbx.commands) == 1
