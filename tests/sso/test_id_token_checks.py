"""The relying party's checks on what a provider sends, with ID tokens signed here by a test key."""

from __future__ import annotations

import time
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey
from tests.conftest import run_coroutine

from callbridge.auth.oidc import (
    UNVERIFIED,
    ProviderConfig,
    ProviderKind,
    RelyingParty,
    SignInRefused,
    identity_from,
    require_secure_url,
)
from callbridge.auth.secrets import DecryptionFailed, TokenCipher
from callbridge.web.cookies import cookie_header
from callbridge.web.sso import safe_next

ISSUER = "https://idp.example"
JWKS_URL = f"{ISSUER}/jwks"
KEY = RSAKey.generate_key(2048, parameters={"kid": "k1"})
OTHER_KEY = RSAKey.generate_key(2048, parameters={"kid": "k1"})
CONFIG = ProviderConfig("acme", ProviderKind.OIDC, "IdP", "callbridge", "secret", "openid email", issuer=ISSUER)
METADATA = {"issuer": ISSUER, "jwks_uri": JWKS_URL}


class KnownKeys(RelyingParty):
    """The provider's key set is the test key's, fetched or cached."""

    async def _get_json(self, url: str, what: str, *, fresh: bool = False) -> dict[str, Any]:
        assert url == JWKS_URL
        return {"keys": [KEY.as_dict(private=False)]}


def relying_party() -> RelyingParty:
    return KnownKeys()


def id_token(key: RSAKey = KEY, **overrides: Any) -> str:
    now = int(time.time())
    claims = {"iss": ISSUER, "sub": "u1", "aud": "callbridge", "nonce": "n1", "iat": now, "exp": now + 300}
    claims.update(overrides)
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode({"alg": "RS256", "kid": "k1"}, claims, key)


def verify(token: str, nonce: str = "n1") -> dict[str, Any]:
    return run_coroutine(relying_party().verify_id_token(CONFIG, METADATA, token, nonce))


def test_a_valid_id_token_passes() -> None:
    assert verify(id_token())["sub"] == "u1"
    assert verify(id_token(aud=["callbridge", "other"], azp="callbridge"))["sub"] == "u1"


@pytest.mark.parametrize(
    ("token", "code"),
    [
        (id_token(iss="https://evil.example"), "wrong_issuer"),
        (id_token(aud="another-app"), "wrong_audience"),
        (id_token(aud=["callbridge", "other"]), "wrong_audience"),  # several audiences, no azp
        (id_token(nonce="n2"), "wrong_nonce"),
        (id_token(nonce=None), "wrong_nonce"),
        (id_token(exp=int(time.time()) - 3600), "bad_id_token"),
        (id_token(sub=None), "bad_id_token"),
        (id_token(key=OTHER_KEY), "bad_id_token"),  # not signed by the provider's key
        (id_token(iat=None), "bad_id_token"),  # OpenID Connect Core requires iat
    ],
)
def test_id_tokens_that_must_be_refused(token: str, code: str) -> None:
    with pytest.raises(SignInRefused) as refused:
        verify(token)
    assert refused.value.code == code
    # people read a plain reason; which check stopped the token is for the log only
    assert refused.value.message == UNVERIFIED
    assert refused.value.detail


def test_the_library_text_stays_in_the_log_detail() -> None:
    with pytest.raises(SignInRefused) as refused:
        verify(id_token(exp=int(time.time()) - 3600))
    assert "exp" in refused.value.detail
    assert "exp" not in refused.value.message


def test_salesforce_identities_are_keyed_on_organization_and_user() -> None:
    config = ProviderConfig("acme", ProviderKind.SALESFORCE, "Salesforce", "3MVG", "s", "openid email api")
    claims = {"iss": "https://login.salesforce.com", "sub": "https://login.salesforce.com/id/00Dx/005y"}
    userinfo = {
        "sub": claims["sub"],
        "user_id": "005y",
        "organization_id": "00Dx",
        "email": "Ann@Example.com",
        "email_verified": True,
    }
    identity = identity_from(config, claims, userinfo)
    assert (identity.issuer_key, identity.subject) == ("salesforce:00Dx", "005y")
    assert identity.email_verified
    assert config.expected_issuer(sandbox=True) == "https://test.salesforce.com"
    assert config.expected_issuer(sandbox=False) == "https://login.salesforce.com"
    my_domain = ProviderConfig(
        "acme", ProviderKind.SALESFORCE, "SF", "c", None, "openid", login_host="acme.my.salesforce.com"
    )
    assert my_domain.metadata_url(False) == "https://acme.my.salesforce.com/.well-known/openid-configuration"
    with pytest.raises(SignInRefused):
        identity_from(config, claims, {**userinfo, "sub": "someone else"})


@pytest.mark.parametrize("verified", [None, False, "false", "yes", 1])
def test_an_email_is_verified_only_when_the_provider_says_so(verified: Any) -> None:
    claims = {"iss": ISSUER, "sub": "u1", "email": "a@example.com", "email_verified": verified}
    assert not identity_from(CONFIG, claims, {}).email_verified


def test_provider_urls_must_be_https_except_on_this_machine() -> None:
    assert require_secure_url("http://127.0.0.1:8100", "issuer")
    assert require_secure_url("https://login.salesforce.com", "issuer")
    with pytest.raises(ValueError, match="https"):
        require_secure_url("http://idp.example", "issuer")


def test_next_targets_are_callbridge_pages_only() -> None:
    assert safe_next("", "acme") == "/console?tenant=acme"
    assert safe_next("/console?tenant=acme", "acme") == "/console?tenant=acme"
    for target in ("https://evil.example", "//evil.example", "/\\evil", "/api/v1/me", "/console\r\nX: y"):
        assert safe_next(target, "acme") is None


def test_session_cookies_are_partitioned_for_frames_in_a_secure_context() -> None:
    header = cookie_header("s", "v", max_age=60, path="/", secure=True, frameable=True)
    assert header == "s=v; Path=/; Max-Age=60; HttpOnly; Secure; SameSite=None; Partitioned"
    assert "Secure" not in cookie_header("s", "v", max_age=60, path="/", secure=False, frameable=True)


def test_tokens_at_rest_are_encrypted_and_authenticated() -> None:
    cipher = TokenCipher("one key")
    stored = cipher.encrypt("access-token")
    assert b"access-token" not in stored
    assert cipher.decrypt(stored) == "access-token"
    with pytest.raises(DecryptionFailed):
        TokenCipher("another key").decrypt(stored)
