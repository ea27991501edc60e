"""Fuzzes the REST APIs with schemathesis against their OpenAPI descriptions: `scripts/fuzz-api [--quick]`.

A real server (`python -m callbridge serve`, SQLite, one tenant with queues and signed-in agents) is sent
property-based requests for every operation, generated from the OpenAPI description (examples, coverage of
each field's boundaries, then random valid and invalid data), three times: as an integration (API key), as
an agent, and as a Callbridge administrator. The check is `not_a_server_error`: every 5xx is a failure. The
path parameter `tenant_id` is the provisioned tenant, so requests reach the code behind the tenant check.

The built-in CRM's REST API (`/api/v1/openapi.json`, a real server with demo records) gets the same, as a CRM
user and as a CRM admin (access tokens minted as its identity provider stores them).

Bounded: `--max-examples` per operation (5 with --quick, 30 otherwise). Not part of the test suite; run it on a
schedule or before a release. The result lists requests sent, responses by status class, and each 5xx
(operation, status, how to reproduce: see the reports in the run's folder).
"""

from __future__ import annotations

import collections
import json
import secrets
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.orm import Session

from bench._server import ADMIN_EMAIL, ADMIN_PASSWORD, progress, provision, serve
from callbridge_crm import admin as crm_admin
from callbridge_crm import db as crm_database
from callbridge_crm.config import CrmSettings
from callbridge_crm.models import OAuthToken
from callbridge_crm.oidc import hash_token
from callbridge_crm.seed import seed_demo
from callbridge_crm.server import CrmServer

CONFIG = """\
[parameters]
"path.tenant_id" = "tenant1"
"""
# signing out in the middle of the run would leave the rest of it unauthenticated
EXCLUDE = r"^/api/v1/me/sign-out$"


def run(quick: bool) -> dict[str, Any]:
    schemathesis = shutil.which("schemathesis") or str(Path(__import__("sys").executable).parent / "schemathesis")
    if not Path(schemathesis).exists():
        raise RuntimeError("schemathesis is not installed: run scripts/fuzz-api (it installs '.[fuzz]')")
    max_examples = 5 if quick else 30
    directory = Path(tempfile.mkdtemp(prefix="callbridge-fuzz-"))
    provisioned = provision(directory, tenants=1, agents_per_tenant=2)
    (directory / "schemathesis.toml").write_text(CONFIG)
    passes: dict[str, dict[str, Any]] = {}
    with serve(directory, provisioned.database_url) as (base_url, _pid):
        login = httpx.post(
            f"{base_url}/api/v1/auth/admin-sessions", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
        )
        login.raise_for_status()
        credentials = {
            "api_key": provisioned.api_keys["tenant1"],
            "agent": provisioned.agents[0].token,
            "admin": login.json()["token"],
        }
        for who, token in credentials.items():
            progress(f"fuzzing as {who} ({max_examples} examples per operation)")
            passes[who] = _fuzz(schemathesis, directory, base_url, who, token, max_examples)
    passes.update(_fuzz_crm(schemathesis, directory, max_examples))
    total = collections.Counter[str]()
    for result in passes.values():
        total.update(result["responses"])
    server_errors = [error for result in passes.values() for error in result["server_errors"]]
    return {
        "max_examples_per_operation": max_examples,
        "requests": sum(r["requests"] for r in passes.values()),
        "responses": dict(sorted(total.items())),
        "server_errors": len(server_errors),
        "server_error_operations": sorted({e["operation"] for e in server_errors}),
        "by_identity": {who: {k: v for k, v in r.items() if k != "server_errors"} for who, r in passes.items()},
        "reports": str(directory),
    }


def _fuzz_crm(schemathesis: str, directory: Path, max_examples: int) -> dict[str, dict[str, Any]]:
    """The built-in CRM's REST API, as a user and as an admin, on a CRM with demo records."""
    folder = directory / "crm"
    folder.mkdir()
    database_url = f"sqlite:///{folder / 'crm.sqlite3'}"
    seed_demo(database_url, contacts=300, accounts=30, leads=20, cases=100, activities=200)
    tokens = {
        "crm_user": _crm_token(database_url, "fuzz-user@example.com", is_admin=False),
        "crm_admin": _crm_token(database_url, "fuzz-admin@example.com", is_admin=True),
    }
    (folder / "schemathesis.toml").write_text("")
    server = CrmServer.start(CrmSettings(database_url=database_url), host="127.0.0.1", port=0)
    try:
        results = {}
        for who, token in tokens.items():
            progress(f"fuzzing the built-in CRM as {who} ({max_examples} examples per operation)")
            spec = f"{server.base_url}/api/v1/openapi.json"
            results[who] = _fuzz(schemathesis, folder, server.base_url, who, token, max_examples, spec=spec)
        return results
    finally:
        server.stop()


def _crm_token(database_url: str, email: str, *, is_admin: bool) -> str:
    """An access token (crm.read, crm.write) for a new CRM user, stored as the identity provider stores its own."""
    user_id = crm_admin.create_user(
        database_url, email=email, name=email.split("@")[0], password=secrets.token_urlsafe(16), admin=is_admin
    )
    client = crm_admin.register_client(database_url, name=f"fuzz {email}", redirect_uris=["http://127.0.0.1/cb"])
    token = secrets.token_urlsafe(32)
    engine = crm_database.make_engine(database_url)
    with Session(engine) as session, session.begin():
        session.add(
            OAuthToken(
                client_id=client.client_id,
                user_id=user_id,
                access_token_hash=hash_token(token),
                scope="openid email crm.read crm.write",
                issued_at=int(time.time()),
                expires_in=86400,
            )
        )
    engine.dispose()
    return token


def _fuzz(
    schemathesis: str,
    directory: Path,
    base_url: str,
    who: str,
    token: str,
    max_examples: int,
    *,
    spec: str = "",
) -> dict[str, Any]:
    har = directory / f"{who}.har"
    command = [
        schemathesis,
        "--config-file",
        str(directory / "schemathesis.toml"),
        "run",
        spec or f"{base_url}/openapi.json",
        "--header",
        f"Authorization: Bearer {token}",
        "--checks",
        "not_a_server_error",
        "--max-examples",
        str(max_examples),
        "--phases",
        "examples,coverage,fuzzing",
        "--exclude-path-regex",
        EXCLUDE,
        "--workers",
        "1",
        "--seed",
        "14",
        "--request-timeout",
        "20",
        "--suppress-health-check",
        "all",
        "--report",
        "har,junit",
        "--report-har-path",
        str(har),
        "--report-junit-path",
        str(directory / f"{who}.junit.xml"),
    ]
    with (directory / f"{who}.log").open("w") as log:
        subprocess.run(command, cwd=directory, stdout=log, stderr=subprocess.STDOUT, check=False)  # noqa: S603
    entries = json.loads(har.read_text())["log"]["entries"] if har.exists() else []
    responses = collections.Counter(f"{e['response']['status'] // 100}xx" for e in entries)
    server_errors = [
        {"operation": _operation(e["request"]), "status": e["response"]["status"]}
        for e in entries
        if e["response"]["status"] >= 500
    ]
    return {"requests": len(entries), "responses": dict(responses), "server_errors": server_errors}


def _operation(request: dict[str, Any]) -> str:
    return f"{request['method']} {request['url'].split('?')[0]}"
