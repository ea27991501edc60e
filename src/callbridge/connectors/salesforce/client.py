"""Salesforce REST API, wire protocol only.

This module knows Salesforce's REST resources (SOQL query, SOSL search,
sObject describe, create, update, upsert by external id) and its error
envelope, and nothing about Callbridge: it could be published on its own.
It turns Salesforce's error bodies into the typed `SalesforceApiError`s
below; `connector.py` maps those onto Callbridge's `CrmError`s.

Why httpx and not simple-salesforce: the rest of Callbridge is asyncio, and
simple-salesforce is synchronous (requests) and does not refresh a token it
was handed, so it would need a worker thread per call plus our own refresh
logic anyway. httpx gives an async client, and its `MockTransport` lets the
contract tests run against the documented request and response shapes
without patching anything.

Sources for the shapes used here (salesforce.md section 4 and
security-reliability.md A5): error bodies are JSON arrays of
`{"message", "errorCode", "fields"}`; 401 carries INVALID_SESSION_ID; every
response carries `Sforce-Limit-Info: api-usage=used/limit`; upsert is
`PATCH sobjects/<Object>/<ExtIdField>/<value>` answering 201 (created), 200
with `"created": false` (updated, API 46.0 and later) or 204 (updated, older
versions) and 300 (several records match; nothing written).

`RefreshTokenGrant` is Salesforce's OAuth 2.0 refresh-token flow: `POST
https://<login host>/services/oauth2/token` with `grant_type=refresh_token`,
answered with `access_token`, `instance_url`, `id`, `issued_at`, `signature`,
`scope`, `token_type` (no expiry: a session lasts as long as the org's session
settings say, so a token is used until Salesforce answers INVALID_SESSION_ID),
or with `{"error", "error_description"}` (e.g. `invalid_grant`).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote

import httpx

from callbridge.connectors.refresh_tokens import RefreshTokenSource
from callbridge.outbound import UNREACHABLE

JsonObject = dict[str, Any]

_LIMIT_INFO = re.compile(r"api-usage=(\d+)/(\d+)")
_MAX_LENGTH = re.compile(r"max length=(\d+)", re.IGNORECASE)


class TokenProvider(Protocol):
    """Supplies OAuth access tokens; `refresh()` is called once after INVALID_SESSION_ID."""

    async def access_token(self) -> str: ...

    async def refresh(self) -> str: ...


@dataclass(frozen=True, slots=True)
class ApiUsage:
    """The org's daily API request allocation, from the `Sforce-Limit-Info` header."""

    used: int
    limit: int

    @property
    def fraction(self) -> float:
        return self.used / self.limit if self.limit else 0.0


@dataclass(frozen=True, slots=True)
class UpsertResult:
    record_id: str
    created: bool


class SalesforceApiError(Exception):
    """Salesforce answered with an error (or could not be reached: status 0)."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        error_code: str = "",
        fields: Sequence[str] = (),
        body: object = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.error_code = error_code
        self.fields = tuple(fields)
        self.body = body

    @property
    def max_length(self) -> int | None:
        """For STRING_TOO_LONG: the `max length=N` Salesforce quotes in the message."""
        match = _MAX_LENGTH.search(self.message)
        return int(match.group(1)) if match else None


class SalesforceUnreachable(SalesforceApiError):
    """Network failure, timeout or 5xx."""


class SalesforceSessionExpired(SalesforceApiError):
    """401 INVALID_SESSION_ID, still refused after one token refresh."""


class SalesforceMultipleMatches(SalesforceApiError):
    """300 from an upsert: several records hold the external id; nothing was written."""

    def __init__(self, message: str, *, matches: Sequence[str], body: object = None) -> None:
        super().__init__(message, status=300, error_code="MULTIPLE_CHOICES", body=body)
        self.matches = tuple(matches)


class SalesforceTokenRefused(SalesforceApiError):
    """The OAuth token endpoint refused the grant; `error_code` is its `error`
    (`invalid_grant`: the refresh token was revoked or expired, or the user is
    blocked; `invalid_client_id` / `invalid_client`: wrong consumer key or secret;
    `inactive_user`, `inactive_org`, `unsupported_grant_type`)."""


def parse_limit_info(header: str) -> ApiUsage | None:
    match = _LIMIT_INFO.search(header)
    return ApiUsage(int(match.group(1)), int(match.group(2))) if match else None


def _error_from(response: httpx.Response) -> SalesforceApiError:
    status = response.status_code
    try:
        body: object = response.json()
    except ValueError:
        body = response.text
    code, message, fields = "", "", []
    first: object = body[0] if isinstance(body, list) and body else body
    if isinstance(first, dict):
        code = str(first.get("errorCode") or first.get("error") or "")
        message = str(first.get("message") or first.get("error_description") or "")
        raw_fields = first.get("fields") or []
        fields = [str(f) for f in raw_fields] if isinstance(raw_fields, list) else []
    if not message:
        message = f"Salesforce answered HTTP {status}"
    kind: type[SalesforceApiError] = SalesforceApiError
    if status >= 500:
        kind = SalesforceUnreachable
    elif status == 401:
        kind = SalesforceSessionExpired
    return kind(message, status=status, error_code=code, fields=fields, body=body)


@dataclass
class SalesforceClient:
    """Talks to one org's REST API as one user (the token's owner)."""

    instance_url: str
    api_version: str
    tokens: TokenProvider
    http: httpx.AsyncClient
    timeout_seconds: float = 30.0
    api_usage: ApiUsage | None = field(default=None, init=False)

    def use_instance_url(self, instance_url: str) -> None:
        """Where REST calls go from now on: the `instance_url` of the latest token answer."""
        if instance_url.startswith("https://"):
            self.instance_url = instance_url.rstrip("/")

    @property
    def base_path(self) -> str:
        return f"/services/data/v{self.api_version}"

    def _url(self, path: str) -> str:
        if path.startswith("/services/"):
            return self.instance_url + path
        return f"{self.instance_url}{self.base_path}/{path.lstrip('/')}"

    async def _send(
        self, method: str, path: str, token: str, params: Mapping[str, str] | None, json: object
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        try:
            response = await self.http.request(
                method, self._url(path), params=params, json=json, headers=headers, timeout=self.timeout_seconds
            )
        except httpx.TransportError as exc:
            # one message whatever failed (refused, time-out, unknown name): a connection test is no port scanner
            raise SalesforceUnreachable(f"Salesforce {UNREACHABLE}", status=0, error_code="UNREACHABLE") from exc
        usage = parse_limit_info(response.headers.get("Sforce-Limit-Info", ""))
        if usage is not None:
            self.api_usage = usage
        return response

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: object = None,
        accept: Sequence[int] = (200, 201, 204),
    ) -> httpx.Response:
        """Sends one request; refreshes the token once when Salesforce says the session is invalid."""
        response = await self._send(method, path, await self.tokens.access_token(), params, json)
        if response.status_code == 401:
            response = await self._send(method, path, await self.tokens.refresh(), params, json)
        if response.status_code in accept:
            return response
        raise _error_from(response)

    async def query(self, soql: str) -> list[JsonObject]:
        """SOQL `query/?q=`, following `nextRecordsUrl` until `done`."""
        response = await self.request("GET", "query/", params={"q": soql})
        page: JsonObject = response.json()
        records: list[JsonObject] = list(page.get("records", []))
        while not page.get("done", True) and page.get("nextRecordsUrl"):
            page = (await self.request("GET", str(page["nextRecordsUrl"]))).json()
            records.extend(page.get("records", []))
        return records

    async def search(self, sosl: str) -> list[JsonObject]:
        """SOSL `search/?q=`. Returns the `searchRecords` (a bare list in old API versions)."""
        response = await self.request("GET", "search/", params={"q": sosl})
        body = response.json()
        if isinstance(body, dict):
            return list(body.get("searchRecords", []))
        return list(body or [])

    async def describe(self, sobject: str) -> JsonObject:
        response = await self.request("GET", f"sobjects/{sobject}/describe/")
        result: JsonObject = response.json()
        return result

    async def create(self, sobject: str, body: Mapping[str, object]) -> str:
        response = await self.request("POST", f"sobjects/{sobject}/", json=dict(body), accept=(201,))
        return str(response.json()["id"])

    async def update(self, sobject: str, record_id: str, body: Mapping[str, object]) -> None:
        await self.request("PATCH", f"sobjects/{sobject}/{quote(record_id, safe='')}", json=dict(body), accept=(204,))

    async def get_by_external_id(
        self, sobject: str, field_name: str, value: str, fields: Sequence[str] = ("Id",)
    ) -> JsonObject:
        path = f"sobjects/{sobject}/{field_name}/{quote(value, safe='')}"
        response = await self.request("GET", path, params={"fields": ",".join(fields)}, accept=(200,))
        result: JsonObject = response.json()
        return result

    async def upsert(self, sobject: str, field_name: str, value: str, body: Mapping[str, object]) -> UpsertResult:
        """`PATCH sobjects/<Object>/<ExtIdField>/<value>`: creates, updates, or refuses when several match."""
        path = f"sobjects/{sobject}/{field_name}/{quote(value, safe='')}"
        response = await self.request("PATCH", path, json=dict(body), accept=(200, 201, 204, 300))
        if response.status_code == 300:
            matches = response.json()
            raise SalesforceMultipleMatches(
                f"{len(matches)} {sobject} records have {field_name} = {value}; nothing was written",
                matches=[str(m) for m in matches],
                body=matches,
            )
        if response.status_code == 204:
            record = await self.get_by_external_id(sobject, field_name, value)
            return UpsertResult(str(record["Id"]), created=False)
        result = response.json()
        created = bool(result.get("created", response.status_code == 201))
        return UpsertResult(str(result["id"]), created=created)


class RefreshTokenGrant(RefreshTokenSource):
    """Access tokens from a refresh token (Salesforce's OAuth 2.0 refresh token flow).

    The token is kept until Salesforce refuses it (INVALID_SESSION_ID), then `refresh()` gets a new
    one (`RefreshTokenSource` serialises refreshes and stores a rotated refresh token before use).
    The answer's `instance_url` (where REST calls go) is handed to `on_instance_url`.
    """

    def __init__(
        self,
        *,
        token_url: str,
        client_id: str,
        client_secret: str,
        refresh_token: str,
        http: httpx.AsyncClient,
        save: Callable[[str], Awaitable[None]] | None = None,
        on_instance_url: Callable[[str], None] | None = None,
        timeout_seconds: float = 30.0,
    ) -> None:
        super().__init__(refresh_token, save)
        self.token_url = token_url
        self.client_id = client_id
        self._client_secret = client_secret
        self._http = http
        self.on_instance_url = on_instance_url
        self._timeout = timeout_seconds
        self.instance_url = ""
        self.identity_url = ""

    def _answered(self, body: dict[str, Any]) -> None:
        instance_url = body.get("instance_url")
        if isinstance(instance_url, str) and instance_url.startswith("https://"):
            self.instance_url = instance_url.rstrip("/")
            if self.on_instance_url is not None:
                self.on_instance_url(self.instance_url)
        self.identity_url = str(body.get("id") or "")

    def _grant_refused(self, error: Exception) -> bool:
        return isinstance(error, SalesforceTokenRefused) and error.error_code == "invalid_grant"

    async def _grant(self) -> JsonObject:
        form = {
            "grant_type": "refresh_token",
            "refresh_token": self._refresh_token,
            "client_id": self.client_id,
            "client_secret": self._client_secret,
        }
        try:
            response = await self._http.post(
                self.token_url, data=form, headers={"Accept": "application/json"}, timeout=self._timeout
            )
        except httpx.TransportError as exc:
            raise SalesforceUnreachable(
                f"Salesforce's token endpoint {self.token_url} {UNREACHABLE}",
                status=0,
                error_code="UNREACHABLE",
            ) from exc
        status = response.status_code
        try:
            body: object = response.json()
        except ValueError:
            body = None
        if status >= 500 or status == 429:
            raise SalesforceUnreachable(
                f"Salesforce's token endpoint answered HTTP {status}", status=status, error_code="UNREACHABLE"
            )
        if status == 200 and isinstance(body, dict) and isinstance(body.get("access_token"), str):
            return body
        error = description = ""
        if isinstance(body, dict):
            error = str(body.get("error") or "")
            description = str(body.get("error_description") or "")
        if not error and status == 200:
            raise SalesforceUnreachable(
                f"Salesforce's token endpoint {self.token_url} answered without an access token",
                status=status,
                error_code="INVALID_TOKEN_RESPONSE",
            )
        if not error:
            raise SalesforceTokenRefused(
                f"{self.token_url} answered HTTP {status}, not an OAuth answer: is the login URL right?",
                status=status,
                error_code="invalid_token_endpoint",
                body=body,
            )
        message = f"{error}: {description}" if description else error
        raise SalesforceTokenRefused(message, status=status, error_code=error, body=body)
