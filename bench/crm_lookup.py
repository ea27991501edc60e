"""Built-in CRM: phone search latency through the REST API, and CSV import speed.

`python -m bench crm_lookup [--quick] --json` prints {"contacts", "p99_ms", "import_rows_per_s", ...}.
Full size: 1,000,000 contacts imported from a generated CSV file, then phone searches in mixed
formats over one keep-alive HTTP connection to a real server on loopback. Goals: p99 <= 5 ms,
import >= 20,000 rows/s.
"""

from __future__ import annotations

import csv
import gc
import random
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.orm import Session

from callbridge_crm import admin
from callbridge_crm import db as database
from callbridge_crm.config import CrmSettings
from callbridge_crm.importer import import_csv
from callbridge_crm.models import OAuthToken
from callbridge_crm.oidc import hash_token

AREA_CODES = [str(code) for code in range(201, 990) if code % 100 not in (11,) and str(code)[1] != "9"]


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _number(index: int) -> tuple[str, str, str]:
    """A unique North American number for `index`: (area, exchange, line)."""
    area = AREA_CODES[index % len(AREA_CODES)]
    rest = index // len(AREA_CODES)
    return area, str(200 + rest // 10000), f"{rest % 10000:04d}"


def _spell(area: str, exchange: str, line: str, shape: int) -> str:
    return [
        f"({area}) {exchange}-{line}",
        f"+1 {area}-{exchange}-{line}",
        f"{area}{exchange}{line}",
        f"{area}.{exchange}.{line}",
        f"+1 ({area}) {exchange} {line} x12",
    ][shape % 5]


def _write_csv(path: Path, contacts: int, rng: random.Random) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["first_name", "last_name", "email", "phone"])
        for index in range(contacts):
            area, exchange, line = _number(index)
            writer.writerow(
                [f"First{index}", f"Last{index % 5000}", f"c{index}@example.com", _spell(area, exchange, line, index)]
            )


def _mint_token(database_url: str) -> str:
    """An access token for a benchmark user, stored as the identity provider stores its own."""
    user_id = admin.create_user(database_url, email="bench@example.com", name="Bench", password=secrets.token_hex(8))
    credentials = admin.register_client(database_url, name="bench", redirect_uris=["http://127.0.0.1/cb"])
    token = secrets.token_urlsafe(32)
    engine = database.make_engine(database_url)
    with Session(engine) as session, session.begin():
        session.add(
            OAuthToken(
                client_id=credentials.client_id,
                user_id=user_id,
                access_token_hash=hash_token(token),
                scope="openid crm.read",
                issued_at=int(time.time()),
                expires_in=86400,
            )
        )
    engine.dispose()
    return token


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_until_up(base_url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{base_url}/.well-known/openid-configuration", timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError("the CRM server did not start")


def run(quick: bool) -> dict[str, Any]:
    contacts = 50_000 if quick else 1_000_000
    searches = 3_000 if quick else 20_000
    rng = random.Random(1)
    with tempfile.TemporaryDirectory(prefix="crm-bench-") as directory:
        folder = Path(directory)
        database_url = f"sqlite:///{folder / 'crm.sqlite3'}"
        csv_path = folder / "contacts.csv"
        _log(f"writing {contacts:,} contacts to CSV")
        _write_csv(csv_path, contacts, rng)

        settings = CrmSettings(database_url=database_url)
        engine = database.make_engine(database_url)
        database.initialise(engine, settings.organization_name, settings.default_region)
        _log("importing")
        started = time.perf_counter()
        report = import_csv(engine, "contact", csv_path, "US")
        import_seconds = time.perf_counter() - started
        engine.dispose()
        assert report.ok, report.problems[:5]
        assert report.imported == contacts
        rows_per_s = contacts / import_seconds
        _log(f"imported {contacts:,} rows in {import_seconds:.1f} s ({rows_per_s:,.0f} rows/s)")

        token = _mint_token(database_url)
        # The server runs in its own process, as in production: the client's work and garbage
        # collection must not share a GIL with it and show up as server latency.
        port = _free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "callbridge_crm", "serve", "--port", str(port), "--database-url", database_url],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            base_url = f"http://127.0.0.1:{port}"
            _wait_until_up(base_url)
            with httpx.Client(base_url=f"{base_url}/api/v1", headers={"Authorization": f"Bearer {token}"}) as client:
                for _ in range(300):  # warm-up: connection, caches, page cache
                    warm_up = client.get("/search/phone", params={"number": "4155550100"})
                # Measure searches over one reused connection, as a connector makes them.
                keep_alive = warm_up.headers.get("connection", "").lower() != "close"
                if not keep_alive:
                    _log("the server closes the connection after each response: searches include a TCP connect")
                latencies: list[float] = []
                misses = 0
                _log(f"{searches:,} phone searches")
                gc.disable()
                for _ in range(searches):
                    index = rng.randrange(contacts)
                    number = _spell(*_number(index), rng.randrange(5))
                    began = time.perf_counter()
                    response = client.get("/search/phone", params={"number": number})
                    latencies.append((time.perf_counter() - began) * 1000)
                    if response.status_code != 200 or response.json()["totalSize"] != 1:
                        misses += 1
                gc.enable()
        finally:
            server.terminate()
            server.wait(timeout=10)
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99) - 1]
    _log(f"p50 {statistics.median(latencies):.2f} ms, p99 {p99:.2f} ms, misses {misses}")
    return {
        "contacts": contacts,
        "p99_ms": round(p99, 3),
        "p50_ms": round(statistics.median(latencies), 3),
        "searches": searches,
        "search_misses": misses,
        "keep_alive": keep_alive,
        "import_rows_per_s": round(rows_per_s),
    }
