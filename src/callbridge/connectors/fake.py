"""`FakeCrm`: an in-memory CRM that keeps the `CrmConnector` contract, for unit tests of services.

It answers like the real connectors (the contract suite in tests/contract/ runs the same checks against it,
the built-in CRM over HTTP and the Salesforce stand-in): phone numbers are compared as E.164, activities are
upserted on their external id, an over-long comment is refused as `CrmValueTooLong`. `fail_next` makes the
next calls raise the given `CrmError`s, in order (an outage, a revoked token).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import quote

import phonenumbers

from callbridge.connectors.base import (
    ActivityLog,
    ActivityWritten,
    ConnectionProblem,
    CrmError,
    CrmLimits,
    CrmRecord,
    CrmUser,
    CrmValueTooLong,
    PopKind,
    PopTarget,
    SearchRule,
)

BASE_URL = "https://crm.fake.invalid"


@dataclass
class FakeActivity:
    activity_id: str
    log: ActivityLog
    attachments: list[tuple[str, str]] = field(default_factory=list)  # (filename, content)


class FakeCrm:
    """Records, users and activities in memory. Tweak the public attributes to provoke failures."""

    def __init__(
        self,
        records: Sequence[CrmRecord] = (),
        users: Sequence[CrmUser] = (),
        *,
        default_region: str = "US",
        comments_max_bytes: int = 32_000,
        can_attach_files: bool = True,
    ) -> None:
        self.records: list[CrmRecord] = list(records)
        self.users: list[CrmUser] = list(users)
        self.default_region = default_region
        self.comments_max_bytes = comments_max_bytes
        self.can_attach_files = can_attach_files
        self.activities: dict[str, FakeActivity] = {}  # by external id
        self.fail_next: list[CrmError] = []
        self.problems: list[ConnectionProblem] = []
        self.calls: list[str] = []
        self._ids = itertools.count(1)

    # ------------------------------------------------------------------ helpers

    def add_record(self, record: CrmRecord) -> CrmRecord:
        self.records.append(record)
        return record

    def _called(self, name: str) -> None:
        self.calls.append(name)
        if self.fail_next:
            raise self.fail_next.pop(0)

    def _e164(self, phone: str) -> str:
        try:
            number = phonenumbers.parse(phone, self.default_region)
        except phonenumbers.NumberParseException:
            return ""
        if not phonenumbers.is_possible_number(number):
            return ""
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)

    # ------------------------------------------------------------------ CrmConnector

    async def search_by_phone(self, phone: str) -> Sequence[CrmRecord]:
        self._called("search_by_phone")
        wanted = self._e164(phone)
        return [r for r in self.records if wanted and r.phone and self._e164(r.phone) == wanted]

    async def search_by_case_number(self, case_number: str) -> Sequence[CrmRecord]:
        self._called("search_by_case_number")
        wanted = case_number.strip()
        return [r for r in self.records if wanted and r.case_number == wanted]

    async def search_by_rules(self, rules: Sequence[SearchRule], data: Mapping[str, str]) -> Sequence[CrmRecord]:
        self._called("search_by_rules")
        found: list[CrmRecord] = []
        for rule in rules:
            value = data.get(rule.data_key, "")
            for record in self.records:
                matches = record.object_type == rule.object_type and getattr(record, rule.field, None) == value
                if value and matches and record not in found:
                    found.append(record)
        return found

    def record_target(self, record: CrmRecord) -> PopTarget:
        url = f"{BASE_URL}/records/{quote(record.object_type)}/{quote(record.record_id)}"
        return PopTarget(PopKind.RECORD, url, object_type=record.object_type, record_id=record.record_id)

    def search_target(self, query: str) -> PopTarget:
        return PopTarget(PopKind.SEARCH, f"{BASE_URL}/search?q={quote(query)}", query=query)

    def new_record_target(self, object_type: str, prefill: Mapping[str, str]) -> PopTarget:
        url = f"{BASE_URL}/records/{quote(object_type)}/new"
        return PopTarget(PopKind.NEW_RECORD, url, object_type=object_type, prefill=prefill)

    async def limits(self) -> CrmLimits:
        self._called("limits")
        return CrmLimits(comments_max_bytes=self.comments_max_bytes, can_attach_files=self.can_attach_files)

    async def write_activity(self, log: ActivityLog) -> ActivityWritten:
        self._called("write_activity")
        if len(log.comments.encode("utf-8")) > self.comments_max_bytes:
            raise CrmValueTooLong(
                f"Comments: data value too large (max {self.comments_max_bytes} bytes)",
                code="STRING_TOO_LONG",
                field_name="comments",
                max_bytes=self.comments_max_bytes,
            )
        found = self.activities.get(log.external_id)
        if found is not None:
            found.log = log
            return ActivityWritten(found.activity_id, created=False)
        activity_id = f"act-{next(self._ids)}"
        self.activities[log.external_id] = FakeActivity(activity_id, log)
        return ActivityWritten(activity_id, created=True)

    async def attach_full_log(self, activity_id: str, filename: str, content: str) -> None:
        self._called("attach_full_log")
        activity = next((a for a in self.activities.values() if a.activity_id == activity_id), None)
        if activity is None:
            raise CrmError(f"no activity {activity_id}", code="NOT_FOUND")
        activity.attachments.append((filename, content))

    async def list_users(self, query: str = "") -> Sequence[CrmUser]:
        self._called("list_users")
        q = query.strip().lower()
        return [u for u in self.users if u.active and (not q or q in u.name.lower() or q in u.email.lower())]

    async def check_connection(self) -> Sequence[ConnectionProblem]:
        self._called("check_connection")
        return list(self.problems)
