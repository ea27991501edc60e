"""One Callbridge and one built-in CRM for the console's browser tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.console.console_support import TENANT, Site
from tests.sso.sso_helpers import start_callbridge, start_crm


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    cb = start_callbridge(tmp_path_factory.mktemp("callbridge"))
    crm = start_crm(tmp_path_factory.mktemp("crm"), cb.base_url, f"/console?tenant={TENANT}")
    with cb.api() as api:
        response = api.post("/api/v1/tenants", json={"id": TENANT, "name": "Acme", "allowed_origins": [crm.base_url]})
        assert response.status_code == 201, response.text
        sso = {
            "kind": "builtin_crm",
            "issuer": crm.base_url,
            "client_id": crm.client_id,
            "client_secret": crm.client_secret,
        }
        response = api.put(f"/api/v1/tenants/{TENANT}/sso", json=sso)
        assert response.status_code == 200, response.text
        response = api.post(f"/api/v1/tenants/{TENANT}/api-keys", json={"name": "pbx"})
        assert response.status_code == 201, response.text
        pbx = {"Authorization": f"Bearer {response.json()['secret']}"}
    yield Site(cb, crm, pbx)
    crm.server.stop()
    cb.stop()
