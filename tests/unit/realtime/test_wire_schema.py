"""The schema the browser code's types are generated from names every wire model, with every field required."""

from __future__ import annotations

from callbridge.realtime import wire
from callbridge.realtime.wire_schema import UNIONS, wire_models, wire_schema


def test_every_wire_model_and_union_has_a_definition() -> None:
    definitions = wire_schema()["$defs"]
    names = {model.__name__ for model in wire_models()}
    assert {"Snapshot", "InteractionView", "ChatMessageEvent", "ScreenPopRequestedEvent"} <= names
    assert names | set(UNIONS) <= set(definitions)


def test_every_field_is_required_because_the_server_always_sends_it() -> None:
    definitions = wire_schema()["$defs"]
    agent = definitions["AgentView"]
    assert set(agent["required"]) == set(wire.AgentView.model_fields)
    assert "presence" in agent["required"], "a field with a default is still always sent"
    assert all("title" not in field for field in agent["properties"].values())


def test_unions_name_their_members_so_the_browser_can_narrow_on_type() -> None:
    console_event = wire_schema()["$defs"]["ConsoleEvent"]
    members = {ref["$ref"].rsplit("/", 1)[1] for ref in console_event["anyOf"]}
    assert members == {
        "AgentStatusChangedEvent",
        "AgentsChangedEvent",
        "InteractionChangedEvent",
        "OfferEndedEvent",
        "QueueChangedEvent",
        "WallboardQueueStatsEvent",
        "ChatMessageEvent",
        "ChatTypingEvent",
        "ChatDeliveredEvent",
        "ScreenPopRequestedEvent",
    }
