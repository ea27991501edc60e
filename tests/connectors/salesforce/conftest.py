from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from salesforce_standin.rest_api import INSTANCE_URL, FakeTokens, SalesforceRestStandin

from callbridge.connectors.salesforce import SalesforceConfig, SalesforceConnector, SalesforceDeps, setup


@pytest.fixture
def org() -> SalesforceRestStandin:
    return SalesforceRestStandin()


@pytest.fixture
def tokens() -> FakeTokens:
    return FakeTokens("token-1", "token-2")


@pytest.fixture
def config() -> SalesforceConfig:
    return SalesforceConfig(instance_url=INSTANCE_URL)


@pytest.fixture
async def connector(
    org: SalesforceRestStandin, tokens: FakeTokens, config: SalesforceConfig
) -> AsyncIterator[SalesforceConnector]:
    async with httpx.AsyncClient(transport=org.transport()) as http:
        yield setup(SalesforceDeps(config=config, tokens=tokens, http=http))
