"""Voicemail deposit (type sniffing, size limit, durable file) and playback with range requests."""

from __future__ import annotations

import io
import logging
import wave
from typing import Any

import pytest

from callbridge.channels.voicemail import UnsupportedAudio, sniff_audio
from tests.channels.conftest import Tenant


def wav_bytes(seconds: float = 0.5, rate: int = 8000) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(b"\x00\x01" * int(seconds * rate))
    return buffer.getvalue()


MP3 = b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x64" + b"\x00" * 400
MP3_NO_TAG = b"\xff\xfb\x90\x64" + b"\x00" * 400
OGG = b"OggS\x00\x02" + b"\x00" * 400


def deposit(tenant: Tenant, audio: bytes, filename: str = "vm.wav", **fields: Any) -> Any:
    form = {"queue_id": "messages", "from_address": "+14155550100", "to_address": "+18005550000", **fields}
    return tenant.harness.client.post(
        "/api/v1/voicemails",
        data=form,
        files={"audio": (filename, audio, "application/octet-stream")},
        headers=tenant.pbx,
    )


@pytest.mark.parametrize(
    ("head", "content_type"),
    [(wav_bytes(0.01), "audio/wav"), (MP3, "audio/mpeg"), (MP3_NO_TAG, "audio/mpeg"), (OGG, "audio/ogg")],
)
def test_the_type_is_read_from_the_first_bytes(head: bytes, content_type: str) -> None:
    assert sniff_audio(head[:16]).content_type == content_type


@pytest.mark.parametrize("head", [b"", b"<html><script>", b"RIFF\x00\x00\x00\x00AVI ", b"\xff\xff\xff", b"fLaC\x00"])
def test_anything_else_is_refused(head: bytes) -> None:
    with pytest.raises(UnsupportedAudio):
        sniff_audio(head)


def test_a_deposited_voicemail_is_stored_and_queued_with_caller_and_called_numbers(tenant: Tenant) -> None:
    audio = wav_bytes(1.5)
    response = deposit(tenant, audio, transcription="Please call me back about my invoice.")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["content_type"] == "audio/wav"
    assert body["bytes"] == len(audio)
    assert body["duration_seconds"] == 1.5
    assert body["transcription"] == "Please call me back about my invoice."
    interaction = tenant.snapshot()["interactions"][body["interaction_id"]]  # type: ignore[index]
    assert interaction["channel"] == "voicemail"
    assert interaction["state"] == "queued"
    assert interaction["from_address"] == "+14155550100"
    assert interaction["to_address"] == "+18005550000"
    stored = tenant.harness.services.settings.data_dir / "voicemail" / tenant.id / f"{body['interaction_id']}.wav"
    assert stored.read_bytes() == audio
    assert not [p for p in stored.parent.iterdir() if p.name.endswith(".tmp")]


@pytest.fixture
def offered(tenant: Tenant) -> tuple[Tenant, dict[str, str], str, bytes]:
    agent = tenant.agent("agent1")
    audio = wav_bytes(2.0)
    interaction_id = deposit(tenant, audio, id="vm-1").json()["interaction_id"]
    return tenant, agent, interaction_id, audio


def test_the_agent_offered_the_voicemail_plays_it_with_range_requests(
    offered: tuple[Tenant, dict[str, str], str, bytes],
) -> None:
    tenant, agent, interaction_id, audio = offered
    client = tenant.harness.client
    details = client.get(f"/api/v1/me/voicemail/{interaction_id}", headers=agent)
    assert details.status_code == 200, details.text
    url = details.json()["audio_url"]
    assert url == f"/api/v1/me/voicemail/{interaction_id}/audio"
    whole = client.get(url, headers=agent)
    assert whole.status_code == 200
    assert whole.headers["content-type"] == "audio/wav"
    assert whole.headers["accept-ranges"] == "bytes"
    assert whole.content == audio
    part = client.get(url, headers={**agent, "Range": "bytes=4-11"})
    assert part.status_code == 206
    assert part.content == audio[4:12]
    assert part.headers["content-range"] == f"bytes 4-11/{len(audio)}"
    tail = client.get(url, headers={**agent, "Range": f"bytes={len(audio) - 10}-"})
    assert tail.status_code == 206
    assert tail.content == audio[-10:]
    beyond = client.get(url, headers={**agent, "Range": f"bytes={len(audio) + 10}-"})
    assert beyond.status_code == 416


def test_other_agents_cannot_play_it_but_supervisors_can(offered: tuple[Tenant, dict[str, str], str, bytes]) -> None:
    tenant, _agent, interaction_id, audio = offered
    client = tenant.harness.client
    other = tenant.agent("agent2", available=False)
    assert client.get(f"/api/v1/me/voicemail/{interaction_id}/audio", headers=other).status_code == 404
    supervisor_url = f"/api/v1/tenants/{tenant.id}/voicemail/{interaction_id}/audio"
    played = client.get(supervisor_url, headers={**tenant.harness.admin, "Range": "bytes=0-3"})
    assert played.status_code == 206
    assert played.content == b"RIFF"


def test_the_agent_who_handled_it_can_still_play_it_after_completion(
    offered: tuple[Tenant, dict[str, str], str, bytes],
) -> None:
    tenant, agent, interaction_id, audio = offered
    client = tenant.harness.client
    assert client.post(f"/api/v1/me/offers/{interaction_id}/accept", headers=agent).status_code == 200
    assert client.post(f"/api/v1/me/interactions/{interaction_id}/complete", json={}, headers=agent).status_code == 204
    assert client.get(f"/api/v1/me/voicemail/{interaction_id}/audio", headers=agent).content == audio


@pytest.mark.parametrize(
    ("audio", "fields", "status", "field"),
    [
        (b"<script>alert(1)</script>" + b"\x00" * 64, {}, 415, "audio"),
        (b"", {}, 422, "audio"),
        (MP3, {"queue_id": "sales"}, 409, "queue_id"),
        (MP3, {"queue_id": "nowhere"}, 422, "queue_id"),
        (MP3, {"queue_id": ""}, 422, "queue_id"),
        (MP3, {"duration_seconds": "-1"}, 422, "duration_seconds"),
        (MP3, {"colour": "blue"}, 422, "colour"),
    ],
)
def test_bad_deposits_are_refused_naming_the_field_and_leave_nothing_behind(
    tenant: Tenant, audio: bytes, fields: dict[str, str], status: int, field: str
) -> None:
    response = deposit(tenant, audio, **fields)
    assert response.status_code == status, response.text
    assert response.json()["field"] == field
    assert tenant.snapshot()["interactions"] == {}
    folder = tenant.harness.services.settings.data_dir / "voicemail" / tenant.id
    assert not folder.exists() or not list(folder.iterdir())


def test_a_recording_over_the_size_limit_is_413(tenant: Tenant) -> None:
    service = tenant.harness.client.app.state.channels.voicemail  # type: ignore[attr-defined]
    limit = service.max_bytes
    service.max_bytes = 2000
    try:
        response = deposit(tenant, wav_bytes(1.0))
    finally:
        service.max_bytes = limit
    assert response.status_code == 413
    assert response.json()["field"] == "audio"
    assert tenant.snapshot()["interactions"] == {}


def test_a_used_id_is_refused(tenant: Tenant) -> None:
    assert deposit(tenant, MP3, "a.mp3", id="vm-9").status_code == 201
    again = deposit(tenant, OGG, "a.ogg", id="vm-9")
    assert again.status_code == 409
    assert again.json()["field"] == "id"
    assert (
        tenant.harness.client.get("/api/v1/voicemails/vm-9", headers=tenant.pbx).json()["content_type"] == "audio/mpeg"
    )


def test_an_upload_the_client_abandons_is_one_line_in_the_log(tenant: Tenant, caplog: pytest.LogCaptureFixture) -> None:
    """The PBX hangs up mid-upload: no unhandled exception (and its traceback), one line saying what happened."""
    boundary = "cut-here"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="queue_id"\r\n\r\nmessages\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="audio"; filename="vm.wav"\r\n'
        "Content-Type: audio/wav\r\n\r\n"
    ).encode() + wav_bytes()[:2000]
    messages = [
        {"type": "http.request", "body": head, "more_body": True},
        {"type": "http.disconnect"},  # the rest never comes
    ]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/v1/voicemails",
        "raw_path": b"/api/v1/voicemails",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", f"multipart/form-data; boundary={boundary}".encode()),
            (b"content-length", b"900000"),
            (b"authorization", tenant.pbx["Authorization"].encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    app = tenant.harness.client.app
    with caplog.at_level(logging.INFO):
        tenant.harness.client.portal.call(app, scope, receive, send)  # type: ignore[union-attr]
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO and "abandoned" in r.getMessage()] == [
        "voicemail upload abandoned: the client disconnected before sending all of it"
    ]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert tenant.snapshot()["interactions"] == {}, "nothing was deposited"
