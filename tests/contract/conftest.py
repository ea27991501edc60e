"""The CRM connector contract, one suite run against three CRMs that must answer alike: `FakeCrm` (what unit
tests of services use), the built-in CRM over HTTP (a real server) and Salesforce (the connector against the
stand-in of its REST API). Each holds the same people: Ada Lovelace at (415) 555-1212, with a case."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from callbridge.connectors import builtin_crm, salesforce
from callbridge.connectors.base import CrmConnector, CrmRecord, CrmUser
from callbridge.connectors.fake import FakeCrm
from callbridge_crm.records import create_record
from tests.connectors.salesforce.salesforce_standin.rest_api import (
    CLIENT_ID,
    CLIENT_SECRET,
    INSTANCE_URL,
    REFRESH_TOKEN,
    SalesforceRestStandin,
)
from tests.crm.crm_helpers import Crm, access_token_for, start_crm

ADA_PHONE = "(415) 555-1212"
ADA_E164 = "+14155551212"
SALESFORCE_CASE_NUMBER = "00001026"  # the stand-in's fixtures


@dataclass
class Backend:
    name: str
    connector: CrmConnector
    case_number: str


@dataclass
class BuiltinCrm:
    crm: Crm
    case_number: str
    refresh_token: str


@pytest.fixture(scope="module")
def builtin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BuiltinCrm]:
    crm = start_crm(tmp_path_factory.mktemp("contract-crm"))
    engine = create_engine(crm.database_url)
    with Session(engine) as session:
        ada = create_record(
            session, "contact", {"first_name": "Ada", "last_name": "Lovelace", "phone": ADA_PHONE}, "US"
        )
        case = create_record(session, "case", {"subject": "Engine overheats", "contact_id": ada.id}, "US")
        session.commit()
        case_number = case.case_number
    engine.dispose()
    token = access_token_for(crm, "abe@example.com", scope="openid email crm.read crm.write offline_access")
    yield BuiltinCrm(crm, case_number, token["refresh_token"])
    crm.server.stop()


async def _saved(_new: dict[str, str]) -> None:
    return None


@pytest.fixture(params=["fake", "builtin_crm", "salesforce"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    if request.param == "fake":
        fake = FakeCrm(
            [
                CrmRecord("contact", "c-1", "Ada Lovelace", phone=ADA_PHONE),
                CrmRecord("case", "k-1", "Engine overheats", case_number="00000042"),
            ],
            [CrmUser("u-1", "Abe Agent", "abe@example.com")],
        )
        yield Backend("fake", fake, "00000042")
    elif request.param == "builtin_crm":
        found: BuiltinCrm = request.getfixturevalue("builtin")
        secrets = {
            "client_id": found.crm.client_id,
            "client_secret": found.crm.client_secret,
            "refresh_token": found.refresh_token,
        }

        async def rotated(new: dict[str, str]) -> None:  # the CRM rotates refresh tokens: keep the newest
            found.refresh_token = new["refresh_token"]

        async with httpx.AsyncClient() as http:
            connector = builtin_crm.plugin.from_settings({"base_url": found.crm.base_url}, secrets, http, rotated)
            yield Backend("builtin_crm", connector, found.case_number)
    else:
        org = SalesforceRestStandin(valid_tokens=set())
        secrets = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "refresh_token": REFRESH_TOKEN}
        async with httpx.AsyncClient(transport=org.transport()) as http:
            connector = salesforce.plugin.from_settings({"instance_url": INSTANCE_URL}, secrets, http, _saved)
            yield Backend("salesforce", connector, SALESFORCE_CASE_NUMBER)
