"""The CRM as an OpenID Connect provider, driven over HTTP by Authlib's relying-party client."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from authlib.common.security import generate_token
from authlib.integrations.base_client.errors import OAuthError
from authlib.oauth2.rfc6749.errors import MismatchingStateException
from crm_helpers import (
    REDIRECT_URI,
    Crm,
    access_token_for,
    authorize_in_browser,
    csrf_of,
    oauth_client_class,
    sign_in,
)
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import create_engine, update
from sqlalchemy.orm import Session

from callbridge_crm.models import OAuthToken
from callbridge_crm.oidc import hash_token

SCOPE = "openid email profile crm.read crm.write"


def rp_client(crm: Crm, **kwargs: object):
    client_class = oauth_client_class()
    options = {"scope": SCOPE, "redirect_uri": REDIRECT_URI, "code_challenge_method": "S256", **kwargs}
    return client_class(crm.client_id, crm.client_secret, **options)


def test_discovery_document_describes_the_provider(crm: Crm) -> None:
    metadata = httpx.get(f"{crm.base_url}/.well-known/openid-configuration").json()
    assert metadata["issuer"] == crm.base_url
    assert metadata["authorization_endpoint"] == f"{crm.base_url}/oauth2/authorize"
    assert "S256" in metadata["code_challenge_methods_supported"]
    assert metadata["id_token_signing_alg_values_supported"] == ["RS256"]
    for key in ("token_endpoint", "userinfo_endpoint", "revocation_endpoint", "jwks_uri"):
        assert httpx.options(metadata[key]).status_code < 500


def test_relying_party_completes_code_flow_with_pkce_and_gets_signed_id_token(crm: Crm) -> None:
    verifier = generate_token(48)
    nonce = generate_token(20)
    with rp_client(crm) as client:
        url, state = client.create_authorization_url(
            f"{crm.base_url}/oauth2/authorize", code_verifier=verifier, nonce=nonce
        )
        callback = authorize_in_browser(crm, url, "ann@example.com")
        assert str(callback).startswith(REDIRECT_URI)
        assert parse_qs(callback.query.decode())["state"] == [state]
        token = client.fetch_token(
            f"{crm.base_url}/oauth2/token", authorization_response=str(callback), code_verifier=verifier, state=state
        )
        assert token["token_type"].lower() == "bearer"
        assert token["refresh_token"]

        jwks = KeySet.import_key_set(httpx.get(f"{crm.base_url}/oauth2/jwks").json())
        decoded = jwt.decode(token["id_token"], jwks, algorithms=["RS256"])
        assert decoded.header["alg"] == "RS256"
        jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": crm.base_url},
            aud={"essential": True, "value": crm.client_id},
            nonce={"essential": True, "value": nonce},
            exp={"essential": True},
        ).validate(decoded.claims)
        assert decoded.claims["email"] == "ann@example.com"
        assert decoded.claims["email_verified"] is True

        userinfo = client.get(f"{crm.base_url}/oauth2/userinfo").json()
        assert userinfo["email"] == "ann@example.com"
        assert userinfo["email_verified"] is True
        assert userinfo["sub"] == decoded.claims["sub"]
        assert userinfo["name"] == "Ann Admin"


def test_consent_is_asked_once_per_user_and_client(crm: Crm) -> None:
    with rp_client(crm) as client, httpx.Client(base_url=crm.base_url) as person:
        sign_in(person, "nia@example.com")
        url, _state = client.create_authorization_url(
            f"{crm.base_url}/oauth2/authorize", code_verifier=generate_token(48)
        )
        first = person.get(url)
        assert first.status_code == 200
        assert "Allow" in first.text
        assert "frame-ancestors 'none'" in first.headers["content-security-policy"]
        assert first.headers["x-frame-options"] == "DENY"
        action = first.text.split('<form method="post" action="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
        allowed = person.post(action, data={"csrf_token": csrf_of(first.text), "decision": "allow"})
        assert allowed.status_code == 302
        assert "code=" in allowed.headers["location"]

        url, _state = client.create_authorization_url(
            f"{crm.base_url}/oauth2/authorize", code_verifier=generate_token(48)
        )
        second = person.get(url)
        assert second.status_code == 302
        assert "code=" in second.headers["location"]


def test_denying_consent_returns_access_denied(crm: Crm) -> None:
    with rp_client(crm) as client, httpx.Client(base_url=crm.base_url) as person:
        sign_in(person, "ann@example.com")
        url, _state = client.create_authorization_url(
            f"{crm.base_url}/oauth2/authorize", code_verifier=generate_token(48), prompt="consent"
        )
        page = person.get(url)
        action = page.text.split('<form method="post" action="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
        denied = person.post(action, data={"csrf_token": csrf_of(page.text), "decision": "deny"})
        assert parse_qs(urlsplit(denied.headers["location"]).query)["error"] == ["access_denied"]


def test_prompt_none_answers_login_required_then_consent_required(crm: Crm, tmp_path: object) -> None:
    with rp_client(crm) as client, httpx.Client(base_url=crm.base_url) as person:
        url, state = client.create_authorization_url(
            f"{crm.base_url}/oauth2/authorize", code_verifier=generate_token(48), prompt="none"
        )
        anonymous = person.get(url)
        query = parse_qs(urlsplit(anonymous.headers["location"]).query)
        assert anonymous.headers["location"].startswith(REDIRECT_URI)
        assert query["error"] == ["login_required"]
        assert query["state"] == [state]

        sign_in(person, "abe@example.com")
        from sqlalchemy import delete

        from callbridge_crm.models import Consent

        engine = create_engine(crm.database_url)
        with Session(engine) as session, session.begin():
            session.execute(delete(Consent))
        engine.dispose()
        signed_in = person.get(url)
        query = parse_qs(urlsplit(signed_in.headers["location"]).query)
        assert query["error"] == ["consent_required"]
        assert query["state"] == [state]


def test_sign_in_page_refuses_to_be_framed(crm: Crm) -> None:
    page = httpx.get(f"{crm.base_url}/login")
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"


def test_tampered_state_is_refused_by_the_relying_party(crm: Crm) -> None:
    verifier = generate_token(48)
    with rp_client(crm) as client:
        url, state = client.create_authorization_url(f"{crm.base_url}/oauth2/authorize", code_verifier=verifier)
        callback = authorize_in_browser(crm, url)
        forged = str(callback).replace(f"state={state}", "state=forged")
        with pytest.raises(MismatchingStateException):
            client.fetch_token(
                f"{crm.base_url}/oauth2/token", authorization_response=forged, code_verifier=verifier, state=state
            )


def test_wrong_pkce_verifier_is_refused(crm: Crm) -> None:
    with rp_client(crm) as client:
        url, state = client.create_authorization_url(
            f"{crm.base_url}/oauth2/authorize", code_verifier=generate_token(48)
        )
        callback = authorize_in_browser(crm, url)
        with pytest.raises(OAuthError) as refused:
            client.fetch_token(
                f"{crm.base_url}/oauth2/token",
                authorization_response=str(callback),
                code_verifier=generate_token(48),
                state=state,
            )
        assert refused.value.error == "invalid_grant"


def test_public_client_must_send_a_verifier(crm: Crm) -> None:
    client_class = oauth_client_class()
    with client_class(
        crm.public_client_id, scope=SCOPE, redirect_uri=REDIRECT_URI, token_endpoint_auth_method="none"
    ) as client:
        url, _state = client.create_authorization_url(f"{crm.base_url}/oauth2/authorize")
        page = httpx.get(url, follow_redirects=False)
        # Without a code_challenge nothing protects the code of a client with no secret.
        callback = (
            authorize_in_browser(crm, url) if page.status_code == 302 and "/login" in page.headers["location"] else None
        )
        assert callback is not None
        response = httpx.post(
            f"{crm.base_url}/oauth2/token",
            data={
                "grant_type": "authorization_code",
                "code": parse_qs(callback.query.decode())["code"][0],
                "redirect_uri": REDIRECT_URI,
                "client_id": crm.public_client_id,
            },
        )
        assert response.status_code == 400
        assert response.json()["error"] == "invalid_request"


def test_public_client_with_pkce_gets_tokens(crm: Crm) -> None:
    client_class = oauth_client_class()
    verifier = generate_token(48)
    with client_class(
        crm.public_client_id,
        scope=SCOPE,
        redirect_uri=REDIRECT_URI,
        code_challenge_method="S256",
        token_endpoint_auth_method="none",
    ) as client:
        url, state = client.create_authorization_url(f"{crm.base_url}/oauth2/authorize", code_verifier=verifier)
        callback = authorize_in_browser(crm, url)
        token = client.fetch_token(
            f"{crm.base_url}/oauth2/token", authorization_response=str(callback), code_verifier=verifier, state=state
        )
        assert token["access_token"]
        assert token["id_token"]


def test_unregistered_redirect_uri_is_refused_without_redirecting(crm: Crm) -> None:
    with (
        rp_client(crm, redirect_uri="http://127.0.0.1:9/sso/callback/evil") as client,
        httpx.Client(base_url=crm.base_url) as person,
    ):
        sign_in(person)
        url, _state = client.create_authorization_url(
            f"{crm.base_url}/oauth2/authorize", code_verifier=generate_token(48)
        )
        response = person.get(url)
        assert response.status_code == 400
        assert "location" not in response.headers
        assert "invalid_request" in response.text


def test_redirect_uri_must_match_at_token_exchange(crm: Crm) -> None:
    verifier = generate_token(48)
    with rp_client(crm) as client:
        url, _state = client.create_authorization_url(f"{crm.base_url}/oauth2/authorize", code_verifier=verifier)
        callback = authorize_in_browser(crm, url)
    response = httpx.post(
        f"{crm.base_url}/oauth2/token",
        auth=(crm.client_id, crm.client_secret),
        data={
            "grant_type": "authorization_code",
            "code": parse_qs(callback.query.decode())["code"][0],
            "redirect_uri": REDIRECT_URI + "/other",
            "code_verifier": verifier,
        },
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_a_code_works_once_and_its_replay_revokes_what_it_gave(crm: Crm) -> None:
    verifier = generate_token(48)
    with rp_client(crm) as client:
        url, _state = client.create_authorization_url(f"{crm.base_url}/oauth2/authorize", code_verifier=verifier)
        callback = authorize_in_browser(crm, url)
    exchange = {
        "grant_type": "authorization_code",
        "code": parse_qs(callback.query.decode())["code"][0],
        "redirect_uri": REDIRECT_URI,
        "code_verifier": verifier,
    }
    first = httpx.post(f"{crm.base_url}/oauth2/token", auth=(crm.client_id, crm.client_secret), data=exchange)
    assert first.status_code == 200
    issued = first.json()
    # a refresh before the replay: the rotated tokens descend from the same code
    refreshed = httpx.post(
        f"{crm.base_url}/oauth2/token",
        auth=(crm.client_id, crm.client_secret),
        data={"grant_type": "refresh_token", "refresh_token": issued["refresh_token"]},
    ).json()
    users = f"{crm.base_url}/api/v1/users"
    assert httpx.get(users, headers={"Authorization": f"Bearer {refreshed['access_token']}"}).status_code == 200
    again = httpx.post(f"{crm.base_url}/oauth2/token", auth=(crm.client_id, crm.client_secret), data=exchange)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"
    # RFC 6749 section 4.1.2: the replay revokes every token issued from that code
    assert httpx.get(users, headers={"Authorization": f"Bearer {refreshed['access_token']}"}).status_code == 401
    refresh_again = httpx.post(
        f"{crm.base_url}/oauth2/token",
        auth=(crm.client_id, crm.client_secret),
        data={"grant_type": "refresh_token", "refresh_token": refreshed["refresh_token"]},
    )
    assert refresh_again.json()["error"] == "invalid_grant"


def test_wrong_client_secret_is_refused(crm: Crm) -> None:
    response = httpx.post(
        f"{crm.base_url}/oauth2/token",
        auth=(crm.client_id, "not-the-secret"),
        data={"grant_type": "authorization_code", "code": "x", "redirect_uri": REDIRECT_URI},
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_expired_access_token_is_refused(crm: Crm) -> None:
    token = access_token_for(crm)
    engine = create_engine(crm.database_url)
    with Session(engine) as session, session.begin():
        session.execute(
            update(OAuthToken)
            .where(OAuthToken.access_token_hash == hash_token(token["access_token"]))
            .values(issued_at=int(time.time()) - 7200)
        )
    engine.dispose()
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    api = httpx.get(f"{crm.base_url}/api/v1/users", headers=headers)
    assert api.status_code == 401
    assert api.json()[0]["errorCode"] == "INVALID_SESSION_ID"
    assert httpx.get(f"{crm.base_url}/oauth2/userinfo", headers=headers).status_code == 401


def test_refresh_then_revoke(crm: Crm) -> None:
    token = access_token_for(crm)
    with rp_client(crm, scope=token["scope"]) as client:
        refreshed = client.refresh_token(f"{crm.base_url}/oauth2/token", refresh_token=token["refresh_token"])
    assert refreshed["access_token"] != token["access_token"]
    old = httpx.get(f"{crm.base_url}/api/v1/users", headers={"Authorization": f"Bearer {token['access_token']}"})
    assert old.status_code == 401
    headers = {"Authorization": f"Bearer {refreshed['access_token']}"}
    assert httpx.get(f"{crm.base_url}/api/v1/users", headers=headers).status_code == 200

    revoked = httpx.post(
        f"{crm.base_url}/oauth2/revoke",
        auth=(crm.client_id, crm.client_secret),
        data={"token": refreshed["refresh_token"], "token_type_hint": "refresh_token"},
    )
    assert revoked.status_code == 200
    assert httpx.get(f"{crm.base_url}/api/v1/users", headers=headers).status_code == 401
    again = httpx.post(
        f"{crm.base_url}/oauth2/token",
        auth=(crm.client_id, crm.client_secret),
        data={"grant_type": "refresh_token", "refresh_token": refreshed["refresh_token"]},
    )
    assert again.json()["error"] == "invalid_grant"
