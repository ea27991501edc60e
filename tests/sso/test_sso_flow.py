"""Single sign-on against the built-in CRM (a real OpenID Connect provider on another origin), driven over
HTTP as a browser would: linking, refusals, hand-off to a frame, sign-out with revocation, admin API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import select, update
from sso_helpers import (
    Callbridge,
    Crm,
    at_the_crm,
    browser_client,
    setup_tenant,
    start_callbridge,
    start_crm,
    start_login,
)
from tests.conftest import run_coroutine
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from callbridge.services.sso import REFUSALS_KEPT, s256
from callbridge.store.sso_tables import linked_identities, provider_tokens, sso_pending_logins
from callbridge.store.tables import agents

TENANT = "acme"
AGENTS = [
    {"id": "abe", "email": "Abe@Example.com"},
    {"id": "bea", "email": "bea@example.com", "auto_login": False},
    {"id": "uma", "email": "uma@example.com"},
    {"id": "dan", "email": "dan@example.com", "enabled": False},
    {"id": "twin-old", "email": "twin@example.com"},
    {"id": "twin-new", "email": "TWIN@example.com"},
    {"id": "roy", "email": "roy@example.com"},
]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Callbridge, Crm]]:
    cb = start_callbridge(tmp_path_factory.mktemp("callbridge"))
    crm = start_crm(tmp_path_factory.mktemp("crm"), cb.base_url, f"/console?tenant={TENANT}")
    setup_tenant(
        cb,
        TENANT,
        AGENTS,
        [crm.base_url],
        {"kind": "builtin_crm", "issuer": crm.base_url, "client_id": crm.client_id, "client_secret": crm.client_secret},
    )
    yield cb, crm
    crm.server.stop()
    cb.stop()


@pytest.fixture
def cb(site: tuple[Callbridge, Crm]) -> Callbridge:
    return site[0]


@pytest.fixture
def crm(site: tuple[Callbridge, Crm]) -> Crm:
    return site[1]


@pytest.fixture
def browser(cb: Callbridge) -> Iterator[httpx.Client]:
    """One browser's Callbridge cookies (the CRM side gets its own client per sign-in)."""
    with browser_client(cb.base_url) as client:
        yield client


def sign_in(browser: httpx.Client, crm: Crm, email: str, **params: str) -> httpx.Response:
    back = at_the_crm(crm, start_login(browser, TENANT, **params), email)
    return browser.get(back)


def linked_agent(cb: Callbridge, subject_email: str) -> str | None:
    with cb.engine.connect() as connection:
        row = connection.execute(
            select(linked_identities.c.agent_id).where(linked_identities.c.email_at_link == subject_email)
        ).first()
    return None if row is None else row.agent_id


def test_first_sign_in_links_by_verified_email_and_puts_the_agent_on_break(
    cb: Callbridge, crm: Crm, browser: httpx.Client
) -> None:
    response = sign_in(browser, crm, "abe@example.com")
    assert response.status_code == 303
    assert response.headers["location"] == f"/console?tenant={TENANT}"
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("callbridge_session="))
    assert "HttpOnly" in cookie
    assert "Secure" in cookie
    assert "SameSite=None" in cookie
    assert "Partitioned" in cookie
    me = browser.get("/api/v1/me").json()
    assert me["me"] == "abe"
    assert me["agents"]["abe"]["status"] == "break"
    assert linked_agent(cb, "abe@example.com") == "abe"  # the agent's e-mail differs in case only
    page = browser.get(f"/console?tenant={TENANT}")
    assert "Abe" in page.text
    assert 'data-status="break"' in page.text
    # controls that need the console's script are served disabled; the browser tests see it enable them
    assert '<button type="button" id="sign-out" class="quiet" disabled>' in page.text
    assert '<select id="status-select" name="status" disabled>' in page.text


def test_tokens_are_kept_encrypted_and_given_to_connectors_decrypted(cb: Callbridge, crm: Crm) -> None:
    with browser_client(cb.base_url) as browser:
        sign_in(browser, crm, "roy@example.com")
        access = run_coroutine(cb.sso.access_token(TENANT, "roy"))
        assert access is not None
        with cb.engine.connect() as connection:
            row = connection.execute(select(provider_tokens).where(provider_tokens.c.agent_id == "roy")).one()
        assert access.access_token.encode() not in row.access_token_encrypted
        # the decrypted token works at the CRM, as a connector would use it
        crm_api = httpx.get(
            f"{crm.base_url}/oauth2/userinfo",
            headers={"Authorization": f"Bearer {access.access_token}"},
        )
        assert crm_api.status_code == 200, crm_api.text
        # roles come from Callbridge's agent record (agent), not from the CRM (where Roy is an admin)
        assert browser.get(f"/api/v1/tenants/{TENANT}/sso").status_code == 403

        assert browser.post("/sso/logout").status_code == 204
        assert browser.get("/api/v1/me").status_code == 401
        revoked = httpx.get(
            f"{crm.base_url}/oauth2/userinfo",
            headers={"Authorization": f"Bearer {access.access_token}"},
        )
        assert revoked.status_code == 401
        assert run_coroutine(cb.sso.access_token(TENANT, "roy")) is None
        with cb.engine.connect() as connection:
            status = connection.execute(select(agents.c.status).where(agents.c.id == "roy")).scalar_one()
        assert status == "logged_out"


def test_an_email_change_at_the_provider_neither_locks_out_nor_lets_another_identity_in(
    cb: Callbridge, crm: Crm
) -> None:
    with browser_client(cb.base_url) as first:
        assert sign_in(first, crm, "bea@example.com").status_code == 303
    crm.set_user("bea@example.com", email="bea.new@example.com")
    crm.add_user("bea@example.com", "Someone Else")
    try:
        with browser_client(cb.base_url) as again:
            assert sign_in(again, crm, "bea.new@example.com").status_code == 303
            assert again.get("/api/v1/me").json()["me"] == "bea"
        with browser_client(cb.base_url) as other:
            refused = sign_in(other, crm, "bea@example.com")
            assert refused.status_code == 403
            assert "linked to another CRM user" in refused.text
            assert other.get("/api/v1/me").status_code == 401
    finally:
        crm.set_user("bea@example.com", email="someone.else@example.com")
        crm.set_user("bea.new@example.com", email="bea@example.com")


@pytest.mark.parametrize(
    ("email", "reason", "advice"),
    [
        ("uma@example.com", "is not verified", "Verify your e-mail address"),
        ("nobody@example.com", "no agent account has the e-mail", "create an agent account"),
        ("dan@example.com", "disabled", "enable your agent account"),
    ],
)
def test_who_cannot_sign_in_gets_a_page_saying_what_to_ask(
    cb: Callbridge, crm: Crm, email: str, reason: str, advice: str
) -> None:
    with browser_client(cb.base_url) as browser:
        response = sign_in(browser, crm, email)
        assert response.status_code == 403
        assert reason in response.text
        assert advice in response.text
        assert "callbridge_session" not in response.headers.get("set-cookie", "")
        assert response.headers["content-security-policy"].endswith("frame-ancestors 'none'")
    # the admin sees who was refused and why, with no code or state from the request
    with cb.api() as api:
        refusals = [
            w for w in api.get(f"/api/v1/tenants/{TENANT}/sso/warnings").json() if w["kind"] == "sign_in_refused"
        ]
    assert refusals, "the refusal is listed for the admin"
    assert reason in refusals[0]["message"]
    assert "code=" not in refusals[0]["message"] or "[redacted]" in refusals[0]["message"]


def test_refused_sign_ins_are_kept_for_the_admin_but_only_the_newest(cb: Callbridge) -> None:
    sso = cb.sso
    for n in range(REFUSALS_KEPT + 5):
        sso.record_refusal(TENANT, "invalid_token", f"forged number {n} from /sso/callback?code=secret-{n}&state=s")
    sso.record_refusal("no-such-tenant", "invalid_token", "nothing to keep for a tenant that does not exist")
    with cb.api() as api:
        refusals = [
            w for w in api.get(f"/api/v1/tenants/{TENANT}/sso/warnings").json() if w["kind"] == "sign_in_refused"
        ]
    assert len(refusals) == REFUSALS_KEPT
    assert f"forged number {REFUSALS_KEPT + 4}" in refusals[0]["message"]
    assert all("secret-" not in w["message"] for w in refusals), "codes never reach the admin's page"


def test_two_agents_with_one_email_link_the_oldest_and_warn_the_admin(cb: Callbridge, crm: Crm) -> None:
    with browser_client(cb.base_url) as browser:
        assert sign_in(browser, crm, "twin@example.com").status_code == 303
        assert browser.get("/api/v1/me").json()["me"] == "twin-old"
    with cb.api() as api:
        warnings = api.get(f"/api/v1/tenants/{TENANT}/sso/warnings").json()
    assert [w["kind"] for w in warnings if w["kind"] != "sign_in_refused"] == ["duplicate_email"]
    warnings = [w for w in warnings if w["kind"] == "duplicate_email"]
    assert warnings[0]["agent_ids"] == ["twin-old", "twin-new"]
    assert "twin@example.com" in warnings[0]["message"]


def test_state_mismatch_and_login_csrf_are_refused(cb: Callbridge, crm: Crm) -> None:
    with browser_client(cb.base_url) as attacker, browser_client(cb.base_url) as victim:
        back = at_the_crm(crm, start_login(attacker, TENANT), "abe@example.com")
        # the victim's browser is made to finish the attacker's sign-in: its cookie does not match
        forced = victim.get(back)
        assert forced.status_code == 400
        assert "another browser" in forced.text
        assert "callbridge_session" not in forced.headers.get("set-cookie", "")
        # a state nobody issued
        parts = urlsplit(back)
        code = parse_qs(parts.query)["code"][0]
        assert attacker.get("/sso/callback", params={"code": code, "state": "forged"}).status_code == 400
        assert attacker.get("/sso/callback", params={"code": code}).status_code == 400
        # the real browser can still finish its own sign-in
        assert attacker.get(back).status_code == 303


def test_a_replayed_code_is_refused(cb: Callbridge, crm: Crm) -> None:
    with browser_client(cb.base_url) as browser:
        back = at_the_crm(crm, start_login(browser, TENANT), "abe@example.com")
        assert browser.get(back).status_code == 303
        assert browser.get(back).status_code == 400  # the same callback again: the state was used
        code = parse_qs(urlsplit(back).query)["code"][0]
        fresh = parse_qs(urlsplit(start_login(browser, TENANT)).query)["state"][0]
        replayed = browser.get("/sso/callback", params={"code": code, "state": fresh})
        assert replayed.status_code == 403
        assert "refused the authorization code" in replayed.text


def test_a_wrong_nonce_is_refused(cb: Callbridge, crm: Crm) -> None:
    with browser_client(cb.base_url) as browser:
        back = at_the_crm(crm, start_login(browser, TENANT), "abe@example.com")
        with cb.engine.begin() as connection:  # the ID token will carry the nonce of the request, not this one
            connection.execute(update(sso_pending_logins).values(nonce="another-sign-in"))
        refused = browser.get(back)
        assert refused.status_code == 403
        assert "nonce" in refused.text


def test_an_issuer_other_than_the_configured_one_is_refused(cb: Callbridge, crm: Crm) -> None:
    with cb.api() as api:
        assert api.post("/api/v1/tenants", json={"id": "mixup", "name": "Mix-up"}).status_code == 201
        other_host = crm.base_url.replace("localhost", "127.0.0.1")  # same server, but not the issuer it states
        body = {"kind": "oidc", "issuer": other_host, "client_id": crm.client_id, "client_secret": crm.client_secret}
        assert api.put("/api/v1/tenants/mixup/sso", json=body).status_code == 200
    with browser_client(cb.base_url) as browser:
        response = browser.get("/sso/login", params={"tenant": "mixup"})
        assert response.status_code == 502
        assert "not the configured" in response.text


def test_open_redirects_through_next_are_refused(cb: Callbridge, browser: httpx.Client) -> None:
    for target in ("https://evil.example/", "//evil.example/console", "/\\evil.example", "/api/v1/me", "javascript:x"):
        response = browser.get("/sso/login", params={"tenant": TENANT, "next": target})
        assert response.status_code == 400, target
        assert "does not trust" in response.text
    ok = browser.get("/sso/login", params={"tenant": TENANT, "next": f"/console?tenant={TENANT}&sandbox=true"})
    assert ok.status_code == 302


def test_an_unknown_tenant_gets_a_clear_page(browser: httpx.Client) -> None:
    for path in ("/sso/login?tenant=nope", "/console?tenant=nope", "/sso/login"):
        response = browser.get(path)
        assert response.status_code == 404
        assert "has no tenant called" in response.text
        assert "Traceback" not in response.text


def test_the_popup_hands_the_sign_in_to_the_frame_that_started_it(cb: Callbridge, crm: Crm) -> None:
    verifier = "v" * 43
    with browser_client(cb.base_url) as popup, browser_client(cb.base_url) as frame:
        url = start_login(popup, TENANT, popup="1", handoff=s256(verifier))
        page = popup.get(at_the_crm(crm, url, "abe@example.com"))
        assert page.status_code == 200
        assert page.headers["content-security-policy"].endswith("frame-ancestors 'none'")
        notice = json.loads(page.text.split('id="sso-notice"', 1)[1].split(">", 1)[1].split("</script>", 1)[0])
        assert notice["type"] == "callbridge-sso"
        assert f'data-target-origin="{cb.base_url}"' in page.text
        # another window (wrong verifier) cannot redeem it, and the code is spent by the attempt
        wrong = frame.post("/sso/handoff", json={"tenant": TENANT, "code": notice["code"], "verifier": "w" * 43})
        assert wrong.status_code == 403
        page = popup.get(
            at_the_crm(crm, start_login(popup, TENANT, popup="1", handoff=s256(verifier)), "abe@example.com")
        )
        notice = json.loads(page.text.split('id="sso-notice"', 1)[1].split(">", 1)[1].split("</script>", 1)[0])
        foreign = frame.post(
            "/sso/handoff",
            json={"tenant": TENANT, "code": notice["code"], "verifier": verifier},
            headers={"Origin": "https://evil.example"},
        )
        assert foreign.status_code == 403  # only Callbridge's own pages may redeem
        redeemed = frame.post("/sso/handoff", json={"tenant": TENANT, "code": notice["code"], "verifier": verifier})
        assert redeemed.status_code == 200, redeemed.text
        assert redeemed.json()["agent_id"] == "abe"
        assert any("Partitioned" in c for c in redeemed.headers.get_list("set-cookie"))
        assert frame.get("/api/v1/me").json()["me"] == "abe"
        again = frame.post("/sso/handoff", json={"tenant": TENANT, "code": notice["code"], "verifier": verifier})
        assert again.status_code == 403


def refused_socket(url: str, origin: str) -> bool:
    """True when the server refuses the WebSocket (handshake refused, or closed with a 4xxx code)."""
    try:
        with connect(url, origin=origin) as socket:  # type: ignore[arg-type]
            socket.recv(5)
    except InvalidStatus as error:
        return bool(error.response.status_code == 403)
    except ConnectionClosed as error:
        return error.rcvd is not None and error.rcvd.code >= 4000
    return False


def test_websockets_need_a_ticket_and_an_allowed_origin(cb: Callbridge, crm: Crm) -> None:
    ws_base = cb.base_url.replace("http://", "ws://")
    with browser_client(cb.base_url) as browser:
        sign_in(browser, crm, "abe@example.com")

        def ticket() -> str:
            response = browser.post("/api/v1/realtime/tickets")
            assert response.status_code == 201
            return str(response.json()["url"])

        with connect(f"{ws_base}{ticket()}", origin=crm.base_url) as socket:  # type: ignore[arg-type]
            init = json.loads(socket.recv(5))
            assert init["type"] == "init"
            assert init["snapshot"]["agents"]["abe"]["status"] == "break"
        assert refused_socket(f"{ws_base}{ticket()}", "https://evil.example")  # a foreign origin
        assert refused_socket(f"{ws_base}/api/v1/realtime", crm.base_url)  # no ticket
        assert refused_socket(f"{ws_base}/api/v1/realtime?ticket=made-up", crm.base_url)


def test_admin_api_never_shows_the_client_secret(cb: Callbridge) -> None:
    with cb.api() as api:
        settings = api.get(f"/api/v1/tenants/{TENANT}/sso").json()
        assert settings["client_secret_set"] is True
        assert "client_secret" not in settings
        assert settings["redirect_uri"] == f"{cb.base_url}/sso/callback"
        assert settings["launch_url"] == f"{cb.base_url}/sso/login?tenant={TENANT}"
        bad = api.put(
            f"/api/v1/tenants/{TENANT}/sso", json={"kind": "oidc", "issuer": "http://idp.example", "client_id": "x"}
        )
        assert bad.status_code == 422
        assert bad.json()["field"] == "issuer"
        sf = api.post("/api/v1/tenants", json={"id": "sf", "name": "SF"})
        assert sf.status_code == 201
        body = {
            "kind": "salesforce",
            "client_id": "3MVG9",
            "client_secret": "s",
            "login_host": "acme.my.salesforce.com",
        }
        saved = api.put("/api/v1/tenants/sf/sso", json=body).json()
        assert saved["login_host"] == "acme.my.salesforce.com"
        assert "api" in saved["scope"].split()
    with browser_client(cb.base_url) as anonymous:
        assert anonymous.get(f"/api/v1/tenants/{TENANT}/sso").status_code == 401


def test_agents_roles_never_come_from_the_provider(cb: Callbridge, crm: Crm) -> None:
    with browser_client(cb.base_url) as browser:
        sign_in(browser, crm, "roy@example.com")
        assert browser.get(f"/api/v1/tenants/{TENANT}/sso/warnings").status_code == 403
