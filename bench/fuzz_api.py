"""Fuzzes the REST API with schemathesis against `/openapi.json`: `scripts/fuzz-api [--quick]`.

A real server (`python -m callbridge serve`, SQLite, one tenant with queues and signed-in agents) is sent
property-based requests for every operation, generated from the OpenAPI description (examples, coverage of
each field's boundaries, then random valid and invalid data), three times: as an integration (API key), as
an agent, and as a Callbridge administrator. The check is `not_a_server_error`: every 5xx is a failure. The
path parameter `tenant_id` is the provisioned tenant, so requests reach the code behind the tenant check.

Bounded: `--max-examples` per operation (5 with --quick, 30 otherwise). Not part of the test suite; run it on a
schedule or before a release. The result lists requests sent, responses by status class, and each 5xx
(operation, status, how to reproduce: see the reports in the run's folder).
"""

from __future__ import annotations

import collections
import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import httpx

from bench._server import ADMIN_EMAIL, ADMIN_PASSWORD, progress, provision, serve

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


def _fuzz(schemathesis: str, directory: Path, base_url: str, who: str, token: str, max_examples: int) -> dict[str, Any]:
    har = directory / f"{who}.har"
    command = [
        schemathesis,
        "--config-file",
        str(directory / "schemathesis.toml"),
        "run",
        f"{base_url}/openapi.json",
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
