"""Salesforce as a Callbridge CRM: the mapping between `CrmConnector` and Salesforce's REST API.

- Screen-pop search: SOSL over phone fields with several formats of the
  caller's number (escaped), then only the records whose phone normalises to
  the same E.164 number are kept; SOQL by case number; SOQL per admin rule.
- Auto log: a Task, upserted on an External ID custom field that holds the
  interaction id, so a retried write updates instead of duplicating. Where an
  org cannot have that field, `ActivityKeyMode.CALL_OBJECT` keys the Task on
  the standard `CallObject` field instead (query, then create or update).
- The comments limit is read from the Task describe (`Description.length`);
  a log that does not fit is cut at a UTF-8 boundary, says so (shared with
  every connector: `callbridge.services.activity_log.fit_comments`), and the
  full log is attached to the Task as a file (ContentVersion).
- Salesforce errors become Callbridge's typed `CrmError`s with messages an
  agent and an admin can act on; `Sforce-Limit-Info` is tracked on every call.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Awaitable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC
from typing import Any, TypeVar
from urllib.parse import quote

import phonenumbers

from callbridge.connectors.base import (
    ActivityLog,
    ActivityWritten,
    ConnectionProblem,
    CrmAuthError,
    CrmError,
    CrmFieldError,
    CrmLimits,
    CrmPermissionError,
    CrmRateLimited,
    CrmRecord,
    CrmUnavailable,
    CrmUser,
    CrmValueTooLong,
    PopKind,
    PopTarget,
    SearchRule,
)
from callbridge.services.activity_log import fit_comments, full_log_filename

from .client import (
    ApiUsage,
    JsonObject,
    SalesforceApiError,
    SalesforceClient,
    SalesforceMultipleMatches,
    SalesforceSessionExpired,
    SalesforceTokenRefused,
    SalesforceUnreachable,
)
from .schema import ActivityKeyMode, SalesforceConfig, UiExperience

T = TypeVar("T")

# ---------------------------------------------------------------- escaping

_SOSL_RESERVED = set("?&|!{}[]()^~*:\\\"'+-")
_SOQL_ESCAPES = {"\\": "\\\\", "'": "\\'", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}
_API_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,79}$")


def escape_sosl(term: str) -> str:
    """Backslash-escapes SOSL's reserved characters ``? & | ! { } [ ] ( ) ^ ~ * : \\ " ' + -``."""
    return "".join("\\" + c if c in _SOSL_RESERVED else c for c in term)


def escape_soql(value: str) -> str:
    """Escapes a value for a single-quoted SOQL string literal."""
    return "".join(_SOQL_ESCAPES.get(c, c) for c in value)


def escape_soql_like(value: str) -> str:
    return escape_soql(value).replace("%", "\\%").replace("_", "\\_")


@dataclass(frozen=True, slots=True)
class Name:
    """An identifier (object or field API name) for `format_soql`; validated, inserted as is."""

    value: str


@dataclass(frozen=True, slots=True)
class Like:
    """A value for `format_soql` used inside a LIKE pattern: `%`/`_` escaped too."""

    value: str


def format_soql(template: str, /, **values: str | Name | Like | Sequence[str]) -> str:
    """Fills `{name}` placeholders in a SOQL template: strings become escaped quoted literals,
    sequences become `('a', 'b')`, `Name`s are checked API names, `Like`s escaped LIKE bodies.
    (The same idea as simple-salesforce's `format_soql`.)"""
    rendered: dict[str, str] = {}
    for key, value in values.items():
        if isinstance(value, Name):
            rendered[key] = api_name(value.value)
        elif isinstance(value, Like):
            rendered[key] = escape_soql_like(value.value)
        elif isinstance(value, str):
            rendered[key] = f"'{escape_soql(value)}'"
        else:
            rendered[key] = "(" + ", ".join(f"'{escape_soql(v)}'" for v in value) + ")"
    return template.format_map(rendered)


def api_name(value: str) -> str:
    """Refuses anything but a Salesforce API name, so rule objects and fields cannot inject SOQL."""
    if not _API_NAME.match(value):
        raise CrmFieldError(f"{value!r} is not a Salesforce API name", code="INVALID_FIELD", field_name=value)
    return value


# ------------------------------------------------------------ phone numbers


@dataclass(frozen=True, slots=True)
class PhoneQuery:
    e164: str  # "" when the number cannot be parsed
    digits: str
    variants: tuple[str, ...]  # raw, unescaped search forms


def phone_query(raw: str, region: str) -> PhoneQuery:
    """The E.164 form of `raw` and the formats Salesforce may have stored it in."""
    digits = re.sub(r"\D", "", raw)
    variants: list[str] = []
    e164 = ""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        number = None
    if number is not None and phonenumbers.is_possible_number(number):
        e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        national = phonenumbers.national_significant_number(number)
        variants += [
            national,
            e164[1:],
            e164,
            phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL),
            phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL),
        ]
    if digits:
        variants.append(digits)
    seen: dict[str, None] = {}
    for variant in variants:
        seen.setdefault(variant.strip(), None)
    return PhoneQuery(e164=e164, digits=digits, variants=tuple(v for v in seen if v))


def normalise_phone(raw: str, region: str) -> str:
    """E.164 when parseable, else the bare digits: the comparison key on both sides."""
    try:
        number = phonenumbers.parse(raw, region)
        if phonenumbers.is_possible_number(number):
            return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
    except phonenumbers.NumberParseException:
        pass
    return re.sub(r"\D", "", raw)


def sosl_find_clause(variants: Iterable[str]) -> str:
    """`{a OR "b c" OR ...}`: each variant escaped; ones with spaces searched as phrases."""
    terms = []
    for variant in variants:
        escaped = escape_sosl(variant)
        terms.append(f'"{escaped}"' if " " in variant else escaped)
    return "{" + " OR ".join(terms) + "}"


# Fields returned per object by the phone search; the phone fields are the ones compared.
PHONE_FIELDS: dict[str, tuple[str, ...]] = {
    "Contact": ("Phone", "MobilePhone", "HomePhone", "OtherPhone", "AssistantPhone"),
    "Lead": ("Phone", "MobilePhone"),
    "Account": ("Phone",),
}
EMAIL_FIELD = {"Contact": "Email", "Lead": "Email"}
NAME_FIELD = {"Case": "CaseNumber", "Task": "Subject", "Event": "Subject"}
STANDARD_OBJECTS = {
    name.lower(): name for name in ("Contact", "Lead", "Account", "Case", "Opportunity", "User", "Task")
}
CLASSIC_KEY_PREFIX = {"Account": "001", "Contact": "003", "Lead": "00Q", "Case": "500", "Opportunity": "006"}
CALL_TYPE = {"inbound": "Inbound", "outbound": "Outbound", "internal": "Internal"}
CALL_CHANNELS = {"phone", "voicemail"}
COMMENTS_FIELD = "Description"

# Error codes (REST error envelope `errorCode`) and how they read to people.
API_DISABLED_CODES = {"API_DISABLED_FOR_ORG", "API_CURRENTLY_DISABLED"}
PERMISSION_CODES = {
    "INSUFFICIENT_ACCESS",
    "INSUFFICIENT_ACCESS_OR_READONLY",
    "INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY",
}
FIELD_CODES = {"INVALID_FIELD", "INVALID_FIELD_FOR_INSERT_UPDATE", "NO_SUCH_COLUMN", "INVALID_TYPE"}
RETRYABLE_CODES = {"UNABLE_TO_LOCK_ROW", "SERVER_UNAVAILABLE", "REQUEST_RUNNING_TOO_LONG"}

_NO_SUCH_COLUMN = re.compile(r"No such column '([^']+)'")


def object_api_name(object_type: str) -> str:
    return STANDARD_OBJECTS.get(object_type.lower(), api_name(object_type))


class SalesforceConnector:
    """`CrmConnector` for one tenant's Salesforce org, acting as one Salesforce user."""

    def __init__(self, config: SalesforceConfig, client: SalesforceClient) -> None:
        self.config = config
        self.client = client
        self._task_describe: JsonObject | None = None
        self._can_attach: bool | None = None

    @property
    def api_usage(self) -> ApiUsage | None:
        """The last `Sforce-Limit-Info` seen: the org's API requests used / allowed in 24 hours."""
        return self.client.api_usage

    # ----------------------------------------------------------- search

    async def search_by_phone(self, phone: str) -> Sequence[CrmRecord]:
        query = phone_query(phone, self.config.default_region)
        if not query.variants:
            return []
        returning = ", ".join(self._returning(obj) for obj in self.config.search_objects)
        sosl = f"FIND {sosl_find_clause(query.variants)} IN PHONE FIELDS RETURNING {returning} LIMIT 50"
        rows = await self._call(self.client.search(sosl))
        wanted = query.e164 or query.digits
        records = []
        for row in rows:
            record_type = str(row.get("attributes", {}).get("type", ""))
            phone_fields = PHONE_FIELDS.get(record_type, ())
            matched = [
                str(row[f])
                for f in phone_fields
                if row.get(f) and normalise_phone(str(row[f]), self.config.default_region) == wanted
            ]
            if phone_fields and not matched:
                continue  # SOSL matched a token, not the number
            records.append(self._record(row, phone=matched[0] if matched else ""))
        return records

    def _returning(self, obj: str) -> str:
        fields = ["Id", NAME_FIELD.get(obj, "Name"), *PHONE_FIELDS.get(obj, ())]
        if obj in EMAIL_FIELD:
            fields.append(EMAIL_FIELD[obj])
        return f"{obj}({', '.join(fields)})"

    async def search_by_case_number(self, case_number: str) -> Sequence[CrmRecord]:
        number = case_number.strip()
        if not number:
            return []
        candidates = [number]
        if number.isdigit() and len(number) < 8:
            candidates.append(number.zfill(8))  # auto-numbers are usually zero-padded to 8 digits
        soql = format_soql(
            "SELECT Id, CaseNumber, Subject, ContactPhone, ContactEmail FROM Case "
            "WHERE CaseNumber IN {numbers} LIMIT 10",
            numbers=candidates,
        )
        rows = await self._call(self.client.query(soql))
        return [
            CrmRecord(
                object_type="Case",
                record_id=str(row["Id"]),
                name=str(row.get("Subject") or row.get("CaseNumber") or ""),
                phone=str(row.get("ContactPhone") or ""),
                email=str(row.get("ContactEmail") or ""),
                case_number=str(row.get("CaseNumber") or ""),
            )
            for row in rows
        ]

    async def search_by_rules(self, rules: Sequence[SearchRule], data: Mapping[str, str]) -> Sequence[CrmRecord]:
        found: dict[str, CrmRecord] = {}
        for rule in rules:
            value = data.get(rule.data_key, "").strip()
            if not value:
                continue
            obj = object_api_name(rule.object_type)
            field_name = api_name(rule.field)
            name_field = NAME_FIELD.get(obj, "Name")
            template = (
                "SELECT Id, {field} FROM {obj} WHERE {field} = {value} LIMIT 50"
                if name_field == field_name
                else "SELECT Id, {name}, {field} FROM {obj} WHERE {field} = {value} LIMIT 50"
            )
            soql = format_soql(
                template,
                name=Name(name_field),
                field=Name(field_name),
                obj=Name(obj),
                value=value,
            )
            for row in await self._call(self.client.query(soql)):
                record = self._record(row, object_type=obj)
                found.setdefault(record.record_id, record)
        return list(found.values())

    def _record(self, row: Mapping[str, Any], *, phone: str = "", object_type: str = "") -> CrmRecord:
        obj = object_type or str(row.get("attributes", {}).get("type", ""))
        name_field = NAME_FIELD.get(obj, "Name")
        return CrmRecord(
            object_type=obj,
            record_id=str(row["Id"]),
            name=str(row.get(name_field) or ""),
            phone=phone,
            email=str(row.get(EMAIL_FIELD.get(obj, "Email")) or ""),
            case_number=str(row.get("CaseNumber") or "") if obj == "Case" else "",
        )

    # ---------------------------------------------------------- targets

    def record_target(self, record: CrmRecord) -> PopTarget:
        obj = object_api_name(record.object_type)
        rid = quote(record.record_id, safe="")
        if self.config.ui is UiExperience.CLASSIC:
            url = f"{self.config.instance_url}/{rid}"
        else:
            url = f"{self.config.instance_url}/lightning/r/{obj}/{rid}/view"
        return PopTarget(kind=PopKind.RECORD, url=url, object_type=obj, record_id=record.record_id)

    def search_target(self, query: str) -> PopTarget:
        if self.config.ui is UiExperience.CLASSIC:
            url = f"{self.config.instance_url}/_ui/search/ui/UnifiedSearchResults?str={quote(query, safe='')}"
        else:
            state = {
                "componentDef": "forceSearch:searchPage",
                "attributes": {"term": query, "scopeMap": {"type": "TOP_RESULTS"}},
            }
            token = base64.b64encode(json.dumps(state, separators=(",", ":")).encode()).decode()
            url = f"{self.config.instance_url}/one/one.app#{token}"
        return PopTarget(kind=PopKind.SEARCH, url=url, query=query)

    def new_record_target(self, object_type: str, prefill: Mapping[str, str]) -> PopTarget:
        obj = object_api_name(object_type)
        fields = {api_name(k): v for k, v in prefill.items()}
        if self.config.ui is UiExperience.CLASSIC and obj in CLASSIC_KEY_PREFIX:
            url = f"{self.config.instance_url}/{CLASSIC_KEY_PREFIX[obj]}/e"
        else:
            url = f"{self.config.instance_url}/lightning/o/{obj}/new"
            if fields:
                # Lightning's defaultFieldValues: Field=value pairs, comma separated, values URL-encoded.
                pairs = ",".join(f"{k}={quote(v, safe='')}" for k, v in fields.items())
                url += "?defaultFieldValues=" + pairs
        return PopTarget(kind=PopKind.NEW_RECORD, url=url, object_type=obj, prefill=fields)

    # ---------------------------------------------------------- activity

    async def _describe_task(self, *, fresh: bool = False) -> JsonObject:
        if self._task_describe is None or fresh:
            self._task_describe = await self._call(self.client.describe("Task"))
        return self._task_describe

    @staticmethod
    def _field(describe: Mapping[str, Any], name: str) -> Mapping[str, Any] | None:
        for entry in describe.get("fields", []):
            if str(entry.get("name", "")).lower() == name.lower():
                return dict(entry)
        return None

    def _comments_limit(self, describe: Mapping[str, Any]) -> int:
        entry = self._field(describe, COMMENTS_FIELD)
        if entry is None:
            raise CrmFieldError(
                "The Task field Comments (Description) is missing or not visible to this Salesforce user; "
                "grant field-level security on it.",
                code="FIELD_MISSING",
                field_name="Task.Description",
            )
        limits = [int(entry[k]) for k in ("length", "byteLength") if entry.get(k)]
        return min(limits) if limits else 32000

    async def limits(self) -> CrmLimits:
        describe = await self._describe_task()
        if self._can_attach is None:
            content = await self._call(self.client.describe("ContentVersion"))
            self._can_attach = bool(content.get("createable", False))
        return CrmLimits(comments_max_bytes=self._comments_limit(describe), can_attach_files=self._can_attach)

    def task_body(self, log: ActivityLog, comments: str) -> dict[str, object]:
        """The Task fields for one log (without the external id, which goes in the upsert URL)."""
        body: dict[str, object] = {
            "Subject": log.subject[:255],
            "Description": comments,
            "CallType": CALL_TYPE.get(log.direction, "Inbound"),
            "CallDurationInSeconds": max(0, int(log.duration_seconds)),
            "CallObject": log.external_id[:255],
            "CallDisposition": log.disposition[:255],
            "TaskSubtype": "Call" if log.channel in CALL_CHANNELS else "Task",
            "Type": self.config.task_type_by_channel.get(log.channel, "Call"),
            "Status": "Completed",
            "Priority": "Normal",
            "ActivityDate": log.started_at.astimezone(UTC).date().isoformat(),
        }
        if log.who is not None:
            body["WhoId"] = log.who.record_id
        # A Task whose WhoId is a Lead cannot have a WhatId.
        lead = log.who is not None and object_api_name(log.who.object_type) == "Lead"
        if log.what is not None and not lead:
            body["WhatId"] = log.what.record_id
        if log.crm_user_id:
            body["OwnerId"] = log.crm_user_id
        return body

    async def write_activity(self, log: ActivityLog) -> ActivityWritten:
        describe = await self._describe_task()
        if self.config.activity_key_mode is ActivityKeyMode.EXTERNAL_ID:
            self._require_external_id_field(describe)
        filename = full_log_filename(log.external_id)
        max_bytes = self._comments_limit(describe)
        for _attempt in range(2):
            comments, cut = fit_comments(log.comments, max_bytes, filename, crm_name="Salesforce")
            try:
                written = await self._save_task(self.task_body(log, comments), log.external_id)
            except CrmValueTooLong as exc:
                # The describe was stale or counted differently: cut to what Salesforce says, once.
                if exc.field_name != COMMENTS_FIELD or not exc.max_bytes or exc.max_bytes >= max_bytes:
                    raise
                max_bytes = exc.max_bytes
                self._task_describe = None
                continue
            if cut:
                await self.attach_full_log(written.activity_id, filename, log.comments)
            return written
        raise CrmValueTooLong("The call log's comments do not fit in Salesforce", field_name=COMMENTS_FIELD)

    def _require_external_id_field(self, describe: Mapping[str, Any]) -> None:
        name = self.config.external_id_field
        entry = self._field(describe, name)
        if entry is None:
            raise CrmFieldError(
                f"The Task field {name} is missing or not visible to this Salesforce user. Install Callbridge's "
                "Salesforce package and assign the Callbridge Agent permission set, or switch the connector to "
                "the CallObject fallback.",
                code="FIELD_MISSING",
                field_name=f"Task.{name}",
            )
        if not entry.get("externalId"):
            raise CrmFieldError(
                f"The Task field {name} exists but is not marked External ID, so it cannot key an upsert.",
                code="FIELD_NOT_EXTERNAL_ID",
                field_name=f"Task.{name}",
            )

    async def _save_task(self, body: dict[str, object], external_id: str) -> ActivityWritten:
        if self.config.activity_key_mode is ActivityKeyMode.CALL_OBJECT:
            return await self._save_by_call_object(body, external_id)
        field_name = self.config.external_id_field
        try:
            result = await self._call(self.client.upsert("Task", field_name, external_id, body))
        except CrmFieldError as exc:
            # TaskSubtype is create-only: when the upsert turns out to be an update, send it without.
            if "TaskSubtype" not in (exc.field_name or str(exc)):
                raise
            rest = {k: v for k, v in body.items() if k != "TaskSubtype"}
            result = await self._call(self.client.upsert("Task", field_name, external_id, rest))
        except CrmError as exc:
            if exc.code != "NOT_FOUND":
                raise
            raise CrmFieldError(
                f"Salesforce does not know the external id field Task.{field_name} (or this user cannot see it).",
                code=exc.code,
                field_name=f"Task.{field_name}",
            ) from exc
        return ActivityWritten(activity_id=result.record_id, created=result.created)

    async def _save_by_call_object(self, body: dict[str, object], external_id: str) -> ActivityWritten:
        soql = format_soql("SELECT Id FROM Task WHERE CallObject = {key} ORDER BY CreatedDate LIMIT 2", key=external_id)
        rows = await self._call(self.client.query(soql))
        if len(rows) > 1:
            raise CrmError(
                f"Several Salesforce Tasks have CallObject = {external_id}; nothing was written.",
                code="MULTIPLE_CHOICES",
            )
        if rows:
            task_id = str(rows[0]["Id"])
            rest = {k: v for k, v in body.items() if k != "TaskSubtype"}
            await self._call(self.client.update("Task", task_id, rest))
            return ActivityWritten(activity_id=task_id, created=False)
        task_id = await self._call(self.client.create("Task", body))
        return ActivityWritten(activity_id=task_id, created=True)

    async def attach_full_log(self, activity_id: str, filename: str, content: str) -> None:
        """Attaches the full log to the Task as a file, once (a retry finds the first one)."""
        soql = format_soql(
            "SELECT Id FROM ContentDocumentLink "
            "WHERE LinkedEntityId = {task} AND ContentDocument.Title = {title} LIMIT 1",
            task=activity_id,
            title=filename,
        )
        if await self._call(self.client.query(soql)):
            return
        body = {
            "Title": filename,
            "PathOnClient": filename,
            "VersionData": base64.b64encode(content.encode("utf-8")).decode("ascii"),
            "FirstPublishLocationId": activity_id,
        }
        await self._call(self.client.create("ContentVersion", body))

    # ------------------------------------------------------------ users

    async def list_users(self, query: str = "") -> Sequence[CrmUser]:
        if query.strip():
            soql = format_soql(
                "SELECT Id, Name, Email, IsActive FROM User WHERE IsActive = true "
                "AND (Name LIKE '%{q}%' OR Email LIKE '%{q}%') ORDER BY Name LIMIT 200",
                q=Like(query.strip()),
            )
        else:
            soql = "SELECT Id, Name, Email, IsActive FROM User WHERE IsActive = true ORDER BY Name LIMIT 200"
        rows = await self._call(self.client.query(soql))
        return [
            CrmUser(
                user_id=str(r["Id"]),
                name=str(r.get("Name") or ""),
                email=str(r.get("Email") or ""),
                active=bool(r.get("IsActive", True)),
            )
            for r in rows
        ]

    # ------------------------------------------------------------ admin

    async def check_connection(self) -> Sequence[ConnectionProblem]:
        problems: list[ConnectionProblem] = []
        try:
            describe = await self._describe_task(fresh=True)
            self._comments_limit(describe)
            if self.config.activity_key_mode is ActivityKeyMode.EXTERNAL_ID:
                self._require_external_id_field(describe)
                entry = self._field(describe, self.config.external_id_field) or {}
                if not (entry.get("createable") and entry.get("updateable")):
                    problems.append(
                        ConnectionProblem(
                            "field_read_only",
                            f"Task.{self.config.external_id_field} is read-only for this user: grant edit access "
                            "with the Callbridge Agent permission set.",
                        )
                    )
        except CrmFieldError as exc:
            problems.append(ConnectionProblem("field_missing", str(exc)))
        except CrmPermissionError as exc:
            code = "api_disabled" if exc.permission == "API Enabled" else "permission_missing"
            problems.append(ConnectionProblem(code, str(exc)))
        except CrmAuthError as exc:
            code = "missing_credentials" if exc.code == "missing_credentials" else "bad_credentials"
            problems.append(ConnectionProblem(code, str(exc)))
        except CrmRateLimited as exc:
            problems.append(ConnectionProblem("request_limit", str(exc)))
        except CrmUnavailable as exc:
            problems.append(ConnectionProblem("unreachable", str(exc)))
        except CrmError as exc:
            problems.append(ConnectionProblem(exc.code.lower() or "crm_error", str(exc)))
        usage = self.api_usage
        if usage is not None and usage.fraction >= 0.9:
            problems.append(
                ConnectionProblem(
                    "request_limit_near",
                    f"This org has used {usage.used} of its {usage.limit} API requests for the last 24 hours.",
                )
            )
        return problems

    # ----------------------------------------------------------- errors

    async def _call(self, awaitable: Awaitable[T]) -> T:
        try:
            return await awaitable
        except SalesforceApiError as exc:
            raise self._crm_error(exc) from exc

    def _crm_error(self, exc: SalesforceApiError) -> CrmError:
        code = exc.error_code
        usage = self.api_usage
        usage_text = f" ({usage.used} of {usage.limit} requests used in the last 24 hours)" if usage else ""
        if isinstance(exc, SalesforceUnreachable) or code in RETRYABLE_CODES:
            return CrmUnavailable(f"Salesforce is unavailable: {exc.message}", code=code or "UNREACHABLE")
        if isinstance(exc, SalesforceTokenRefused):
            return CrmAuthError(self._token_refused_message(exc), code=code or "invalid_grant")
        if isinstance(exc, SalesforceSessionExpired):
            return CrmAuthError(
                "Salesforce refused the session even after a token refresh: sign in with Salesforce again.",
                code=code or "INVALID_SESSION_ID",
            )
        if isinstance(exc, SalesforceMultipleMatches):
            return CrmError(str(exc), code="MULTIPLE_CHOICES")
        if code == "REQUEST_LIMIT_EXCEEDED":
            return CrmRateLimited(
                f"Salesforce's API request limit for this org is used up{usage_text}. Call logs wait and are "
                "retried; an admin can check usage in Salesforce Setup (Company Information, API Requests).",
                code=code,
            )
        if code in API_DISABLED_CODES:
            return CrmPermissionError(
                f'Salesforce refused API access ({code}): the Salesforce user needs the "API Enabled" permission '
                "(profile or permission set), and the org's edition must include API access.",
                code=code,
                permission="API Enabled",
            )
        if code in PERMISSION_CODES:
            return CrmPermissionError(
                f"The Salesforce user lacks access: {exc.message}", code=code, permission="object or record access"
            )
        if code == "STRING_TOO_LONG":
            field_name = exc.fields[0] if exc.fields else ""
            return CrmValueTooLong(
                f"A value is too long for Salesforce: {exc.message}",
                code=code,
                field_name=field_name,
                max_bytes=exc.max_length,
            )
        if code in FIELD_CODES or (code == "NOT_FOUND" and "external ID field" in exc.message):
            match = _NO_SUCH_COLUMN.search(exc.message)
            field_name = exc.fields[0] if exc.fields else (match.group(1) if match else "")
            return CrmFieldError(
                f"A Salesforce field the call log needs is missing or not visible to this user: {exc.message}",
                code=code,
                field_name=field_name,
            )
        return CrmError(f"Salesforce refused the request: {exc.message}", code=code)

    def _token_refused_message(self, exc: SalesforceTokenRefused) -> str:
        code, host = exc.error_code, self.config.login_host
        if code == "missing_credentials":
            return exc.message
        if code in ("invalid_client_id", "invalid_client", "invalid_client_credentials"):
            return (
                f"Salesforce does not accept the connected app's consumer key or secret ({exc.message}): copy both "
                "again from the connected app (Setup, App Manager, View, Manage Consumer Details) and connect "
                "Salesforce again."
            )
        if code == "inactive_user":
            return f"The Salesforce integration user is inactive ({exc.message}): reactivate it or use another user."
        if code == "inactive_org":
            return f"The Salesforce org is inactive or locked ({exc.message})."
        if code == "invalid_token_endpoint":
            return f"Salesforce's token endpoint was not found ({exc.message}); check the environment and login URL."
        if code == "invalid_grant":
            return (
                f"Salesforce refused the integration user's refresh token at {host} ({exc.message}). It was revoked, "
                "expired under the connected app's refresh token policy, or belongs to another org (a sandbox's "
                "token needs the sandbox environment or its My Domain login URL). Get a new refresh token and "
                "connect Salesforce again."
            )
        return (
            f"Salesforce's token endpoint at {host} refused the refresh token ({exc.message}): "
            "connect Salesforce again."
        )
