"""Greetings (custom messages) API: upload, list, rename, delete, play with range requests; type sniffed from
the bytes; size, name and ownership checked."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.console.test_console_browser import tone_wav
from tests.e2e.conftest import Harness, make_harness

WEBM = b"\x1a\x45\xdf\xa3" + b"\x9f\x42\x86\x81\x01" + b"\x00" * 2000


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    yield from make_harness(tmp_path)


@pytest.fixture
def agent(harness: Harness) -> dict[str, str]:
    harness.setup_tenant("acme")
    return harness.sign_in("acme", "agent1")


def upload(
    harness: Harness, headers: dict[str, str], name: str, audio: bytes, filename: str = "a.webm"
) -> httpx.Response:
    return harness.client.post(
        "/api/v1/me/greetings", data={"name": name}, files={"audio": (filename, audio, "audio/webm")}, headers=headers
    )


def test_record_list_play_rename_delete(harness: Harness, agent: dict[str, str], tmp_path: Path) -> None:
    c = harness.client
    created = upload(harness, agent, "  Welcome  ", WEBM)
    assert created.status_code == 201, created.text
    greeting = created.json()
    assert greeting["name"] == "Welcome"
    assert greeting["content_type"] == "audio/webm"
    assert greeting["bytes"] == len(WEBM)
    wav = upload(harness, agent, "Closed", tone_wav(0.2), "closed.ogg").json()
    assert wav["content_type"] == "audio/wav"  # from the bytes, not the name or declared type
    assert (tmp_path / "greetings" / "acme" / greeting["id"]).read_bytes() == WEBM

    listed = c.get("/api/v1/me/greetings", headers=agent).json()
    assert [g["name"] for g in listed["greetings"]] == ["Closed", "Welcome"]
    assert listed["max_bytes"] == 2 * 1024 * 1024

    audio = c.get(greeting["audio_url"], headers=agent)
    assert audio.status_code == 200
    assert audio.content == WEBM
    assert audio.headers["content-type"] == "audio/webm"
    part = c.get(greeting["audio_url"], headers={**agent, "Range": "bytes=0-3"})
    assert part.status_code == 206
    assert part.content == WEBM[:4]

    renamed = c.patch(f"/api/v1/me/greetings/{greeting['id']}", json={"name": "Good morning"}, headers=agent)
    assert renamed.status_code == 200
    assert renamed.json()["name"] == "Good morning"
    bad = c.patch(f"/api/v1/me/greetings/{greeting['id']}", json={"name": "x" * 81}, headers=agent)
    assert bad.status_code == 422
    assert bad.json()["field"] == "name"
    blank = c.patch(f"/api/v1/me/greetings/{greeting['id']}", json={"name": "   "}, headers=agent)
    assert blank.status_code == 422

    assert c.delete(f"/api/v1/me/greetings/{greeting['id']}", headers=agent).status_code == 204
    assert not (tmp_path / "greetings" / "acme" / greeting["id"]).exists()
    assert c.get(greeting["audio_url"], headers=agent).status_code == 404
    assert [g["name"] for g in c.get("/api/v1/me/greetings", headers=agent).json()["greetings"]] == ["Closed"]


def test_size_type_and_name_are_checked_with_the_field_named(harness: Harness, agent: dict[str, str]) -> None:
    too_big = upload(harness, agent, "Long", WEBM + b"\x00" * (2 * 1024 * 1024))
    assert too_big.status_code == 413
    assert too_big.json()["field"] == "audio"
    assert "2 MB" in too_big.json()["message"]
    text = upload(harness, agent, "Text", b"hello, this is not audio at all")
    assert text.status_code == 415
    assert text.json()["field"] == "audio"
    empty = upload(harness, agent, "Empty", b"")
    assert empty.status_code == 422
    nameless = upload(harness, agent, " ", WEBM)
    assert nameless.status_code == 422
    assert nameless.json()["field"] == "name"
    not_a_form = harness.client.post("/api/v1/me/greetings", json={"name": "x"}, headers=agent)
    assert not_a_form.status_code == 415
    assert harness.client.get("/api/v1/me/greetings", headers=agent).json()["greetings"] == []


def test_an_agent_sees_only_their_own_messages(harness: Harness, agent: dict[str, str]) -> None:
    greeting = upload(harness, agent, "Mine", WEBM).json()
    colleague = harness.sign_in("acme", "agent2")
    harness.setup_tenant("globex")
    stranger = harness.sign_in("globex", "agent1")
    for other in (colleague, stranger):
        assert harness.client.get("/api/v1/me/greetings", headers=other).json()["greetings"] == []
        assert harness.client.get(greeting["audio_url"], headers=other).status_code == 404
        path = f"/api/v1/me/greetings/{greeting['id']}"
        assert harness.client.patch(path, json={"name": "Theirs"}, headers=other).status_code == 404
        assert harness.client.delete(path, headers=other).status_code == 404
    assert upload(harness, stranger, "Theirs", WEBM).status_code == 201  # kept in the stranger's tenant
    assert [g["name"] for g in harness.client.get("/api/v1/me/greetings", headers=agent).json()["greetings"]] == [
        "Mine"
    ]
    assert harness.client.get(greeting["audio_url"], headers=agent).status_code == 200
    assert harness.client.get("/api/v1/me/greetings").status_code == 401


def test_each_message_says_how_long_it_plays(harness: Harness, agent: dict[str, str]) -> None:
    c = harness.client
    recorded = c.post(
        "/api/v1/me/greetings",
        data={"name": "Welcome", "duration_seconds": "3.456"},
        files={"audio": ("a.webm", WEBM, "audio/webm")},
        headers=agent,
    )
    assert recorded.status_code == 201, recorded.text
    assert recorded.json()["duration_seconds"] == 3.46, "as the console measured the recording"
    wav = upload(harness, agent, "Closed", tone_wav(1.5), "closed.wav").json()
    assert wav["duration_seconds"] == 1.5, "a WAV file's own length"
    unknown = upload(harness, agent, "Old", WEBM).json()
    assert unknown["duration_seconds"] is None
    listed = {
        g["name"]: g["duration_seconds"] for g in c.get("/api/v1/me/greetings", headers=agent).json()["greetings"]
    }
    assert listed == {"Welcome": 3.46, "Closed": 1.5, "Old": None}
    for bad in ("0", "-2", "601", "soon"):
        refused = c.post(
            "/api/v1/me/greetings",
            data={"name": "Bad", "duration_seconds": bad},
            files={"audio": ("a.webm", WEBM, "audio/webm")},
            headers=agent,
        )
        assert refused.status_code == 422, bad
        assert refused.json()["field"] == "duration_seconds"
