"""Named operations and their errors survive the trip between nodes as JSON, unchanged."""

from __future__ import annotations

import json

import pytest

from callbridge.channels.base import CommandFailed, TelephonyEvent
from callbridge.channels.hold import HoldCall
from callbridge.channels.telephony import HandleTelephonyEvent, TelephonyOutcome
from callbridge.domain import commands as cmd
from callbridge.domain.errors import InvalidTransition, NoCapacity, NotFound
from callbridge.domain.model import AgentStatus, Channel
from callbridge.services.configuration import Conflict, InvalidField, UnknownReference
from callbridge.services.node import InteractionIdTaken, StoreUnavailable, TenantMoved
from callbridge.services.operations import (
    COMMANDS,
    OPERATIONS,
    CheckDisposition,
    ExecuteCommand,
    ReadInteraction,
    ReadSnapshot,
    RemoteError,
    ResolveTransferTarget,
    SubmitInteraction,
    UnknownOperation,
    decode,
    decode_error,
    encode_error,
)


def across(value: object) -> object:
    return json.loads(json.dumps(value))


@pytest.mark.parametrize(
    "command",
    [
        cmd.SetPresence("a1", AgentStatus.BREAK, "lunch"),
        cmd.AcceptOffer("a1", "i1"),
        cmd.StartOutbound("i2", "a1", "+14155550100", queue_id="sales", data={"k": "v"}, wrap_up_seconds=5),
        cmd.SubmitInteraction("i3", "sales", Channel.CHAT, data={"name": "Ann"}, priority=3),
        cmd.CompleteInteraction("a1", "i1", "sold", "notes"),
        cmd.TransferToAgent("a1", "i1", "a2"),
        cmd.TransferOut("a1", "i1", "+14155550199"),
    ],
)
def test_a_command_crosses_as_itself(command: cmd.Command) -> None:
    operation = decode(across(ExecuteCommand.of(command).encode()))  # type: ignore[arg-type]
    assert isinstance(operation, ExecuteCommand)
    assert operation.to_command() == command


def test_the_nodes_own_commands_do_not_cross() -> None:
    assert "Tick" not in COMMANDS
    with pytest.raises(UnknownOperation):
        ExecuteCommand.of(cmd.Tick())


@pytest.mark.parametrize(
    "operation",
    [
        ReadSnapshot(agent_id=None),
        ReadInteraction(interaction_id="i1", of_agent="a1", missing_ok=True),
        CheckDisposition(agent_id="a1", interaction_id="i1", disposition=""),
        ResolveTransferTarget(target="sales"),
        SubmitInteraction(interaction_id="i1", queue_id="sales", channel=Channel.PHONE, id_chosen=True),
        HandleTelephonyEvent(
            event=TelephonyEvent("e1", "call.incoming", "c1", queue_id="sales", data={"digits": "12"}, priority=2),
            fingerprint="f",
        ),
        HoldCall(interaction_id="i1", agent_id="a1", held=False),
    ],
)
def test_every_operation_is_found_by_its_name(operation: object) -> None:
    assert decode(across(operation.encode())) == operation  # type: ignore[attr-defined, arg-type]
    assert OPERATIONS[operation.name] is type(operation)  # type: ignore[attr-defined]


def test_an_unknown_operation_is_refused() -> None:
    with pytest.raises(UnknownOperation):
        decode({"op": "format_disk", "args": {}})


@pytest.mark.parametrize(
    "error",
    [
        NotFound("interaction", "i1"),
        InvalidTransition("offer expired"),
        NoCapacity("full"),
        Conflict("already exists", "id"),
        UnknownReference("no such queue", "queue_id"),
        InvalidField("choose one", "disposition"),
        InteractionIdTaken("i1"),
        TenantMoved("acme", "node-b", "http://b"),
        StoreUnavailable("try again"),
        CommandFailed("the PBX answered 500"),
    ],
)
def test_an_error_crosses_as_itself(error: Exception) -> None:
    back = decode_error(across(encode_error(error)))  # type: ignore[arg-type]
    assert type(back) is type(error)
    assert str(back) == str(error)
    assert getattr(back, "field", None) == getattr(error, "field", None)


def test_an_unnamed_error_crosses_as_a_remote_error() -> None:
    back = decode_error(across(encode_error(ZeroDivisionError("division by zero"))))  # type: ignore[arg-type]
    assert isinstance(back, RemoteError)
    assert "ZeroDivisionError" in str(back)


def test_a_telephony_answer_crosses_with_its_replay_flag() -> None:
    operation = HandleTelephonyEvent(event=TelephonyEvent("e1", "call.ended", "c1"), fingerprint="f")
    outcome = TelephonyOutcome({"applied": False, "interaction": None}, replayed=True)
    assert operation.decode_result(operation.encode_result(outcome)) == outcome  # as JSON bytes
