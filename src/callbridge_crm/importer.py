"""CSV import of contacts, accounts, leads and cases: all or nothing per file, fast.

Every row is checked first; a file with any bad row imports nothing (unless asked to skip bad
rows) and the report names each bad row by its line number and reason. Good files are written
in one transaction with executemany, phone index included.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select, update

from .models import Account, Case, Contact, Lead, Organization, PhoneIndex
from .phones import index_keys
from .records import PHONE_FIELDS

IMPORTABLE = ("contact", "account", "lead", "case")
_MODELS: dict[str, Any] = {"contact": Contact, "account": Account, "lead": Lead, "case": Case}
# Attribute -> maximum length, per object; the first listed are required.
_COLUMNS: dict[str, dict[str, int]] = {
    "contact": {
        "last_name": 120,
        "first_name": 120,
        "email": 320,
        "phone": 64,
        "mobile_phone": 64,
        "title": 120,
        "city": 120,
        "account_id": 0,
    },
    "account": {"name": 255, "phone": 64, "website": 255, "industry": 120, "city": 120},
    "lead": {
        "last_name": 120,
        "first_name": 120,
        "company": 255,
        "email": 320,
        "phone": 64,
        "mobile_phone": 64,
        "status": 40,
    },
    "case": {
        "subject": 255,
        "case_number": 30,
        "description": 32000,
        "status": 40,
        "priority": 40,
        "origin": 40,
        "contact_id": 0,
        "account_id": 0,
    },
}
_REQUIRED = {"contact": "last_name", "account": "name", "lead": "last_name", "case": "subject"}
_DEFAULTS = {"lead": {"status": "Open"}, "case": {"status": "New", "priority": "Medium"}}
_CHUNK = 5000


@dataclass(frozen=True)
class RowProblem:
    line: int
    reason: str


@dataclass
class ImportReport:
    object_type: str
    rows_read: int = 0
    imported: int = 0
    problems: list[RowProblem] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


class CsvFileError(ValueError):
    """The file as a whole cannot be read (no header, not text, no usable column)."""


def _header_key(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


def _column_map(object_type: str, header: list[str]) -> tuple[dict[int, str], list[str]]:
    """Header position -> attribute, accepting "first_name", "firstName" or "First Name"."""
    by_key = {_header_key(attribute): attribute for attribute in _COLUMNS[object_type]}
    mapping: dict[int, str] = {}
    ignored: list[str] = []
    for position, name in enumerate(header):
        attribute = by_key.get(_header_key(name))
        if attribute is None or attribute in mapping.values():
            ignored.append(name)
        else:
            mapping[position] = attribute
    return mapping, ignored


def _reader(path: Path) -> Iterator[tuple[int, list[str]]]:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise CsvFileError(f"{path} is not UTF-8 text (byte {error.start})") from error
    reader = csv.reader(io.StringIO(text, newline=""))
    for row in reader:
        yield reader.line_num, row


def validate_rows(
    object_type: str,
    rows: Iterable[tuple[int, list[str]]],
    known_ids: dict[str, set[int]],
    taken_case_numbers: set[str],
    report: ImportReport,
    progress: Callable[[int], None] | None = None,
) -> list[dict[str, Any]]:
    """Check every row; returns the good rows as attribute dicts and records the bad ones in the report."""
    iterator = iter(rows)
    try:
        _line, header = next(iterator)
    except StopIteration:
        raise CsvFileError("the file is empty: it needs a header line") from None
    mapping, report.ignored_columns = _column_map(object_type, header)
    required = _REQUIRED[object_type]
    if required not in mapping.values():
        raise CsvFileError(f"no '{required}' column: a {object_type} file needs one (header: {', '.join(header)})")
    limits = _COLUMNS[object_type]
    good: list[dict[str, Any]] = []
    seen_case_numbers: set[str] = set()
    for line, row in iterator:
        if not any(cell.strip() for cell in row):
            continue  # blank line
        report.rows_read += 1
        if progress and report.rows_read % 1000 == 0:
            progress(1000)
        if len(row) > len(header):
            report.problems.append(RowProblem(line, f"{len(row)} fields but the header has {len(header)}"))
            continue
        values: dict[str, Any] = {}
        reasons: list[str] = []
        for position, attribute in mapping.items():
            cell = row[position].strip() if position < len(row) else ""
            if not cell:
                continue
            limit = limits[attribute]
            if attribute.endswith("_id"):
                linked = attribute.removesuffix("_id")
                if not cell.isdigit() or int(cell) not in known_ids[linked]:
                    reasons.append(f"{attribute} {cell!r} is not the id of an existing {linked}")
                    continue
                values[attribute] = int(cell)
            elif len(cell) > limit:
                reasons.append(f"{attribute} is longer than {limit} characters")
            else:
                values[attribute] = cell
        if not values.get(required):
            reasons.append(f"{required} is required")
        email = values.get("email")
        if email and ("@" not in email or " " in email):
            reasons.append(f"email {email!r} is not an e-mail address")
        case_number = values.get("case_number")
        if case_number:
            if case_number in taken_case_numbers or case_number in seen_case_numbers:
                reasons.append(f"case number {case_number} already exists")
            seen_case_numbers.add(case_number)
        if reasons:
            report.problems.append(RowProblem(line, "; ".join(reasons)))
        else:
            good.append(values)
    if progress:
        progress(report.rows_read % 1000)
    return good


def bulk_insert(
    connection: Connection,
    object_type: str,
    rows: list[dict[str, Any]],
    region: str,
    progress: Callable[[int], None] | None = None,
) -> list[int]:
    """Insert validated rows (and their phone index rows) on `connection`; returns the new ids.

    Ids are handed out here, after the largest existing one, so that records and phone index rows
    go in with plain executemany (no per-row RETURNING). The caller holds the write transaction.
    """
    model = _MODELS[object_type]
    table = model.__table__
    first_id = (connection.scalar(select(func.max(table.c.id))) or 0) + 1
    now = dt.datetime.now(dt.UTC)
    defaults = _DEFAULTS.get(object_type, {})
    columns = [attribute for attribute in _COLUMNS[object_type]]
    if object_type == "case":
        missing = sum(1 for row in rows if not row.get("case_number"))
        numbers = iter(_reserve_case_numbers(connection, missing))
    phone_fields = PHONE_FIELDS.get(object_type, ())
    ids: list[int] = []
    for start in range(0, len(rows), _CHUNK):
        chunk = rows[start : start + _CHUNK]
        records: list[dict[str, Any]] = []
        phones: list[dict[str, Any]] = []
        for offset, values in enumerate(chunk):
            record_id = first_id + start + offset
            record = {column: values.get(column, defaults.get(column)) for column in columns}
            record["id"] = record_id
            record["created_at"] = now
            if object_type == "case" and not record["case_number"]:
                record["case_number"] = next(numbers)
            records.append(record)
            for attribute in phone_fields:
                for key in index_keys(values.get(attribute), region):
                    phones.append({"e164": key, "object_type": object_type, "record_id": record_id, "field": attribute})
            ids.append(record_id)
        connection.execute(insert(table), records)
        if phones:
            connection.execute(insert(PhoneIndex), phones)
        if progress:
            progress(len(chunk))
    return ids


def _reserve_case_numbers(connection: Connection, count: int) -> list[str]:
    row = connection.execute(select(Organization.id, Organization.next_case_number).limit(1)).one()
    first: int = row.next_case_number
    connection.execute(update(Organization).where(Organization.id == row.id).values(next_case_number=first + count))
    return [f"{number:08d}" for number in range(first, first + count)]


def import_csv(
    engine: Engine,
    object_type: str,
    path: Path,
    region: str,
    *,
    skip_invalid: bool = False,
    on_checked: Callable[[int], None] | None = None,
    on_written: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import one CSV file of `object_type` records. Nothing is written when any row is bad,
    unless `skip_invalid`, which writes the good rows and still reports the bad ones."""
    if object_type not in IMPORTABLE:
        raise ValueError(f"cannot import {object_type!r}; one of {', '.join(IMPORTABLE)}")
    report = ImportReport(object_type)
    with engine.begin() as connection:
        known_ids: dict[str, set[int]] = {"account": set(), "contact": set()}
        linked = {attribute.removesuffix("_id") for attribute in _COLUMNS[object_type] if attribute.endswith("_id")}
        for name in linked:
            known_ids[name] = set(connection.scalars(select(_MODELS[name].__table__.c.id)))
        taken: set[str] = set()
        if object_type == "case":
            taken = set(connection.scalars(select(Case.__table__.c.case_number)))
        good = validate_rows(object_type, _reader(path), known_ids, taken, report, on_checked)
        if report.problems and not skip_invalid:
            return report
        bulk_insert(connection, object_type, good, region, on_written)
        report.imported = len(good)
    return report


def count_data_lines(path: Path) -> int:
    """A cheap estimate of the rows in a file, for the progress bar."""
    with path.open("rb") as handle:
        return max(sum(1 for _ in handle) - 1, 0)
