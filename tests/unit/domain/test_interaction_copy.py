"""Changed interactions leave the domain as copies: equal in every field, sharing nothing mutable."""

from __future__ import annotations

from dataclasses import fields

from callbridge.domain.model import Channel, Direction, Interaction, InteractionState


def test_a_copy_is_equal_in_every_field_and_owns_its_data() -> None:
    original = Interaction(
        "call-1",
        Channel.PHONE,
        Direction.INBOUND,
        "sales",
        10.0,
        from_address="+14155550100",
        case_number="00001026",
        data={"account": "Globex"},
        priority=3,
        state=InteractionState.CONNECTED,
        agent_id="agent1",
        connected_at=12.5,
        notes="callback Friday",
    )
    # every field set to a value of its own, so a field copied into the wrong place cannot go unseen
    for index, f in enumerate(fields(Interaction)):
        if f.type in ("str", "str | None"):
            setattr(original, f.name, f"{f.name}-{index}")
        elif f.type in ("float", "float | None"):
            setattr(original, f.name, float(index))
        elif f.type == "int":
            setattr(original, f.name, index)

    copied = original.copy()

    assert copied == original
    assert {f.name: getattr(copied, f.name) for f in fields(Interaction)} == {
        f.name: getattr(original, f.name) for f in fields(Interaction)
    }
    assert copied.data is not original.data
    original.data = {**original.data, "later": "change"}
    original.state = InteractionState.COMPLETED
    assert copied.data == {"account": "Globex"}
    assert copied.state is InteractionState.CONNECTED
