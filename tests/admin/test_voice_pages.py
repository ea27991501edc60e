"""The voice numbers page, with voice off (no engines): an admin prepares numbers before voice runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.admin.conftest import csrf_of, errors_of, sign_in_page
from tests.e2e.conftest import Harness
from tests.voice.audio import mp3_tone


def _post(h: Harness, form: dict[str, Any]) -> Any:
    token = csrf_of(h.client.get("/admin/acme/voice").text)
    return h.client.post("/admin/acme/voice", data={**form, "csrf_token": token}, follow_redirects=False)


def test_the_voice_page_adds_changes_and_removes_numbers_as_the_api_does(harness: Harness) -> None:
    c = harness.client
    sign_in_page(c)
    page = c.get("/admin/acme/voice")
    assert page.status_code == 200
    assert 'href="/admin/acme/voice"' in page.text  # in the admin's sections
    assert "Voice is off on this server" in page.text
    assert "data-voice-status" in page.text
    assert "CALLBRIDGE_VOICE_ENABLED" in page.text
    api = "/api/v1/tenants/acme/voice/numbers"

    refused = _post(harness, {"number": "14155550100", "queue_id": "sales"})
    assert refused.status_code == 422
    assert "E.164" in errors_of(refused.text)["number"]
    refused = _post(harness, {"number": "+14155550100", "queue_id": "nowhere"})
    assert refused.status_code == 422
    assert "queue_id" in errors_of(refused.text)
    refused = _post(harness, {"number": "", "queue_id": "sales"})
    assert "Enter the dialled number" in errors_of(refused.text)["number"]
    assert c.get(api, headers=harness.admin).json() == []  # nothing was saved

    saved = _post(harness, {"number": "+14155550100", "queue_id": "sales"})
    assert saved.status_code == 303, saved.text
    assert c.get(api, headers=harness.admin).json() == [
        {"number": "+14155550100", "queue_id": "sales", "greeting_id": None, "menu": None}
    ]
    page = c.get(saved.headers["location"]).text
    assert "Number saved" in page
    assert 'data-number="+14155550100"' in page

    token = csrf_of(page)
    removed = c.post(
        "/admin/acme/voice",
        data={"action": "remove", "number": "+14155550100", "csrf_token": token},
        follow_redirects=False,
    )
    assert removed.status_code == 303
    assert c.get(api, headers=harness.admin).json() == []
    gone = _post(harness, {"action": "remove", "number": "+14155550100"})
    assert gone.status_code == 422
    assert "No number" in errors_of(gone.text)["form"]
    actions = [e["action"] for e in c.get("/api/v1/tenants/acme/audit-log", headers=harness.admin).json()]
    assert sum(1 for a in actions if "number" in a) == 2, actions


def test_the_voice_page_refuses_a_post_without_the_form_token(harness: Harness) -> None:
    sign_in_page(harness.client)
    harness.client.get("/admin/acme/voice")
    response = harness.client.post(
        "/admin/acme/voice", data={"number": "+14155550100", "queue_id": "sales"}, follow_redirects=False
    )
    assert response.status_code == 403
    assert harness.client.get("/api/v1/tenants/acme/voice/numbers", headers=harness.admin).json() == []


def test_the_voice_page_sets_and_removes_an_agents_desk_phone_and_never_shows_the_password(harness: Harness) -> None:
    c = harness.client
    sign_in_page(c)
    api = "/api/v1/tenants/acme/voice/desk-phones"
    password = "desk-phone-secret-1"  # noqa: S105 (a test secret)

    def post(form: dict[str, Any]) -> Any:
        token = csrf_of(c.get("/admin/acme/voice").text)
        return c.post("/admin/acme/voice/desk-phones", data={**form, "csrf_token": token}, follow_redirects=False)

    short = post({"agent_id": "agent1", "username": "acme-a1", "password": "short"})
    assert short.status_code == 422
    assert "password" in errors_of(short.text)
    numbers_form = short.text.split("data-number-form")[1].split("</form>")[0]
    assert "Nothing was saved" not in numbers_form  # the banner is on the desk phone's form
    assert "Nothing was saved" in short.text.split("data-desk-phone-form")[1]
    nobody = post({"agent_id": "nobody", "username": "acme-x", "password": password})
    assert nobody.status_code == 422
    assert "agent_id" in errors_of(nobody.text)
    assert c.get(api, headers=harness.admin).json() == []

    saved = post({"agent_id": "agent1", "username": "acme-a1", "password": password})
    assert saved.status_code == 303, saved.text
    assert [p["username"] for p in c.get(api, headers=harness.admin).json()] == ["acme-a1"]
    page = c.get(saved.headers["location"]).text
    assert "Desk phone saved" in page
    assert 'data-desk-phone="agent1"' in page
    assert password not in page

    assert post({"action": "remove", "agent_id": "agent1"}).status_code == 303
    assert c.get(api, headers=harness.admin).json() == []
    assert "no desk phone" in errors_of(post({"action": "remove", "agent_id": "agent1"}).text)["form"]
    actions = [e["action"] for e in c.get("/api/v1/tenants/acme/audit-log", headers=harness.admin).json()]
    assert sum(1 for a in actions if "desk" in a) == 2, actions


def test_the_voice_page_gives_a_number_a_menu_refuses_bad_keys_by_field_and_removes_it(harness: Harness) -> None:
    c = harness.client
    sign_in_page(c)
    admin = harness.admin
    queue = {"id": "billing", "name": "Billing", "channel": "phone"}
    assert c.post("/api/v1/tenants/acme/queues", json=queue, headers=admin).status_code == 201
    assert _post(harness, {"number": "+14155550100", "queue_id": "sales"}).status_code == 303
    menu_api = "/api/v1/tenants/acme/voice/numbers/+14155550100/menu"

    def post(form: dict[str, Any]) -> Any:
        token = csrf_of(c.get("/admin/acme/voice").text)
        return c.post("/admin/acme/voice/menus", data={**form, "csrf_token": token}, follow_redirects=False)

    good = {"number": "+14155550100", "key_1": "sales", "key_hash": "billing", "attempts": "2", "wait_seconds": "4"}
    refusals = {
        "key_hash": {**good, "key_hash": "nowhere"},
        "attempts": {**good, "attempts": "9"},
        "wait_seconds": {**good, "wait_seconds": "soon"},
        "menu_greeting_id": {**good, "menu_greeting_id": "no-such-greeting"},
        "menu_number": {**good, "number": "+14155550199"},
        "form": {"number": "+14155550100", "attempts": "3", "wait_seconds": "5"},
    }
    for field, form in refusals.items():
        refused = post(form)
        assert refused.status_code == 422, field
        assert field in errors_of(refused.text), (field, errors_of(refused.text))
        assert "Nothing was saved" in refused.text.split("data-menu-form")[1] or field == "form"
        assert c.get(menu_api, headers=admin).status_code == 404  # nothing was saved

    saved = post(good)
    assert saved.status_code == 303, saved.text
    assert c.get(menu_api, headers=admin).json() == {
        "options": [{"digit": "1", "queue_id": "sales"}, {"digit": "#", "queue_id": "billing"}],
        "greeting_id": None,
        "attempts": 2,
        "wait_seconds": 4,
        "default_queue_id": "sales",
    }
    page = c.get(saved.headers["location"]).text
    assert "Menu saved" in page
    assert "1 → sales, # → billing" in page.split('data-menu-of="+14155550100"')[1]

    assert post({"action": "remove", "number": "+14155550100"}).status_code == 303
    assert c.get(menu_api, headers=admin).status_code == 404
    assert "no menu to remove" in errors_of(post({"action": "remove", "number": "+14155550100"}).text)["form"]
    actions = [e["action"] for e in c.get("/api/v1/tenants/acme/audit-log", headers=admin).json()]
    assert {"voice_menu.set", "voice_menu.deleted"} <= set(actions)


def _form_post(h: Harness, path: str, form: dict[str, Any]) -> Any:
    token = csrf_of(h.client.get("/admin/acme/voice").text)
    return h.client.post(path, data={**form, "csrf_token": token}, follow_redirects=False)


def _audit(h: Harness, prefix: str) -> list[dict[str, Any]]:
    entries = h.client.get("/api/v1/tenants/acme/audit-log", headers=h.admin).json()
    return [e for e in entries if e["action"].startswith(prefix)]


def test_a_phone_queues_recording_and_voicemail_overflow_are_set_on_the_page_as_the_api_does(harness: Harness) -> None:
    c = harness.client
    sign_in_page(c)
    api = "/api/v1/tenants/acme/voice/queues/sales"
    page = c.get("/admin/acme/voice").text
    assert 'data-queue-voice="sales"' in page
    assert 'data-queue-voice="support"' not in page  # a chat queue has no voice settings
    path = "/admin/acme/voice/queues"

    def post(form: dict[str, Any]) -> Any:
        return _form_post(harness, path, {"queue_id": "sales", "recording": "off", **form})

    refused = post({"recording": "announced"})
    assert refused.status_code == 422
    assert "greeting" in errors_of(refused.text)["announcement_greeting_id"]
    queue_form = refused.text.split("data-queue-form")[1].split("</form>")[0]
    assert "Nothing was saved" in queue_form  # the banner is on the queue form, no other
    assert "Nothing was saved" not in refused.text.split("data-number-form")[1].split("</form>")[0]
    refused = post({"recording": "announced", "announcement_greeting_id": "no-such-greeting"})
    assert "does not exist" in errors_of(refused.text)["announcement_greeting_id"]
    refused = post({"max_wait_seconds": "60"})
    assert "voicemail queue" in errors_of(refused.text)["max_wait_seconds"]
    refused = post({"max_wait_seconds": "5", "voicemail_queue_id": "messages"})
    assert "10" in errors_of(refused.text)["max_wait_seconds"]
    refused = post({"max_wait_seconds": "soon", "voicemail_queue_id": "messages"})
    assert "whole number" in errors_of(refused.text)["max_wait_seconds"]
    refused = post({"voicemail_queue_id": "support"})
    assert "not a voicemail queue" in errors_of(refused.text)["voicemail_queue_id"]
    refused = post({"recording": "sometimes"})
    assert "recording" in errors_of(refused.text)
    refused = post({"queue_id": "support"})
    assert "not a phone queue" in errors_of(refused.text)["queue_id"]
    assert c.get(api, headers=harness.admin).json()["recording"] == "off"
    assert _audit(harness, "voice_queue") == []  # nothing was saved

    saved = post({"recording": "on", "voicemail_queue_id": "messages", "max_wait_seconds": "120"})
    assert saved.status_code == 303, saved.text
    assert "queue=sales" in saved.headers["location"]
    assert c.get(api, headers=harness.admin).json() == {
        "queue_id": "sales",
        "recording": "on",
        "announcement_greeting_id": None,
        "max_wait_seconds": 120,
        "voicemail_queue_id": "messages",
    }
    page = c.get(saved.headers["location"]).text
    assert "Queue voice settings saved" in page
    row = page.split('data-queue-voice="sales"')[1].split("</tr>")[0]
    assert "120 s" in row
    assert "messages" in row
    (entry,) = _audit(harness, "voice_queue")
    assert entry["action"] == "voice_queue.updated"
    assert entry["target_id"] == "sales"

    agent = harness.sign_in("acme", "agent1")
    uploaded = c.post(
        "/api/v1/me/greetings",
        data={"name": "recorded notice"},
        files={"audio": ("notice.wav", _wav(1.5), "audio/wav")},
        headers=agent,
    )
    assert uploaded.status_code == 201, uploaded.text
    greeting_id = uploaded.json()["id"]
    sign_in_page(c)
    assert "recorded notice" in c.get("/admin/acme/voice").text  # offered by name
    saved = post({"recording": "announced", "announcement_greeting_id": greeting_id})
    assert saved.status_code == 303, saved.text
    assert c.get(api, headers=harness.admin).json()["announcement_greeting_id"] == greeting_id
    assert c.get(api, headers=harness.admin).json()["voicemail_queue_id"] is None
    saved = post({"recording": "on", "announcement_greeting_id": greeting_id})  # On (not announced) drops it
    assert c.get(api, headers=harness.admin).json()["announcement_greeting_id"] is None
    assert len(_audit(harness, "voice_queue")) == 3


def test_the_api_refuses_a_maximum_wait_without_a_voicemail_queue_and_an_unknown_announcement(
    harness: Harness,
) -> None:
    c = harness.client
    api = "/api/v1/tenants/acme/voice/queues/sales"
    wait_alone = c.put(api, json={"max_wait_seconds": 60}, headers=harness.admin)
    assert wait_alone.status_code == 422
    assert wait_alone.json()["field"] == "max_wait_seconds"
    unknown = c.put(api, json={"recording": "on", "announcement_greeting_id": "nope"}, headers=harness.admin)
    assert unknown.status_code == 422
    assert unknown.json()["field"] == "announcement_greeting_id"
    saved = c.put(api, json={"recording": "on"}, headers=harness.admin)
    assert saved.status_code == 200
    assert [e["action"] for e in _audit(harness, "voice_queue")] == ["voice_queue.updated"]


def test_recording_retention_is_set_on_the_page_validated_and_audited(harness: Harness) -> None:
    c = harness.client
    sign_in_page(c)
    api = "/api/v1/tenants/acme/voice/recording-retention"
    assert 'value="90"' in c.get("/admin/acme/voice").text.split("data-retention-form")[1].split("</form>")[0]
    path = "/admin/acme/voice/recording-retention"
    for days, expected in (("0", "greater than or equal to 1"), ("5000", "3650"), ("a week", "whole number")):
        refused = _form_post(harness, path, {"days": days})
        assert refused.status_code == 422
        assert expected in errors_of(refused.text)["days"], errors_of(refused.text)
    assert "Enter how many days" in errors_of(_form_post(harness, path, {"days": ""}).text)["days"]
    assert c.get(api, headers=harness.admin).json() == {"days": 90}
    saved = _form_post(harness, path, {"days": "30"})
    assert saved.status_code == 303, saved.text
    assert c.get(api, headers=harness.admin).json() == {"days": 30}
    assert "Recording retention saved" in c.get(saved.headers["location"]).text
    (entry,) = _audit(harness, "voice_recording_retention")
    assert entry["changes"]["days"] == {"before": 90, "after": 30}


def _wav(seconds: float, frequency: float = 440.0, rate: int = 8000) -> bytes:
    import io
    import math
    import struct
    import wave

    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        frames = int(seconds * rate)
        writer.writeframes(
            b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * frequency * i / rate))) for i in range(frames))
        )
    return buffer.getvalue()


def test_hold_music_is_uploaded_validated_and_reset_on_the_page(harness: Harness) -> None:
    c = harness.client
    sign_in_page(c)
    api = "/api/v1/tenants/acme/voice/hold-music"
    assert c.get(api, headers=harness.admin).json()["source"] == "default"
    assert 'data-hold-music="default"' in c.get("/admin/acme/voice").text
    path = "/admin/acme/voice/hold-music"

    def upload(name: str, data: bytes, action: str = "upload") -> Any:
        token = csrf_of(c.get("/admin/acme/voice").text)
        return c.post(
            path,
            data={"csrf_token": token, "action": action},
            files={"audio": (name, data, "audio/wav")},
            follow_redirects=False,
        )

    not_audio = upload("music.wav", b"these bytes are not audio at all")
    assert not_audio.status_code == 415
    assert "WAV (PCM) or MP3" in errors_of(not_audio.text)["audio"]
    assert "Nothing was saved" in not_audio.text.split("data-hold-music-form")[1]
    too_short = upload("blip.wav", _wav(0.2))
    assert too_short.status_code == 422
    assert "at least 1 s" in errors_of(too_short.text)["audio"]
    no_file = upload("", b"")  # what a browser sends when no file was chosen
    assert "Choose a WAV or MP3 file" in errors_of(no_file.text)["audio"]
    empty = upload("empty.wav", b"")
    assert "empty" in errors_of(empty.text)["audio"]
    too_large = upload("huge.wav", b"RIFF" + b"\0" * (8 * 1024 * 1024 + 10))
    assert too_large.status_code == 413
    assert "larger than 8 MB" in errors_of(too_large.text)["audio"]
    streamed = upload("huger.wav", b"RIFF" + b"\0" * (8 * 1024 * 1024 + 64 * 1024))  # refused while it arrives
    assert streamed.status_code == 413
    assert "larger than 8 MB" in errors_of(streamed.text)["audio"]
    no_token = c.post(path, data={"action": "upload"}, files={"audio": ("m.wav", _wav(2), "audio/wav")})
    assert no_token.status_code == 403
    assert c.get(api, headers=harness.admin).json()["source"] == "default"
    assert _audit(harness, "voice_hold_music") == []

    saved = upload("music.wav", _wav(2.0))
    assert saved.status_code == 303, saved.text
    found = c.get(api, headers=harness.admin).json()
    assert found["source"] == "uploaded"
    assert found["content_type"] == "audio/wav"
    assert found["duration_seconds"] == 2.0
    page = c.get(saved.headers["location"]).text
    assert "Hold music uploaded" in page
    assert 'data-hold-music="uploaded"' in page
    assert (harness.services.settings.data_dir / "voice" / "hold-music" / "acme.wav").read_bytes() == _wav(2.0)
    assert c.get("/api/v1/tenants/globex/voice/hold-music", headers=harness.admin).json()["source"] == "default"

    token = csrf_of(page)
    reset = c.post(path, data={"csrf_token": token, "action": "default"}, follow_redirects=False)
    assert reset.status_code == 303, reset.text
    assert c.get(api, headers=harness.admin).json()["source"] == "default"
    again = c.post(path, data={"csrf_token": token, "action": "default"}, follow_redirects=False)
    assert "already hear the default" in errors_of(again.text)["form"]
    assert [e["action"] for e in _audit(harness, "voice_hold_music")] == [
        "voice_hold_music.reset",
        "voice_hold_music.uploaded",
    ]


def test_the_hold_music_api_names_the_field_it_refuses(harness: Harness, tmp_path: Path) -> None:
    c = harness.client
    api = "/api/v1/tenants/acme/voice/hold-music"
    wrong = c.put(api, files={"audio": ("x.ogg", b"OggS" + b"\0" * 64, "audio/ogg")}, headers=harness.admin)
    assert wrong.status_code == 415
    assert wrong.json()["field"] == "audio"
    missing = c.put(api, data={"name": "x"}, files={"other": ("x", b"1", "text/plain")}, headers=harness.admin)
    assert missing.status_code == 422
    assert missing.json()["field"] == "audio"
    json_body = c.put(api, json={"audio": "x"}, headers=harness.admin)
    assert json_body.status_code == 415
    # the first bytes of an MP3 and no frames after them (a renamed or cut file): refused, naming the field
    fake = b"ID3\x03\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x00" * 200
    not_mp3 = c.put(api, files={"audio": ("m.mp3", fake, "audio/mpeg")}, headers=harness.admin)
    assert not_mp3.status_code == 422, not_mp3.text
    assert not_mp3.json()["field"] == "audio"
    assert "upload a WAV file" in not_mp3.json()["message"]
    mp3 = mp3_tone(tmp_path / "m.mp3", 440, 2).read_bytes()
    cut = c.put(api, files={"audio": ("m.mp3", mp3[: len(mp3) // 20], "audio/mpeg")}, headers=harness.admin)
    assert cut.status_code == 422, cut.text
    short = mp3_tone(tmp_path / "short.mp3", 440, 0.3).read_bytes()
    too_short = c.put(api, files={"audio": ("s.mp3", short, "audio/mpeg")}, headers=harness.admin)
    assert too_short.status_code == 422, too_short.text
    assert "at least 1 s" in too_short.json()["message"]
    saved = c.put(api, files={"audio": ("m.mp3", mp3, "audio/mpeg")}, headers=harness.admin)
    assert saved.status_code == 200, saved.text
    assert saved.json()["content_type"] == "audio/mpeg"
    assert 2.0 <= saved.json()["duration_seconds"] <= 2.5  # the encoder adds a few frames of padding
    assert c.put(api, files={"audio": ("m.wav", _wav(1.5), "audio/wav")}, headers=harness.admin).status_code == 200
    folder = harness.services.settings.data_dir / "voice" / "hold-music"
    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) == ["acme.wav"]  # the MP3 went
    other = c.get("/api/v1/tenants/globex/voice/hold-music", headers=harness.sign_in("acme", "agent1"))
    assert other.status_code in (403, 404)
    assert c.delete(api, headers=harness.admin).json() == {
        "source": "default",
        "content_type": None,
        "bytes": None,
        "duration_seconds": None,
        "uploaded_at": None,
        "max_bytes": 8 * 1024 * 1024,
    }


def test_the_status_panel_shows_the_node_wide_trunk_read_only_with_how_to_change_it(harness: Harness) -> None:
    sign_in_page(harness.client)
    page = harness.client.get("/admin/acme/voice").text
    trunk = page.split("data-trunk>")[1].split("</section>")[0]
    assert "CALLBRIDGE_VOICE_TRUNK_ADDRESS" in trunk
    assert "CALLBRIDGE_VOICE_TRUNK_NETWORKS" in trunk
    assert "CALLBRIDGE_VOICE_TRUNK_TRANSPORT" in trunk
    assert "<code>udp</code>" in trunk.split("data-trunk-transport>")[1]
    assert "none:" in trunk.split("data-trunk-credentials>")[1].split("</dd>")[0]  # no CALLBRIDGE_VOICE_TRUNK_USERNAME
    assert "<input" not in trunk  # shown, not editable
    status = harness.client.get("/api/v1/tenants/acme/voice/status", headers=harness.admin).json()
    assert (status["trunk"]["transport"], status["trunk"]["certificate_checked"]) == ("udp", True)
    assert status["trunk"]["credentials_set"] is False
    assert status["voice_on"] is False
    assert status["calls_now"] == 0
    assert status["registered_desk_phones"] == []
