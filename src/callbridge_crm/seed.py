"""Realistic demo data: accounts, contacts, leads, cases and a little activity history.

    from callbridge_crm.seed import seed_demo
    seed_demo("sqlite:///crm.sqlite3", contacts=3000, accounts=300, cases=1500)

Numbers use the 555-0100..0199 range reserved for fiction, in the many formats people type.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert

from . import db as database
from .config import CrmSettings
from .importer import bulk_insert
from .models import Activity

FIRST_NAMES = [
    "Olivia",
    "Liam",
    "Emma",
    "Noah",
    "Ava",
    "Elijah",
    "Sophia",
    "James",
    "Isabella",
    "William",
    "Mia",
    "Benjamin",
    "Charlotte",
    "Lucas",
    "Amelia",
    "Henry",
    "Harper",
    "Theodore",
    "Evelyn",
    "Mateo",
    "Abigail",
    "Jack",
    "Emily",
    "Levi",
    "Ella",
    "Sebastian",
    "Elizabeth",
    "Aiden",
    "Camila",
    "Owen",
    "Luna",
    "Samuel",
    "Sofia",
    "Hiroshi",
    "Aisha",
    "Mohammed",
    "Priya",
    "Wei",
    "Ana",
    "Diego",
    "Fatima",
    "Yusuf",
    "Ingrid",
    "Kwame",
    "Lucia",
    "Ravi",
    "Sven",
    "Zainab",
    "Tomasz",
]
LAST_NAMES = [
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Torres",
    "Nguyen",
    "Hill",
    "Flores",
    "Green",
    "Adams",
    "Nelson",
    "Baker",
    "Hall",
    "Rivera",
    "Campbell",
    "Mitchell",
    "Carter",
    "Roberts",
    "Kowalski",
    "Okafor",
    "Tanaka",
    "Schmidt",
    "Rossi",
    "Dubois",
    "Haddad",
    "Johansson",
    "Patel",
    "Chen",
]
COMPANY_WORDS = [
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Stark",
    "Wayne",
    "Wonka",
    "Tyrell",
    "Cyberdyne",
    "Soylent",
    "Hooli",
    "Vandelay",
    "Gringotts",
    "Oceanic",
    "Pied",
    "Piper",
    "Aperture",
    "Black",
    "Mesa",
    "Monarch",
    "Nakatomi",
    "Dunder",
    "Mifflin",
    "Prestige",
    "Bluth",
    "Massive",
    "Dynamic",
    "Virtucon",
]
COMPANY_SUFFIXES = ("Inc.", "LLC", "Corp.", "Group", "Holdings", "Logistics", "Health", "Energy", "Foods", "Labs")
INDUSTRIES = ("Retail", "Healthcare", "Finance", "Manufacturing", "Technology", "Energy", "Education", "Hospitality")
CITIES = (
    "San Francisco",
    "New York",
    "Chicago",
    "Austin",
    "Seattle",
    "Boston",
    "Denver",
    "Atlanta",
    "Toronto",
    "Miami",
)
AREA_CODES = [
    "212",
    "213",
    "312",
    "303",
    "305",
    "404",
    "415",
    "416",
    "469",
    "503",
    "512",
    "602",
    "617",
    "646",
    "650",
    "702",
    "713",
    "718",
    "720",
    "773",
    "786",
    "801",
    "817",
    "818",
    "832",
    "858",
    "872",
    "917",
    "919",
    "925",
    "929",
    "949",
    "206",
    "210",
    "214",
    "224",
    "248",
    "267",
    "281",
    "310",
    "323",
    "347",
    "408",
    "410",
    "425",
    "480",
    "510",
    "561",
    "571",
    "609",
    "612",
    "619",
]
CASE_SUBJECTS = (
    "Cannot sign in to the customer portal",
    "Invoice shows the wrong amount",
    "Delivery arrived damaged",
    "Request to change billing address",
    "Router keeps rebooting",
    "Refund not received",
    "Upgrade to the premium plan",
    "Password reset e-mail never arrives",
    "Order stuck in processing",
    "Question about warranty coverage",
    "Mobile app crashes on start",
    "Cancel subscription",
    "Wrong item shipped",
    "Service outage in my area",
    "Add a second user to the account",
)
DISPOSITIONS = ("Resolved", "Callback scheduled", "Escalated", "Left voicemail", "No answer", "Sale")


@dataclass(frozen=True)
class SeedReport:
    accounts: int
    contacts: int
    leads: int
    cases: int
    activities: int


def _phone(rng: random.Random, index: int) -> str:
    area = AREA_CODES[index % len(AREA_CODES)]
    line = 100 + (index // len(AREA_CODES)) % 100
    # Beyond the 5,000 fictional numbers, use ordinary exchanges so every contact stays unique.
    exchange = "555" if index < len(AREA_CODES) * 100 else str(200 + (index // 5000) % 800)
    shape = rng.randrange(5)
    if shape == 0:
        return f"({area}) {exchange}-0{line}"
    if shape == 1:
        return f"+1 {area}-{exchange}-0{line}"
    if shape == 2:
        return f"{area}{exchange}0{line}"
    if shape == 3:
        return f"{area}.{exchange}.0{line}"
    return f"+1 ({area}) {exchange} 0{line}"


def seed_demo(
    database_url: str,
    *,
    contacts: int = 3000,
    accounts: int = 300,
    leads: int = 200,
    cases: int = 1500,
    activities: int = 2000,
    random_seed: int = 7,
    default_region: str = "US",
    progress: Callable[[str, int], None] | None = None,
) -> SeedReport:
    """Fill the CRM at `database_url` with demo records, in one transaction; returns what was made."""
    rng = random.Random(random_seed)
    settings = CrmSettings(database_url=database_url, default_region=default_region)
    engine = database.make_engine(database_url)
    try:
        database.initialise(engine, settings.organization_name, default_region)
        with engine.begin() as connection:
            account_rows: list[dict[str, Any]] = []
            for index in range(accounts):
                name = f"{rng.choice(COMPANY_WORDS)} {rng.choice(COMPANY_SUFFIXES)}"
                if index >= len(COMPANY_WORDS):
                    name = f"{name} {CITIES[index % len(CITIES)]}"
                account_rows.append(
                    {
                        "name": name,
                        "phone": _phone(rng, 900_000 + index),
                        "website": f"https://www.{name.split()[0].lower()}{index}.example",
                        "industry": rng.choice(INDUSTRIES),
                        "city": rng.choice(CITIES),
                    }
                )
            account_ids = bulk_insert(connection, "account", account_rows, default_region)
            _report(progress, "accounts", len(account_ids))

            contact_rows: list[dict[str, Any]] = []
            for index in range(contacts):
                first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
                contact_rows.append(
                    {
                        "first_name": first,
                        "last_name": last,
                        "email": f"{first.lower()}.{last.lower()}{index}@example.com",
                        "phone": _phone(rng, index),
                        "mobile_phone": _phone(rng, 500_000 + index) if rng.random() < 0.3 else None,
                        "title": rng.choice(("Owner", "Buyer", "IT manager", "Office manager", None, None)),
                        "city": rng.choice(CITIES),
                        "account_id": rng.choice(account_ids) if account_ids and rng.random() < 0.8 else None,
                    }
                )
            contact_ids = bulk_insert(connection, "contact", contact_rows, default_region)
            _report(progress, "contacts", len(contact_ids))

            lead_rows = [
                {
                    "first_name": rng.choice(FIRST_NAMES),
                    "last_name": rng.choice(LAST_NAMES),
                    "company": f"{rng.choice(COMPANY_WORDS)} {rng.choice(COMPANY_SUFFIXES)}",
                    "email": f"lead{index}@example.org",
                    "phone": _phone(rng, 700_000 + index),
                    "status": rng.choice(("Open", "Working", "Qualified")),
                }
                for index in range(leads)
            ]
            lead_ids = bulk_insert(connection, "lead", lead_rows, default_region)
            _report(progress, "leads", len(lead_ids))

            contact_accounts = {cid: row["account_id"] for cid, row in zip(contact_ids, contact_rows, strict=True)}
            case_rows: list[dict[str, Any]] = []
            for _ in range(cases if contact_ids else 0):
                contact_id = rng.choice(contact_ids)
                case_rows.append(
                    {
                        "subject": rng.choice(CASE_SUBJECTS),
                        "description": "Reported by phone. Customer expects an update within two business days.",
                        "status": rng.choice(("New", "Working", "Escalated", "Closed")),
                        "priority": rng.choice(("Low", "Medium", "Medium", "High")),
                        "origin": rng.choice(("Phone", "Chat", "Email", "Web")),
                        "contact_id": contact_id,
                        "account_id": contact_accounts[contact_id],
                    }
                )
            case_ids = bulk_insert(connection, "case", case_rows, default_region)
            _report(progress, "cases", len(case_ids))

            now = dt.datetime.now(dt.UTC)
            activity_rows = []
            for index in range(activities if contact_ids else 0):
                kind = rng.choice(("call", "call", "call", "chat", "voicemail"))
                contact_id = rng.choice(contact_ids)
                activity_rows.append(
                    {
                        "subject": {"call": "Call", "chat": "Chat", "voicemail": "Voicemail"}[kind]
                        + f" with {contact_rows[contact_id - contact_ids[0]]['first_name']}",
                        "type": kind,
                        "direction": "outbound" if kind == "call" and rng.random() < 0.3 else "inbound",
                        "start": now - dt.timedelta(minutes=rng.randrange(60, 60 * 24 * 90)),
                        "duration_seconds": rng.randrange(20, 1800),
                        "disposition": rng.choice(DISPOSITIONS),
                        "comments": "Demo history entry.",
                        "contact_id": contact_id,
                        "case_id": rng.choice(case_ids) if case_ids and rng.random() < 0.3 else None,
                        "external_id": f"demo-{index}",
                        "created_at": now,
                        "updated_at": now,
                    }
                )
            if activity_rows:
                connection.execute(insert(Activity), activity_rows)
            _report(progress, "activities", len(activity_rows))
    finally:
        engine.dispose()
    return SeedReport(len(account_ids), len(contact_ids), len(lead_ids), len(case_ids), len(activity_rows))


def _report(progress: Callable[[str, int], None] | None, what: str, count: int) -> None:
    if progress is not None:
        progress(what, count)
