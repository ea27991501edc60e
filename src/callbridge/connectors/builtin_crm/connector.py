"""The built-in CRM as a Callbridge CRM: the mapping between `CrmConnector` and the CRM's REST API.

- Screen-pop search: the CRM compares phone numbers in E.164 itself, reading
  numbers stored without a country code in its own default region and in the
  connection's `default_region` (sent as `region`); it finds cases by number
  with or without leading zeros, and searches admin rules (one request per
  object type, any rule matching).
- Targets are the CRM's page URLs: `/records/<type>/<id>`, `/search?q=`,
  `/new/<type>?name=&phone=&email=&subject=`.
- Auto log: `PUT /activities/by-external-id/<interaction id>`, so a retried
  write updates the same activity. Comments are cut to the CRM's byte limit
  (`GET /limits`) at a UTF-8 boundary with a note, and the full log is
  attached to the activity once (a retry finds the first attachment).
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping, Sequence
from datetime import UTC
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

from callbridge.connectors.base import (
    ActivityLog,
    ActivityWritten,
    ConnectionProblem,
    CrmAuthError,
    CrmError,
    CrmFieldError,
    CrmLimits,
    CrmPermissionError,
    CrmRecord,
    CrmUnavailable,
    CrmUser,
    CrmValueTooLong,
    PopKind,
    PopTarget,
    SearchRule,
)
from callbridge.services.activity_log import fit_comments, full_log_filename

from .client import BuiltinCrmClient, CrmApiError, CrmSessionExpired, CrmUnreachable, JsonObject, TokenEndpointError
from .schema import BuiltinCrmConfig

T = TypeVar("T")

OBJECT_TYPES = ("contact", "account", "lead", "case")
ACTIVITY_TYPE = {"phone": "call", "chat": "chat", "voicemail": "voicemail"}
LINK_FIELD = {"contact": "contactId", "lead": "leadId", "account": "accountId", "case": "caseId"}
NEW_RECORD_FIELDS = {"name", "phone", "email", "subject", "description", "company", "contactId", "accountId"}
COMMENTS_FIELD = "comments"
CRM_NAME = "the built-in CRM"


class BuiltinCrmConnector:
    """`CrmConnector` for one tenant's built-in CRM, acting as one CRM user (the integration user)."""

    def __init__(self, config: BuiltinCrmConfig, client: BuiltinCrmClient) -> None:
        self.config = config
        self.client = client
        self._limits: CrmLimits | None = None

    # ----------------------------------------------------------- search

    async def search_by_phone(self, phone: str) -> Sequence[CrmRecord]:
        if not any(c.isdigit() for c in phone):
            return []
        records = await self._call(self.client.search_phone(phone, self.config.default_region))
        return [self._record(r) for r in records]

    async def search_by_case_number(self, case_number: str) -> Sequence[CrmRecord]:
        number = case_number.strip()
        if not number:
            return []
        return [self._record(r) for r in await self._call(self.client.search_case_number(number))]

    async def search_by_rules(self, rules: Sequence[SearchRule], data: Mapping[str, str]) -> Sequence[CrmRecord]:
        by_object: dict[str, list[tuple[str, str]]] = {}
        for rule in rules:
            value = data.get(rule.data_key, "").strip()
            if value:
                by_object.setdefault(self._object_type(rule.object_type), []).append((rule.field, value))
        found: dict[tuple[str, str], CrmRecord] = {}
        for object_type, pairs in by_object.items():
            for row in await self._call(self.client.search_rules(object_type, pairs, "any")):
                record = self._record(row)
                found.setdefault((record.object_type, record.record_id), record)
        return list(found.values())

    def _object_type(self, object_type: str) -> str:
        lowered = object_type.lower()
        if lowered not in OBJECT_TYPES:
            raise CrmFieldError(
                f"The built-in CRM has no searchable object type {object_type!r} (one of {', '.join(OBJECT_TYPES)})",
                code="INVALID_TYPE",
                field_name=object_type,
            )
        return lowered

    @staticmethod
    def _record(row: Mapping[str, Any]) -> CrmRecord:
        return CrmRecord(
            object_type=str(row.get("objectType", "")),
            record_id=str(row.get("id", "")),
            name=str(row.get("name") or ""),
            phone=str(row.get("phone") or row.get("mobilePhone") or ""),
            email=str(row.get("email") or ""),
            case_number=str(row.get("caseNumber") or ""),
        )

    # ---------------------------------------------------------- targets

    def record_target(self, record: CrmRecord) -> PopTarget:
        obj = self._object_type(record.object_type)
        url = f"{self.config.base_url}/records/{obj}/{quote(record.record_id, safe='')}"
        return PopTarget(kind=PopKind.RECORD, url=url, object_type=obj, record_id=record.record_id)

    def search_target(self, query: str) -> PopTarget:
        url = f"{self.config.base_url}/search?{urlencode({'q': query})}"
        return PopTarget(kind=PopKind.SEARCH, url=url, query=query)

    def new_record_target(self, object_type: str, prefill: Mapping[str, str]) -> PopTarget:
        obj = self._object_type(object_type or self.config.new_record_object_type)
        known = {k: v for k, v in prefill.items() if v}
        if obj == "case" and "caseNumber" in known and "subject" not in known:
            known["subject"] = f"Case number {known['caseNumber']}"
        # the form takes the fields it knows; the console still sees everything that was known
        fields = {k: v for k, v in known.items() if k in NEW_RECORD_FIELDS}
        url = f"{self.config.base_url}/new/{obj}"
        if fields:
            url += "?" + urlencode(fields)
        return PopTarget(kind=PopKind.NEW_RECORD, url=url, object_type=obj, prefill=known)

    # ---------------------------------------------------------- activity

    async def limits(self) -> CrmLimits:
        if self._limits is None:
            body = await self._call(self.client.limits())
            self._limits = CrmLimits(
                comments_max_bytes=int(body.get("activityCommentsMaxBytes", 4000)), can_attach_files=True
            )
        return self._limits

    def activity_fields(self, log: ActivityLog, comments: str) -> dict[str, object]:
        """The CRM's `ActivityInput` for one log (the external id goes in the URL)."""
        fields: dict[str, object] = {
            "subject": log.subject[:255],
            "type": ACTIVITY_TYPE.get(log.channel, "call"),
            "direction": log.direction if log.direction in ("inbound", "outbound") else "inbound",
            "start": log.started_at.astimezone(UTC).isoformat(),
            "durationSeconds": max(0, int(log.duration_seconds)),
            "disposition": log.disposition[:255],
            "comments": comments,
        }
        for record in (log.who, log.what):
            if record is None:
                continue
            link = LINK_FIELD.get(record.object_type.lower())
            if link is not None and record.record_id.isdigit():
                fields[link] = int(record.record_id)
        return fields

    async def write_activity(self, log: ActivityLog) -> ActivityWritten:
        limits = await self.limits()
        max_bytes = limits.comments_max_bytes
        filename = full_log_filename(log.external_id)
        for _attempt in range(2):
            comments, cut = fit_comments(
                log.comments, max_bytes, filename, crm_name=CRM_NAME, attached=limits.can_attach_files
            )
            try:
                result = await self._call(
                    self.client.upsert_activity(log.external_id, self.activity_fields(log, comments))
                )
            except CrmValueTooLong as error:
                # the limit changed since it was read: read it again and cut once more
                if error.field_name != COMMENTS_FIELD:
                    raise
                self._limits = None
                limits = await self.limits()
                if limits.comments_max_bytes >= max_bytes:
                    raise
                max_bytes = limits.comments_max_bytes
                continue
            activity_id = str(result.activity_id)
            if cut and limits.can_attach_files:
                await self.attach_full_log(activity_id, filename, log.comments)
            return ActivityWritten(activity_id=activity_id, created=result.created)
        raise CrmValueTooLong("The log's comments do not fit in the built-in CRM", field_name=COMMENTS_FIELD)

    async def attach_full_log(self, activity_id: str, filename: str, content: str) -> None:
        """Attaches the full log once: a retry after a lost answer finds the first attachment."""
        existing = await self._call(self.client.list_attachments(int(activity_id)))
        if any(a.get("name") == filename for a in existing):
            return
        await self._call(
            self.client.add_attachment(int(activity_id), filename, content.encode("utf-8"), "text/plain; charset=utf-8")
        )

    # ------------------------------------------------------------ users

    async def list_users(self, query: str = "") -> Sequence[CrmUser]:
        needle = query.strip().lower()
        users = [
            CrmUser(
                user_id=str(u.get("id", "")),
                name=str(u.get("name") or ""),
                email=str(u.get("email") or ""),
                active=bool(u.get("active", True)),
            )
            for u in await self._call(self.client.list_users())
        ]
        if needle:
            users = [u for u in users if needle in u.name.lower() or needle in u.email.lower()]
        return users

    # ------------------------------------------------------------ admin

    async def check_connection(self) -> Sequence[ConnectionProblem]:
        try:
            self._limits = None
            await self.limits()
        except CrmPermissionError as error:
            code = "api_disabled" if error.permission == "API Enabled" else "permission_missing"
            return [ConnectionProblem(code, str(error))]
        except CrmAuthError as error:
            code = "missing_credentials" if error.code == "missing_credentials" else "bad_credentials"
            return [ConnectionProblem(code, str(error))]
        except CrmUnavailable as error:
            return [ConnectionProblem("unreachable", str(error))]
        except CrmError as error:
            return [ConnectionProblem(error.code or "error", str(error))]
        return []

    # ----------------------------------------------------------- errors

    async def _call(self, awaitable: Awaitable[T]) -> T:
        try:
            return await awaitable
        except CrmApiError as error:
            raise crm_error(error) from error
        except TokenEndpointError as error:
            raise CrmAuthError(
                f"The built-in CRM refused Callbridge's refresh token ({error}): an admin must connect the CRM again.",
                code=error.error,
            ) from error


def crm_error(error: CrmApiError) -> CrmError:
    """The CRM's error envelope as Callbridge's typed errors, with messages an admin can act on."""
    code = error.error_code
    if isinstance(error, CrmUnreachable):
        return CrmUnavailable(f"The built-in CRM is unavailable: {error.message}", code=code or "UNREACHABLE")
    if isinstance(error, CrmSessionExpired):
        return CrmAuthError(
            "The built-in CRM refused the token even after a refresh: connect the CRM again.",
            code=code or "INVALID_SESSION_ID",
        )
    if code.startswith("API_DISABLED"):
        return CrmPermissionError(
            f"The built-in CRM refused API access ({code}): the CRM user needs the 'API Enabled' permission.",
            code=code,
            permission="API Enabled",
        )
    if code in ("INSUFFICIENT_ACCESS", "INSUFFICIENT_ACCESS_OR_READONLY"):
        return CrmPermissionError(
            f"The CRM user or token lacks access: {error.message}", code=code, permission="crm.write"
        )
    if code == "STRING_TOO_LONG":
        return CrmValueTooLong(
            f"A value is too long for the built-in CRM: {error.message}",
            code=code,
            field_name=error.fields[0] if error.fields else "",
        )
    if code in ("INVALID_FIELD", "REQUIRED_FIELD_MISSING", "INVALID_TYPE", "FIELD_INTEGRITY_EXCEPTION"):
        return CrmFieldError(
            f"The built-in CRM refused a field of the log: {error.message}",
            code=code,
            field_name=error.fields[0] if error.fields else "",
        )
    if error.status == 429:
        return CrmUnavailable(f"The built-in CRM is busy: {error.message}", code=code or "TOO_MANY_REQUESTS")
    return CrmError(f"The built-in CRM refused the request: {error.message}", code=code)


def record_from_json(row: JsonObject) -> CrmRecord:
    return BuiltinCrmConnector._record(row)
