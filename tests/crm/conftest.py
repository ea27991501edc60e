"""Fixtures for the built-in CRM: one real server per test module, tokens, an API client."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from crm_helpers import Crm, access_token_for, start_crm


@pytest.fixture(scope="module")
def crm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Crm]:
    started = start_crm(tmp_path_factory.mktemp("crm"))
    yield started
    started.server.stop()


@pytest.fixture(scope="module")
def agent_token(crm: Crm) -> str:
    return str(access_token_for(crm)["access_token"])


@pytest.fixture
def api(crm: Crm, agent_token: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{crm.base_url}/api/v1", headers={"Authorization": f"Bearer {agent_token}"}) as client:
        yield client
