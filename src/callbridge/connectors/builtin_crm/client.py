"""The built-in CRM's REST API (/api/v1), wire protocol only.

It knows the CRM's resources (phone, case-number and rule search; activity
upsert by external id; attachments; users; limits), its error envelope (a
JSON array of `{"errorCode", "message", "fields"}`, as Salesforce answers)
and its OAuth 2.0 token endpoint, and nothing about Callbridge: it could be
published on its own. `connector.py` maps its errors onto `CrmError`s.
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote

import httpx

from callbridge.connectors.refresh_tokens import RefreshTokenSource
from callbridge.outbound import UNREACHABLE

JsonObject = dict[str, Any]


class TokenProvider(Protocol):
    """Supplies bearer tokens; `refresh()` is called once after the API answers INVALID_SESSION_ID."""

    async def access_token(self) -> str: ...

    async def refresh(self) -> str: ...


class CrmApiError(Exception):
    """The CRM answered with an error, or could not be reached (status 0)."""

    def __init__(self, message: str, *, status: int, error_code: str = "", fields: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.error_code = error_code
        self.fields = tuple(fields)


class CrmUnreachable(CrmApiError):
    """No answer (connection refused or dropped, time-out) or a 5xx: the request may or may not have been applied."""


class CrmSessionExpired(CrmApiError):
    """401 even after a token refresh."""


class TokenEndpointError(Exception):
    """The token endpoint refused the grant (e.g. `invalid_grant`: the refresh token was revoked)."""

    def __init__(self, error: str, description: str = "") -> None:
        super().__init__(f"{error}: {description}" if description else error)
        self.error = error
        self.description = description


@dataclass(frozen=True, slots=True)
class UpsertResult:
    activity_id: int
    created: bool


class RefreshTokenGrant(RefreshTokenSource):
    """Access tokens from a refresh token at the built-in CRM's token endpoint (client_secret_basic).

    The CRM rotates refresh tokens on every use; `RefreshTokenSource` stores each new one before use.
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
        timeout_seconds: float = 10.0,
    ) -> None:
        super().__init__(refresh_token, save)
        self.token_url = token_url
        self.client_id = client_id
        self._client_secret = client_secret
        self._http = http
        self._timeout = timeout_seconds

    def _grant_refused(self, error: Exception) -> bool:
        return isinstance(error, TokenEndpointError) and error.error == "invalid_grant"

    async def _grant(self) -> dict[str, Any]:
        try:
            response = await self._http.post(
                self.token_url,
                data={"grant_type": "refresh_token", "refresh_token": self._refresh_token},
                auth=(self.client_id, self._client_secret),
                timeout=self._timeout,
            )
        except httpx.HTTPError as error:
            # one message whatever failed (refused, time-out, unknown name): a connection test is no port scanner
            raise CrmUnreachable(f"its token endpoint {UNREACHABLE}", status=0) from error
        if response.status_code >= 500:
            raise CrmUnreachable(f"token endpoint answered {response.status_code}", status=response.status_code)
        body = _json(response)
        if response.status_code != 200 or not isinstance(body, dict) or "access_token" not in body:
            code = body.get("error", "invalid_response") if isinstance(body, dict) else "invalid_response"
            description = body.get("error_description", "") if isinstance(body, dict) else ""
            raise TokenEndpointError(str(code), str(description))
        return body


class StaticToken:
    """A bearer token handed over as is (tests, scripts); it cannot be refreshed."""

    def __init__(self, token: str) -> None:
        self._token = token

    async def access_token(self) -> str:
        return self._token

    async def refresh(self) -> str:
        return self._token


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


class BuiltinCrmClient:
    """One CRM, one token source, one shared `httpx.AsyncClient` (keep-alive)."""

    def __init__(
        self, *, base_url: str, tokens: TokenProvider, http: httpx.AsyncClient, timeout_seconds: float = 10.0
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_url = self.base_url + "/api/v1"
        self.tokens = tokens
        self.http = http
        self.timeout_seconds = timeout_seconds

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: object = None,
    ) -> tuple[int, Any]:
        """Sends one request with the bearer token (refreshed once on INVALID_SESSION_ID)."""
        for attempt in range(2):
            token = await self.tokens.access_token() if attempt == 0 else await self.tokens.refresh()
            try:
                response = await self.http.request(
                    method,
                    self.api_url + path,
                    params=params,
                    json=body,
                    headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
                    timeout=self.timeout_seconds,
                )
            except httpx.HTTPError as error:
                raise CrmUnreachable(f"{method} {path}: the CRM {UNREACHABLE}", status=0) from error
            if response.status_code == 401 and attempt == 0:
                continue
            return self._check(method, path, response)
        raise AssertionError("unreachable")

    def _check(self, method: str, path: str, response: httpx.Response) -> tuple[int, Any]:
        status = response.status_code
        body = _json(response)
        if status < 400:
            return status, body
        first: Mapping[str, Any] = body[0] if isinstance(body, list) and body and isinstance(body[0], dict) else {}
        code = str(first.get("errorCode", ""))
        message = str(first.get("message", "")) or f"{method} {path} answered {status}"
        fields = [str(f) for f in first.get("fields", []) or []]
        if status >= 500:
            raise CrmUnreachable(message, status=status, error_code=code, fields=fields)
        if status == 401:
            raise CrmSessionExpired(message, status=status, error_code=code or "INVALID_SESSION_ID", fields=fields)
        raise CrmApiError(message, status=status, error_code=code, fields=fields)

    # ------------------------------------------------------------------ resources

    async def search_phone(self, number: str, region: str | None = None) -> list[JsonObject]:
        """Records with this number; `region`: how numbers without a country code are read (the query's
        and the stored ones'), besides the CRM's own default region."""
        params = {"number": number, **({"region": region} if region else {})}
        _status, body = await self.request("GET", "/search/phone", params=params)
        return list(body.get("records", []))

    async def search_case_number(self, case_number: str) -> list[JsonObject]:
        _status, body = await self.request("GET", "/search/case-number", params={"caseNumber": case_number})
        return list(body.get("records", []))

    async def search_rules(
        self, object_type: str, rules: Sequence[tuple[str, str]], match: str = "any"
    ) -> list[JsonObject]:
        payload = {"objectType": object_type, "match": match, "rules": [{"field": f, "value": v} for f, v in rules]}
        _status, body = await self.request("POST", "/search/rules", body=payload)
        return list(body.get("records", []))

    async def upsert_activity(self, external_id: str, fields: Mapping[str, object]) -> UpsertResult:
        status, body = await self.request(
            "PUT", "/activities/by-external-id/" + quote(external_id, safe=""), body=dict(fields)
        )
        return UpsertResult(activity_id=int(body["id"]), created=status == 201)

    async def read_activity(self, activity_id: int) -> JsonObject:
        _status, body = await self.request("GET", f"/records/activity/{activity_id}")
        return dict(body)

    async def list_attachments(self, activity_id: int) -> list[JsonObject]:
        _status, body = await self.request("GET", f"/activities/{activity_id}/attachments")
        return list(body.get("records", []))

    async def add_attachment(self, activity_id: int, name: str, content: bytes, content_type: str) -> JsonObject:
        payload = {"name": name, "contentType": content_type, "body": base64.b64encode(content).decode("ascii")}
        _status, body = await self.request("POST", f"/activities/{activity_id}/attachments", body=payload)
        return dict(body)

    async def list_users(self) -> list[JsonObject]:
        _status, body = await self.request("GET", "/users")
        return list(body.get("records", []))

    async def limits(self) -> JsonObject:
        _status, body = await self.request("GET", "/limits")
        return dict(body)
