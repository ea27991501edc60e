"""Record operations shared by the REST API, the pages, the CSV import and the seed.

Every write of a phone field goes through here so the phone index never drifts from the records.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import ColumnElement, Connection, and_, bindparam, delete, func, or_, select
from sqlalchemy.orm import Session

from .db import MAX_RECORD_ID
from .models import Account, Activity, Attachment, Case, Contact, Lead, PhoneIndex, utcnow
from .phones import index_keys, is_national_key, national_keys, to_e164

ObjectType = Literal["contact", "account", "lead", "case", "activity"]
OBJECT_TYPES: tuple[str, ...] = ("contact", "account", "lead", "case", "activity")
RecordModel = type[Contact] | type[Account] | type[Lead] | type[Case] | type[Activity]
Record = Contact | Account | Lead | Case | Activity

MODELS: dict[str, RecordModel] = {
    "contact": Contact,
    "account": Account,
    "lead": Lead,
    "case": Case,
    "activity": Activity,
}
# Which attributes of each object hold phone numbers (indexed in phone_index).
PHONE_FIELDS: dict[str, tuple[str, ...]] = {
    "contact": ("phone", "mobile_phone"),
    "account": ("phone",),
    "lead": ("phone", "mobile_phone"),
}
# The fields a search rule may name, per object (API name -> attribute). Anything else is refused.
RULE_FIELDS: dict[str, dict[str, str]] = {
    "contact": {
        "id": "id",
        "firstName": "first_name",
        "lastName": "last_name",
        "email": "email",
        "phone": "phone",
        "mobilePhone": "mobile_phone",
        "accountId": "account_id",
    },
    "account": {"id": "id", "name": "name", "phone": "phone", "website": "website"},
    "lead": {
        "id": "id",
        "firstName": "first_name",
        "lastName": "last_name",
        "company": "company",
        "email": "email",
        "phone": "phone",
        "mobilePhone": "mobile_phone",
    },
    "case": {
        "id": "id",
        "caseNumber": "case_number",
        "subject": "subject",
        "status": "status",
        "contactId": "contact_id",
        "accountId": "account_id",
    },
}
ACTIVITY_TYPES = ("call", "chat", "voicemail")
ACTIVITY_DIRECTIONS = ("inbound", "outbound")
SEARCH_LIMIT = 50
WRONG_TYPE = "INVALID_TYPE_ON_FIELD_IN_RECORD"


@dataclass
class FieldError:
    """One problem with the data sent, in the shape a Salesforce connector already maps."""

    error_code: str
    message: str
    fields: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"errorCode": self.error_code, "message": self.message, "fields": self.fields}


class CrmError(Exception):
    def __init__(self, status: int, errors: list[FieldError]) -> None:
        super().__init__("; ".join(error.message for error in errors))
        self.status = status
        self.errors = errors

    @classmethod
    def single(cls, status: int, error_code: str, message: str, fields: Sequence[str] = ()) -> CrmError:
        return cls(status, [FieldError(error_code, message, list(fields))])


# --- phone index --------------------------------------------------------------------------------


def phone_index_rows(object_type: str, record_id: int, record: Any, region: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for attribute in PHONE_FIELDS.get(object_type, ()):
        for key in index_keys(getattr(record, attribute, None), region):
            rows.append({"e164": key, "object_type": object_type, "record_id": record_id, "field": attribute})
    return rows


def reindex_phones(session: Session, object_type: str, record: Any, region: str) -> None:
    """Rewrite the phone index rows of one record after it was created or changed."""
    session.flush()
    session.execute(delete(PhoneIndex).where(PhoneIndex.object_type == object_type, PhoneIndex.record_id == record.id))
    for row in phone_index_rows(object_type, record.id, record, region):
        session.add(PhoneIndex(**row))


# Built once: a phone search is the hot path of every screen pop.
_PHONE_LOOKUP = (
    select(PhoneIndex.object_type, PhoneIndex.record_id)
    .where(PhoneIndex.e164 == bindparam("e164"))
    .order_by(PhoneIndex.id)
    .limit(SEARCH_LIMIT * 2)
)


def records_by_phone(session: Session, raw_number: str, region: str) -> tuple[str | None, list[Record]]:
    """The contacts, accounts and leads with a phone number equal (in E.164) to `raw_number`."""
    e164 = to_e164(raw_number, region)
    if e164 is None:
        return None, []
    hits = session.execute(_PHONE_LOOKUP, {"e164": e164}).all()
    found: list[Record] = []
    seen: set[tuple[str, int]] = set()
    for object_type, record_id in hits:
        if (object_type, record_id) in seen:
            continue
        seen.add((object_type, record_id))
        record = session.get(MODELS[object_type], record_id)
        if isinstance(record, Contact | Account | Lead | Case | Activity):
            found.append(record)
    return e164, found[:SEARCH_LIMIT]


_phone_table = PhoneIndex.__table__
_contact_table = Contact.__table__
_account_table = Account.__table__
_lead_table = Lead.__table__
# The API's phone search in one plain SQL statement: the index hits in index order, each joined to
# its record's columns (no ORM objects are built on this path).
_PHONE_COLUMNS = (
    _phone_table.c.object_type,
    _phone_table.c.record_id,
    _contact_table.c.id.label("c_id"),
    _contact_table.c.first_name.label("c_first_name"),
    _contact_table.c.last_name.label("c_last_name"),
    _contact_table.c.email.label("c_email"),
    _contact_table.c.phone.label("c_phone"),
    _contact_table.c.mobile_phone.label("c_mobile_phone"),
    _contact_table.c.title.label("c_title"),
    _contact_table.c.city.label("c_city"),
    _contact_table.c.account_id.label("c_account_id"),
    _contact_table.c.created_at.label("c_created_at"),
    _account_table.c.id.label("a_id"),
    _account_table.c.name.label("a_name"),
    _account_table.c.phone.label("a_phone"),
    _account_table.c.website.label("a_website"),
    _account_table.c.industry.label("a_industry"),
    _account_table.c.city.label("a_city"),
    _account_table.c.created_at.label("a_created_at"),
    _lead_table.c.id.label("l_id"),
    _lead_table.c.first_name.label("l_first_name"),
    _lead_table.c.last_name.label("l_last_name"),
    _lead_table.c.company.label("l_company"),
    _lead_table.c.email.label("l_email"),
    _lead_table.c.phone.label("l_phone"),
    _lead_table.c.mobile_phone.label("l_mobile_phone"),
    _lead_table.c.status.label("l_status"),
    _lead_table.c.created_at.label("l_created_at"),
)
_PHONE_JOIN = (
    _phone_table.outerjoin(
        _contact_table,
        and_(_phone_table.c.object_type == "contact", _contact_table.c.id == _phone_table.c.record_id),
    )
    .outerjoin(
        _account_table,
        and_(_phone_table.c.object_type == "account", _account_table.c.id == _phone_table.c.record_id),
    )
    .outerjoin(
        _lead_table,
        and_(_phone_table.c.object_type == "lead", _lead_table.c.id == _phone_table.c.record_id),
    )
)
_PHONE_SEARCH = (
    select(*_PHONE_COLUMNS)
    .select_from(_PHONE_JOIN)
    .where(_phone_table.c.e164 == bindparam("e164"))
    .order_by(_phone_table.c.id)
    .limit(SEARCH_LIMIT * 2)
)
# The same, for a search that reads numbers written without a country code in a region it names: the
# E.164 key and the digit keys, each digit hit checked by reading the stored number in that region.
_PHONE_SEARCH_IN_REGION = (
    select(*_PHONE_COLUMNS, _phone_table.c.e164.label("key"), _phone_table.c.field)
    .select_from(_PHONE_JOIN)
    .where(_phone_table.c.e164.in_(bindparam("keys", expanding=True)))
    .order_by(_phone_table.c.id)
    .limit(SEARCH_LIMIT * 4)
)


def _person_name(first_name: str | None, last_name: str | None) -> str:
    # The same rule as Contact.name and Lead.name.
    return " ".join(part for part in (first_name, last_name) if part)


def _phone_hit_json(row: Any, base_url: str) -> dict[str, Any] | None:
    """record_json's shape for one row of _PHONE_SEARCH, or None when the indexed record is gone."""
    object_type = row.object_type
    if object_type == "contact" and row.c_id is not None:
        return {
            "objectType": "contact",
            "id": row.c_id,
            "name": _person_name(row.c_first_name, row.c_last_name),
            "url": base_url + record_path("contact", row.c_id),
            "firstName": row.c_first_name,
            "lastName": row.c_last_name,
            "email": row.c_email,
            "phone": row.c_phone,
            "mobilePhone": row.c_mobile_phone,
            "title": row.c_title,
            "city": row.c_city,
            "accountId": row.c_account_id,
            "createdAt": _iso(row.c_created_at),
        }
    if object_type == "account" and row.a_id is not None:
        return {
            "objectType": "account",
            "id": row.a_id,
            "name": row.a_name,
            "url": base_url + record_path("account", row.a_id),
            "phone": row.a_phone,
            "website": row.a_website,
            "industry": row.a_industry,
            "city": row.a_city,
            "createdAt": _iso(row.a_created_at),
        }
    if object_type == "lead" and row.l_id is not None:
        return {
            "objectType": "lead",
            "id": row.l_id,
            "name": _person_name(row.l_first_name, row.l_last_name),
            "url": base_url + record_path("lead", row.l_id),
            "firstName": row.l_first_name,
            "lastName": row.l_last_name,
            "company": row.l_company,
            "email": row.l_email,
            "phone": row.l_phone,
            "mobilePhone": row.l_mobile_phone,
            "status": row.l_status,
            "createdAt": _iso(row.l_created_at),
        }
    return None


def phone_search_json(
    connection: Connection, raw_number: str, region: str, base_url: str, search_region: str | None = None
) -> tuple[str | None, list[dict[str, Any]]]:
    """What records_by_phone finds, already in the API's record shape (record_json), read with plain SQL.

    `search_region`: the caller's region for numbers without a country code, in the query and in the
    records (a stored number is read in the organisation's `region` too: a hit either way counts)."""
    e164 = to_e164(raw_number, search_region or region)
    if e164 is None:
        return None, []
    if search_region and search_region != region:
        rows = connection.execute(_PHONE_SEARCH_IN_REGION, {"keys": [e164, *national_keys(e164)]}).all()
        rows = [r for r in rows if not is_national_key(r.key) or _stored_number_is(r, e164, search_region)]
    else:
        rows = connection.execute(_PHONE_SEARCH, {"e164": e164}).all()
    found: list[dict[str, Any]] = []
    seen: set[tuple[str, int]] = set()
    for row in rows:
        key = (row.object_type, row.record_id)
        if key in seen:
            continue
        seen.add(key)
        data = _phone_hit_json(row, base_url)
        if data is not None:
            found.append(data)
    return e164, found[:SEARCH_LIMIT]


_PREFIX = {"contact": "c_", "account": "a_", "lead": "l_"}


def _stored_number_is(row: Any, e164: str, region: str) -> bool:
    """Whether the number a digit-key hit points at, read in `region`, is `e164`."""
    prefix = _PREFIX.get(row.object_type)
    raw = getattr(row, f"{prefix}{row.field}", None) if prefix else None
    return isinstance(raw, str) and to_e164(raw, region) == e164


def case_by_number(session: Session, case_number: str) -> list[Case]:
    wanted = case_number.strip()
    if not wanted:
        return []
    cases = list(session.scalars(select(Case).where(Case.case_number == wanted)))
    if not cases and wanted.isdigit():
        # People type "1042" for case "00001042".
        cases = list(session.scalars(select(Case).where(Case.case_number == wanted.zfill(8))))
    return cases


def records_by_rules(
    session: Session, object_type: str, rules: list[tuple[str, str]], match: str, region: str
) -> list[Record]:
    """Records of `object_type` whose fields equal the given values (case-insensitive; phones in E.164)."""
    allowed = RULE_FIELDS.get(object_type)
    if allowed is None:
        raise CrmError.single(400, "INVALID_TYPE", f"sObject type '{object_type}' is not supported for search")
    if not rules:
        raise CrmError.single(400, "MISSING_ARGUMENT", "At least one rule (field and value) is required")
    if match not in ("all", "any"):
        raise CrmError.single(400, "INVALID_FIELD", "match must be 'all' or 'any'", ["match"])
    model = MODELS[object_type]
    conditions: list[ColumnElement[bool]] = []
    for api_field, value in rules:
        attribute = allowed.get(api_field)
        if attribute is None:
            raise CrmError.single(
                400,
                "INVALID_FIELD",
                f"No such searchable field '{api_field}' on {object_type}; allowed: {', '.join(sorted(allowed))}",
                [api_field],
            )
        column = getattr(model, attribute)
        if attribute in PHONE_FIELDS.get(object_type, ()):
            e164 = to_e164(value, region)
            ids = select(PhoneIndex.record_id).where(
                PhoneIndex.e164 == (e164 or "none"),
                PhoneIndex.object_type == object_type,
                PhoneIndex.field == attribute,
            )
            conditions.append(model.id.in_(ids))
        elif attribute == "id" or attribute.endswith("_id"):
            conditions.append(column == (int(value) if value.strip().isdigit() else -1))
        elif attribute == "case_number":
            cases = case_by_number(session, value)
            conditions.append(model.id.in_([case.id for case in cases] or [-1]))
        else:
            conditions.append(func.lower(column) == value.strip().lower())
    where = and_(*conditions) if match == "all" else or_(*conditions)
    return list(session.scalars(select(model).where(where).order_by(model.id).limit(SEARCH_LIMIT)))


def text_search(session: Session, query: str, region: str) -> list[Record]:
    """What the search box finds: phone numbers, case numbers, names, e-mails, companies."""
    text = query.strip()
    if not text:
        return []
    results: list[Record] = []
    _e164, by_phone = records_by_phone(session, text, region)
    results.extend(by_phone)
    results.extend(case_by_number(session, text))
    like = f"%{text.lower()}%"
    prefix = f"{text.lower()}%"
    results.extend(
        session.scalars(
            select(Contact)
            .where(
                (func.lower(Contact.last_name).like(prefix))
                | (func.lower(Contact.first_name).like(prefix))
                | (func.lower(Contact.email) == text.lower())
                | (func.lower(Contact.first_name + " " + Contact.last_name) == text.lower())
            )
            .limit(SEARCH_LIMIT)
        )
    )
    results.extend(session.scalars(select(Account).where(func.lower(Account.name).like(like)).limit(SEARCH_LIMIT)))
    results.extend(
        session.scalars(
            select(Lead)
            .where(
                (func.lower(Lead.last_name).like(prefix))
                | (func.lower(Lead.company).like(like))
                | (func.lower(Lead.email) == text.lower())
            )
            .limit(SEARCH_LIMIT)
        )
    )
    results.extend(session.scalars(select(Case).where(func.lower(Case.subject).like(like)).limit(SEARCH_LIMIT)))
    unique: dict[tuple[str, int], Record] = {}
    for record in results:
        unique.setdefault((object_type_of(record), record.id), record)
    return list(unique.values())[: SEARCH_LIMIT * 2]


# --- record shapes ------------------------------------------------------------------------------


def object_type_of(record: Record) -> str:
    for name, model in MODELS.items():
        if isinstance(record, model):
            return name
    raise TypeError(f"not a CRM record: {record!r}")


def record_path(object_type: str, record_id: int) -> str:
    return f"/records/{object_type}/{record_id}"


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def record_json(record: Record, base_url: str) -> dict[str, Any]:
    """The API shape of a record: camelCase fields plus objectType, name and url."""
    object_type = object_type_of(record)
    data: dict[str, Any] = {
        "objectType": object_type,
        "id": record.id,
        "name": record.name,
        "url": base_url + record_path(object_type, record.id),
    }
    if isinstance(record, Contact):
        data.update(
            firstName=record.first_name,
            lastName=record.last_name,
            email=record.email,
            phone=record.phone,
            mobilePhone=record.mobile_phone,
            title=record.title,
            city=record.city,
            accountId=record.account_id,
        )
    elif isinstance(record, Account):
        data.update(phone=record.phone, website=record.website, industry=record.industry, city=record.city)
    elif isinstance(record, Lead):
        data.update(
            firstName=record.first_name,
            lastName=record.last_name,
            company=record.company,
            email=record.email,
            phone=record.phone,
            mobilePhone=record.mobile_phone,
            status=record.status,
        )
    elif isinstance(record, Case):
        data.update(
            caseNumber=record.case_number,
            subject=record.subject,
            description=record.description,
            status=record.status,
            priority=record.priority,
            origin=record.origin,
            contactId=record.contact_id,
            accountId=record.account_id,
        )
    elif isinstance(record, Activity):
        data.update(
            externalId=record.external_id,
            subject=record.subject,
            type=record.type,
            direction=record.direction,
            start=_iso(record.start),
            durationSeconds=record.duration_seconds,
            disposition=record.disposition,
            comments=record.comments,
            contactId=record.contact_id,
            accountId=record.account_id,
            caseId=record.case_id,
            leadId=record.lead_id,
            ownerId=record.owner_id,
            updatedAt=_iso(record.updated_at),
        )
    data["createdAt"] = _iso(record.created_at)
    return data


# --- writes -------------------------------------------------------------------------------------


def next_case_numbers(session: Session, count: int) -> list[str]:
    """Reserve `count` consecutive case numbers ("00001001", ...)."""
    from .db import organization

    org = organization(session)
    first = org.next_case_number
    org.next_case_number = first + count
    session.flush()
    return [f"{number:08d}" for number in range(first, first + count)]


def create_record(session: Session, object_type: str, values: dict[str, Any], region: str) -> Record:
    """Create a contact, account, lead or case from attribute values already validated by the caller."""
    model = MODELS[object_type]
    if object_type == "case" and not values.get("case_number"):
        values = {**values, "case_number": next_case_numbers(session, 1)[0]}
    record = model(**values)
    session.add(record)
    session.flush()
    if object_type in PHONE_FIELDS:
        reindex_phones(session, object_type, record, region)
    return record


ACTIVITY_FIELDS = {
    "subject": "subject",
    "type": "type",
    "direction": "direction",
    "start": "start",
    "durationSeconds": "duration_seconds",
    "disposition": "disposition",
    "comments": "comments",
    "contactId": "contact_id",
    "accountId": "account_id",
    "caseId": "case_id",
    "leadId": "lead_id",
    "externalId": "external_id",
}
MAX_DURATION_SECONDS = 2**31 - 1  # about 68 years: the column is a 32-bit integer in most databases
_LINKS = {"contactId": Contact, "accountId": Account, "caseId": Case, "leadId": Lead}


def validate_activity(session: Session, body: Any, comments_max_bytes: int, *, partial: bool = False) -> dict[str, Any]:
    """Turn an API body into Activity attributes, or raise CrmError listing every problem."""
    if not isinstance(body, dict):
        raise CrmError.single(400, "JSON_PARSER_ERROR", "The request body must be a JSON object")
    errors: list[FieldError] = []
    values: dict[str, Any] = {}
    for key in body:
        if key not in ACTIVITY_FIELDS:
            errors.append(FieldError("INVALID_FIELD", f"No such column '{key}' on entity 'Activity'", [key]))
    for key in ("subject", "type", "direction"):
        if not partial and not body.get(key):
            errors.append(FieldError("REQUIRED_FIELD_MISSING", f"Required fields are missing: [{key}]", [key]))
    for key in ("subject", "disposition", "externalId"):
        value = body.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            errors.append(FieldError(WRONG_TYPE, f"{key}: value must be a string", [key]))
        elif len(value) > 255:
            errors.append(
                FieldError(
                    "STRING_TOO_LONG",
                    f"{key}: data value too large: {value[:40]}... (max length=255)",
                    [key],
                )
            )
    for key, allowed in (("type", ACTIVITY_TYPES), ("direction", ACTIVITY_DIRECTIONS)):
        value = body.get(key)
        if value is not None and value not in allowed:
            errors.append(
                FieldError(
                    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                    f"{key}: bad value for restricted picklist field: {value} (allowed: {', '.join(allowed)})",
                    [key],
                )
            )
    comments = body.get("comments")
    if comments is not None:
        if not isinstance(comments, str):
            errors.append(FieldError(WRONG_TYPE, "comments: value must be a string", ["comments"]))
        else:
            size = len(comments.encode("utf-8"))
            if size > comments_max_bytes:
                errors.append(
                    FieldError(
                        "STRING_TOO_LONG",
                        f"Comments: data value too large: {size} bytes (max length={comments_max_bytes} bytes)",
                        ["comments"],
                    )
                )
    start = body.get("start")
    if start is not None:
        try:
            parsed = dt.datetime.fromisoformat(str(start).replace("Z", "+00:00"))
            if parsed.tzinfo is None:
                raise ValueError("no time zone")
            values["start"] = parsed.astimezone(dt.UTC)
        except ValueError:
            errors.append(
                FieldError(
                    "INVALID_TYPE_ON_FIELD_IN_RECORD",
                    f"start: value not of required type: {start} (an ISO 8601 date-time with offset)",
                    ["start"],
                )
            )
    duration = body.get("durationSeconds")
    if duration is not None and (
        not isinstance(duration, int) or isinstance(duration, bool) or not 0 <= duration <= MAX_DURATION_SECONDS
    ):
        errors.append(
            FieldError(
                "INVALID_TYPE_ON_FIELD_IN_RECORD",
                f"durationSeconds: value must be a whole number of seconds from 0 to {MAX_DURATION_SECONDS}",
                ["durationSeconds"],
            )
        )
    for key, model in _LINKS.items():
        value = body.get(key)
        if value is None:
            continue
        if (
            not isinstance(value, int)
            or isinstance(value, bool)
            or not 0 < value <= MAX_RECORD_ID
            or session.get(model, value) is None
        ):
            errors.append(
                FieldError(
                    "INVALID_CROSS_REFERENCE_KEY",
                    f"{key}: invalid cross reference id: {value}",
                    [key],
                )
            )
    if errors:
        raise CrmError(400, errors)
    for key, attribute in ACTIVITY_FIELDS.items():
        if key in body and key != "start":
            values[attribute] = body[key]
    return values


def upsert_activity_by_external_id(
    session: Session, external_id: str, body: Any, comments_max_bytes: int, owner_id: int | None
) -> tuple[Activity, bool]:
    """Create the activity with this external id, or update the one that has it.

    Returns the activity and whether it was created.
    """
    if not external_id or len(external_id) > 255:
        raise CrmError.single(400, "INVALID_FIELD", "externalId must be 1 to 255 characters", ["externalId"])
    if isinstance(body, dict) and body.get("externalId") not in (None, external_id):
        raise CrmError.single(
            400, "INVALID_FIELD", "externalId in the body differs from the one in the URL", ["externalId"]
        )
    existing = session.scalar(select(Activity).where(Activity.external_id == external_id))
    values = validate_activity(session, body, comments_max_bytes, partial=existing is not None)
    values["external_id"] = external_id
    if existing is None:
        activity = Activity(owner_id=owner_id, **values)
        session.add(activity)
        session.flush()
        return activity, True
    for attribute, value in values.items():
        setattr(existing, attribute, value)
    existing.updated_at = utcnow()
    session.flush()
    return existing, False


def create_activity(session: Session, body: Any, comments_max_bytes: int, owner_id: int | None) -> Activity:
    values = validate_activity(session, body, comments_max_bytes)
    external_id = values.get("external_id")
    if external_id and session.scalar(select(Activity.id).where(Activity.external_id == external_id)):
        raise CrmError.single(
            400,
            "DUPLICATE_VALUE",
            f"duplicate value found: externalId duplicates value on another activity: {external_id}",
            ["externalId"],
        )
    activity = Activity(owner_id=owner_id, **values)
    session.add(activity)
    session.flush()
    return activity


def add_attachment(session: Session, activity: Activity, name: str, content_type: str, body: bytes) -> Attachment:
    attachment = Attachment(activity_id=activity.id, name=name, content_type=content_type, body=body)
    session.add(attachment)
    session.flush()
    return attachment


def activities_for(session: Session, object_type: str, record_id: int, limit: int = 50) -> list[Activity]:
    column = {
        "contact": Activity.contact_id,
        "account": Activity.account_id,
        "case": Activity.case_id,
        "lead": Activity.lead_id,
    }[object_type]
    return list(
        session.scalars(
            select(Activity).where(column == record_id).order_by(Activity.start.desc(), Activity.id.desc()).limit(limit)
        )
    )


def related_cases(session: Session, object_type: str, record_id: int) -> Iterable[Case]:
    column = Case.contact_id if object_type == "contact" else Case.account_id
    return session.scalars(select(Case).where(column == record_id).order_by(Case.id.desc()).limit(50))
