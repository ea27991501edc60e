"""CSV import (all or nothing, bad rows named by line), the seed, and the CLI around them."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from callbridge_crm import db as database
from callbridge_crm.__main__ import app
from callbridge_crm.importer import import_csv
from callbridge_crm.models import Case, Contact
from callbridge_crm.records import case_by_number, records_by_phone
from callbridge_crm.seed import seed_demo

GOOD_AND_BAD = """First Name,Last Name,Phone,E-mail
Grace,Hopper,(415) 555 0100,grace@example.com
Nameless,,4155550101,nameless@example.com
"Multi
line",Lovelace,+44 20 7946 0958,not-an-email
Alan,Turing,ask reception,
"""


def _engine(tmp_path: Path):
    engine = create_engine(f"sqlite:///{tmp_path / 'crm.sqlite3'}")
    database.initialise(engine, "Test", "US")
    return engine


def _count(engine, model) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_a_file_with_bad_rows_imports_nothing_and_names_them(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    csv_file = tmp_path / "contacts.csv"
    csv_file.write_text(GOOD_AND_BAD)
    report = import_csv(engine, "contact", csv_file, "US")
    assert [(p.line, p.reason) for p in report.problems] == [
        (3, "last_name is required"),
        (5, "email 'not-an-email' is not an e-mail address"),
    ]
    assert report.imported == 0
    assert _count(engine, Contact) == 0
    engine.dispose()


def test_skip_invalid_imports_the_good_rows_with_their_phone_index(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    csv_file = tmp_path / "contacts.csv"
    csv_file.write_text(GOOD_AND_BAD)
    report = import_csv(engine, "contact", csv_file, "US", skip_invalid=True)
    assert report.imported == 2
    with Session(engine) as session:
        _e164, found = records_by_phone(session, "+1 415-555-0100", "US")
        assert [record.name for record in found] == ["Grace Hopper"]
        junk = session.scalar(select(Contact).where(Contact.last_name == "Turing"))
        assert junk is not None
        assert junk.phone == "ask reception"
    engine.dispose()


def test_cases_get_numbers_and_must_link_to_existing_contacts(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    contacts = tmp_path / "contacts.csv"
    contacts.write_text("last_name\nHopper\n")
    import_csv(engine, "contact", contacts, "US")
    cases = tmp_path / "cases.csv"
    cases.write_text("subject,contact_id,case_number\nBroken,1,\nAlso broken,1,00770001\nOrphan,999,\n")
    report = import_csv(engine, "case", cases, "US")
    assert [(p.line, p.reason) for p in report.problems] == [
        (4, "contact_id '999' is not the id of an existing contact")
    ]
    assert _count(engine, Case) == 0
    cases.write_text("subject,contact_id,case_number\nBroken,1,\nAlso broken,1,00770001\n")
    assert import_csv(engine, "case", cases, "US").imported == 2
    with Session(engine) as session:
        assert [c.subject for c in case_by_number(session, "00770001")] == ["Also broken"]
        assert [c.subject for c in case_by_number(session, "1001")] == ["Broken"]
    duplicate = import_csv(engine, "case", cases, "US")
    assert duplicate.problems[0].reason == "case number 00770001 already exists"
    engine.dispose()


def test_seed_demo_makes_searchable_records(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.sqlite3'}"
    report = seed_demo(url, contacts=400, accounts=40, leads=20, cases=100, activities=50)
    assert (report.contacts, report.cases, report.activities) == (400, 100, 50)
    engine = create_engine(url)
    with Session(engine) as session:
        contact = session.get(Contact, 1)
        assert contact is not None
        _e164, found = records_by_phone(session, contact.phone or "", "US")
        assert contact in found
    engine.dispose()


def test_cli_import_reports_and_exits_non_zero_on_a_bad_file(tmp_path: Path) -> None:
    csv_file = tmp_path / "contacts.csv"
    csv_file.write_text(GOOD_AND_BAD)
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    runner = CliRunner()
    refused = runner.invoke(app, ["import", "contacts", str(csv_file), "--database-url", url])
    assert refused.exit_code == 1
    assert "Nothing was imported" in refused.output
    accepted = runner.invoke(app, ["import", "contacts", str(csv_file), "--skip-invalid", "--database-url", url])
    assert accepted.exit_code == 0, accepted.output
    assert "Imported 2 contacts" in accepted.output
    created = runner.invoke(
        app,
        [
            "clients",
            "create",
            "--name",
            "Callbridge",
            "--redirect-uri",
            "http://127.0.0.1:8000/cb",
            "--database-url",
            url,
        ],
    )
    assert "client_secret:" in created.output
