"""STAND-IN for Salesforce's REST API (test double, not Salesforce).

An `httpx.MockTransport` handler that answers the requests the connector
makes with the request and response shapes Salesforce documents
(/work/shared/reference/salesforce.md section 4; REST API guide: query,
search, sObject describe/create/update, upsert by external id, error
envelope, `Sforce-Limit-Info`). Where Salesforce's behaviour is not
documented (how SOSL tokenises phone numbers) it does something plausible and
says so. The data lives in `fixtures/*.json`.

It also plays the OAuth 2.0 endpoints of the login host: the web-server flow's authorization page
(`GET /services/oauth2/authorize`, with PKCE: the integration user is signed in and clicks Allow, which
redirects to the `redirect_uri` with `code` and `state`), `userinfo`, `revoke`, and the token endpoint,
`POST https://<login host>/services/oauth2/token` with `grant_type=authorization_code` (the code and its
`code_verifier`) or `grant_type=refresh_token` (salesforce.md section 4): the answer carries
`access_token`, `instance_url`, `id`, `token_type`, `issued_at`, `signature` and `scope`
(a `refresh_token` only when the connected app rotates them), and refusals are
`{"error", "error_description"}` with HTTP 400. Only `invalid_grant`'s shape is in the
reference; the other error names and descriptions are Salesforce's as commonly reported.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import html
import itertools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode

import httpx

FIXTURES = Path(__file__).parent / "fixtures"
INSTANCE_URL = "https://callbridge-test.my.salesforce.com"
LOGIN_HOSTS = ("login.salesforce.com", "test.salesforce.com", "callbridge-test.my.salesforce.com")
CLIENT_ID = "3MVG9callbridgeTestConsumerKey"
CLIENT_SECRET = "consumer-secret-1"
REFRESH_TOKEN = "5Aep861integrationUserRefresh1"
ORG_ID = "00D5g00000ORGIDAA1"
INTEGRATION_USER_ID = "0055g00000INTEGAA1"
INTEGRATION_USER_NAME = "Integration User"
INTEGRATION_USER_EMAIL = "integration@callbridge-test.example"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


@dataclass
class SalesforceRestStandin:
    """In-memory org. Tweak the public attributes to provoke the documented errors."""

    api_version: str = "62.0"
    valid_tokens: set[str] = field(default_factory=lambda: {"token-1"})
    api_used: int = 0
    api_limit: int = 15000
    api_disabled: bool = False
    # Overrides the describe'd Description length to emulate an org enforcing less than it describes.
    enforced_description_limit: int | None = None
    # 200 with "created": false (API 46.0+) or 204 (older versions) for an upsert that updates.
    update_status: int = 200
    fail_next: list[tuple[int, str]] = field(default_factory=list)
    describe_task: dict[str, Any] = field(default_factory=lambda: fixture("describe_task.json"))
    records: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: fixture("records.json"))
    requests: list[httpx.Request] = field(default_factory=list)
    # The token endpoint: the connected app, the refresh tokens it knows, what it answers.
    oauth_clients: dict[str, str] = field(default_factory=lambda: {CLIENT_ID: CLIENT_SECRET})
    refresh_tokens: set[str] = field(default_factory=lambda: {REFRESH_TOKEN})
    rotate_refresh_tokens: bool = False  # off by default in Salesforce; a connected app can turn it on
    token_instance_url: str = INSTANCE_URL
    token_endpoint_status: int | None = None  # e.g. 503: the endpoint answers that instead
    token_requests: list[httpx.Request] = field(default_factory=list)
    # the web-server flow: the connected app's callback URLs, codes handed out, what was revoked
    callback_urls: set[str] = field(default_factory=set)
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    authorize_requests: list[httpx.Request] = field(default_factory=list)
    revoked: list[str] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _issued: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def __post_init__(self) -> None:
        self.records.setdefault("Task", [])
        self.records.setdefault("ContentVersion", [])
        self.records.setdefault("ContentDocumentLink", [])

    # ----------------------------------------------------------------- plumbing

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    @property
    def tasks(self) -> list[dict[str, Any]]:
        return self.records["Task"]

    def _json(self, status: int, body: object = None) -> httpx.Response:
        headers = {"Sforce-Limit-Info": f"api-usage={self.api_used}/{self.api_limit}"}
        if body is None:
            return httpx.Response(status, headers=headers)
        return httpx.Response(status, json=body, headers=headers)

    def _error(self, status: int, code: str, message: str = "", fields: list[str] | None = None) -> httpx.Response:
        known = fixture("errors.json").get(code)
        body = copy.deepcopy(known) if known else [{"message": message, "errorCode": code, "fields": fields or []}]
        if message:
            body[0]["message"] = message
        if fields is not None:
            body[0]["fields"] = fields
        return self._json(status, body)

    def _new_id(self, prefix: str) -> str:
        """A distinct 18-character id: key prefix, then a counter (15 characters), then the checksum suffix."""
        return f"{prefix}5g0{next(self._ids):09d}" + "AAA"

    def expire_sessions(self) -> None:
        """Every access token handed out so far stops working (session timeout, password change)."""
        self.valid_tokens.clear()

    def token_form(self, index: int = -1) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.token_requests[index].content.decode()).items()}

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/services/oauth2/token":
            return self._token(request)
        if request.url.path in ("/services/oauth2/authorize", "/services/oauth2/userinfo", "/services/oauth2/revoke"):
            if request.url.host not in LOGIN_HOSTS:
                raise httpx.ConnectError(f"unknown host {request.url.host}", request=request)
            route = {"authorize": self._authorize, "userinfo": self._userinfo, "revoke": self._revoke}
            return route[request.url.path.rsplit("/", 1)[1]](request)
        self.requests.append(request)
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if token not in self.valid_tokens:
            return self._error(401, "INVALID_SESSION_ID")
        self.api_used += 1
        if self.api_disabled:
            return self._error(403, "API_DISABLED_FOR_ORG")
        if self.api_used > self.api_limit:
            return self._error(403, "REQUEST_LIMIT_EXCEEDED")
        if self.fail_next:
            status, code = self.fail_next.pop(0)
            return self._error(status, code)
        prefix = f"/services/data/v{self.api_version}/"
        path = request.url.path
        if not path.startswith(prefix):
            return self._error(404, "NOT_FOUND")
        parts = [unquote(p) for p in path[len(prefix) :].strip("/").split("/")]
        routes: list[tuple[str, Callable[..., httpx.Response | None]]] = [
            ("GET", self._get),
            ("POST", self._post),
            ("PATCH", self._patch),
        ]
        for method, route in routes:
            if request.method == method:
                response = route(request, parts)
                if response is not None:
                    return response
        return self._error(404, "NOT_FOUND")

    # --------------------------------------------------------------- OAuth

    def _token(self, request: httpx.Request) -> httpx.Response:
        if request.url.host not in LOGIN_HOSTS:
            raise httpx.ConnectError(f"unknown host {request.url.host}", request=request)
        self.token_requests.append(request)
        if self.token_endpoint_status is not None:
            return httpx.Response(self.token_endpoint_status, text="Service Unavailable")
        if request.method != "POST":
            return httpx.Response(405)
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}

        def refuse(error: str, description: str) -> httpx.Response:
            return httpx.Response(400, json={"error": error, "error_description": description})

        if form.get("grant_type") not in ("refresh_token", "authorization_code"):
            return refuse("unsupported_grant_type", "grant type not supported")
        client_id = form.get("client_id", "")
        if client_id not in self.oauth_clients:
            return refuse("invalid_client_id", "client identifier invalid")
        if form.get("client_secret") != self.oauth_clients[client_id]:
            return refuse("invalid_client", "invalid client credentials")
        if form["grant_type"] == "authorization_code":
            return self._code_grant(request, form, refuse)
        refresh_token = form.get("refresh_token", "")
        if refresh_token not in self.refresh_tokens:
            return refuse("invalid_grant", "expired access/refresh token")
        n = next(self._issued)
        access_token = f"{ORG_ID}!issued-{n}"
        self.valid_tokens.add(access_token)
        identity = f"https://{request.url.host}/id/{ORG_ID}/{INTEGRATION_USER_ID}"
        issued_at = str(1_764_000_000_000 + n)
        signature = hmac.new(
            self.oauth_clients[client_id].encode(), (identity + issued_at).encode(), hashlib.sha256
        ).digest()
        body: dict[str, str] = {
            "access_token": access_token,
            "signature": base64.b64encode(signature).decode(),
            "scope": "refresh_token api",
            "instance_url": self.token_instance_url,
            "id": identity,
            "token_type": "Bearer",
            "issued_at": issued_at,
        }
        if self.rotate_refresh_tokens:
            self.refresh_tokens.discard(refresh_token)
            body["refresh_token"] = f"5Aep861rotated{n}"
            self.refresh_tokens.add(body["refresh_token"])
        return httpx.Response(200, json=body)

    def _code_grant(
        self, request: httpx.Request, form: dict[str, str], refuse: Callable[[str, str], httpx.Response]
    ) -> httpx.Response:
        """The web-server flow's second leg: the code, once, from the same app and callback, with the PKCE
        verifier whose S256 hash was sent to the authorization page; the answer adds a refresh token."""
        issued = self.codes.pop(form.get("code", ""), None)
        if issued is None or issued["client_id"] != form["client_id"]:
            return refuse("invalid_grant", "invalid authorization code")
        if issued["redirect_uri"] != form.get("redirect_uri"):
            return refuse("redirect_uri_mismatch", "redirect_uri must match configuration")
        digest = hashlib.sha256(form.get("code_verifier", "").encode()).digest()
        if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != issued["code_challenge"]:
            return refuse("invalid_grant", "invalid code verifier")
        n = next(self._issued)
        access_token = f"{ORG_ID}!issued-{n}"
        refresh_token = f"5Aep861connected{n}"
        self.valid_tokens.add(access_token)
        self.refresh_tokens.add(refresh_token)
        return httpx.Response(
            200,
            json={
                "access_token": access_token,
                "refresh_token": refresh_token,
                "signature": "",
                "scope": issued["scope"],
                "instance_url": self.token_instance_url,
                "id": f"https://{request.url.host}/id/{ORG_ID}/{INTEGRATION_USER_ID}",
                "token_type": "Bearer",
                "issued_at": str(1_764_000_000_000 + n),
            },
        )

    def _authorize(self, request: httpx.Request) -> httpx.Response:
        """The authorization page, the integration user already signed in: one Allow link to the callback.
        Refusals (unknown app, callback URL not registered) are shown on the page, never redirected."""
        self.authorize_requests.append(request)
        params = dict(request.url.params)
        client_id, redirect_uri = params.get("client_id", ""), params.get("redirect_uri", "")
        if client_id not in self.oauth_clients:
            return httpx.Response(400, text="error=invalid_client_id: client identifier invalid")
        if redirect_uri not in self.callback_urls:
            return httpx.Response(400, text="error=redirect_uri_mismatch: redirect_uri must match configuration")
        if params.get("response_type") != "code" or params.get("code_challenge_method") != "S256":
            return httpx.Response(400, text="error=invalid_request: response_type code with a S256 code_challenge")
        code = f"aPrx{len(self.codes) + len(self.authorize_requests):04d}code"
        self.codes[code] = {
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "code_challenge": params.get("code_challenge", ""),
            "scope": params.get("scope", ""),
        }
        target = redirect_uri + "?" + urlencode({"code": code, "state": params.get("state", "")})
        page = (
            "<!doctype html><title>Allow Access?</title><h1>Allow Access?</h1>"
            f"<p>Signed in as {INTEGRATION_USER_NAME} ({INTEGRATION_USER_EMAIL})</p>"
            f'<a id="allow" href="{html.escape(target)}">Allow</a>'
        )
        return httpx.Response(200, text=page, headers={"Content-Type": "text/html"})

    def _userinfo(self, request: httpx.Request) -> httpx.Response:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if token not in self.valid_tokens:
            return httpx.Response(403, text="Bad_OAuth_Token")
        return httpx.Response(
            200,
            json={
                "sub": f"https://{request.url.host}/id/{ORG_ID}/{INTEGRATION_USER_ID}",
                "user_id": INTEGRATION_USER_ID,
                "organization_id": ORG_ID,
                "preferred_username": INTEGRATION_USER_EMAIL,
                "name": INTEGRATION_USER_NAME,
                "email": INTEGRATION_USER_EMAIL,
                "email_verified": True,
            },
        )

    def _revoke(self, request: httpx.Request) -> httpx.Response:
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        token = form.get("token", "")
        if token not in self.refresh_tokens and token not in self.valid_tokens:
            return httpx.Response(400, json={"error": "unsupported_token_type", "error_description": "invalid token"})
        self.refresh_tokens.discard(token)
        self.valid_tokens.discard(token)
        self.revoked.append(token)
        return httpx.Response(200)

    # ---------------------------------------------------------------- GET

    def _get(self, request: httpx.Request, parts: list[str]) -> httpx.Response | None:
        q = request.url.params.get("q", "")
        if parts == ["query"]:
            records = self.soql(q)
            return self._json(200, {"totalSize": len(records), "done": True, "records": records})
        if parts == ["search"]:
            return self._json(200, {"searchRecords": self.sosl(q)})
        if len(parts) == 3 and parts[0] == "sobjects" and parts[2] == "describe":
            if parts[1] == "Task":
                return self._json(200, self.describe_task)
            if parts[1] == "ContentVersion":
                return self._json(200, fixture("describe_contentversion.json"))
        if len(parts) == 4 and parts[0] == "sobjects":
            matches = [r for r in self.records.get(parts[1], []) if r.get(parts[2]) == parts[3]]
            if len(matches) == 1:
                return self._json(200, self._with_attributes(parts[1], matches[0]))
        return None

    def _with_attributes(self, sobject: str, record: dict[str, Any]) -> dict[str, Any]:
        url = f"/services/data/v{self.api_version}/sobjects/{sobject}/{record['Id']}"
        return {"attributes": {"type": sobject, "url": url}, **record}

    def soql(self, soql: str) -> list[dict[str, Any]]:
        """A tiny SOQL subset: `FROM <Object>` and `<Field> = '<v>'` / `<Field> IN ('a', 'b')` conditions."""
        match = re.search(r"\bFROM (\w+)", soql)
        if not match:
            return []
        sobject = match.group(1)
        literal = r"'((?:\\.|[^'\\])*)'"
        equals = [(f, _unescape(v)) for f, v in re.findall(r"([\w.]+) = " + literal, soql)]
        ins = [
            (f, [_unescape(v) for v in re.findall(literal, body)])
            for f, body in re.findall(r"([\w.]+) IN \(([^)]*)\)", soql)
        ]
        out = []
        for record in self.records.get(sobject, []):
            if all(str(record.get(f)) == v for f, v in equals) and all(str(record.get(f)) in vs for f, vs in ins):
                out.append(self._with_attributes(sobject, record))
        return out

    def sosl(self, sosl: str) -> list[dict[str, Any]]:
        """Phone search. How Salesforce tokenises numbers is not documented; this stand-in matches a
        record when any digit group (3+ digits) of a FIND term equals a digit group of, or all the digits
        of, one of its phone fields, so it also returns near misses, like a real token search would."""
        find = re.search(r"FIND \{(.*)\} IN PHONE FIELDS RETURNING (.*?)(?: LIMIT \d+)?$", sosl)
        if not find:
            return []
        terms = re.split(r" OR ", find.group(1))
        wanted: set[str] = set()
        for term in terms:
            plain = re.sub(r"\\(.)", r"\1", term).strip('"')
            wanted.update(g for g in re.findall(r"\d{3,}", plain))
            wanted.add(re.sub(r"\D", "", plain))
        out = []
        for spec in re.findall(r"(\w+)\(([^)]*)\)", find.group(2)):
            sobject, fields = spec[0], [f.strip() for f in spec[1].split(",")]
            for record in self.records.get(sobject, []):
                phones = [str(record[f]) for f in fields if "Phone" in f and record.get(f)]
                groups = {g for p in phones for g in re.findall(r"\d{3,}", p)} | {re.sub(r"\D", "", p) for p in phones}
                if groups & wanted:
                    row = {f: record.get(f) for f in fields}
                    out.append(self._with_attributes(sobject, row))
        return out

    # ------------------------------------------------------------ writes

    def _check_task_body(self, body: dict[str, Any]) -> httpx.Response | None:
        known = {f["name"] for f in self.describe_task["fields"]}
        for name in body:
            if name not in known:
                return self._error(400, "INVALID_FIELD", f"No such column '{name}' on sobject of type Task", [name])
        description = body.get("Description") or ""
        limit = self.enforced_description_limit or next(
            f["length"] for f in self.describe_task["fields"] if f["name"] == "Description"
        )
        if len(description) > limit:
            return self._error(
                400,
                "STRING_TOO_LONG",
                f"Comments: data value too large: {description[:40]}... (max length={limit})",
                ["Description"],
            )
        return None

    def _post(self, request: httpx.Request, parts: list[str]) -> httpx.Response | None:
        if len(parts) != 2 or parts[0] != "sobjects":
            return None
        body = json.loads(request.content)
        sobject = parts[1]
        if sobject == "Task" and (problem := self._check_task_body(body)):
            return problem
        record_id = self._new_id({"Task": "00T", "ContentVersion": "068"}.get(sobject, "a00"))
        self.records.setdefault(sobject, []).append({"Id": record_id, **body})
        if sobject == "ContentVersion" and body.get("FirstPublishLocationId"):
            self.records["ContentDocumentLink"].append(
                {
                    "Id": self._new_id("06A"),
                    "LinkedEntityId": body["FirstPublishLocationId"],
                    "ContentDocument.Title": body.get("Title"),
                }
            )
        return self._json(201, {"id": record_id, "success": True, "errors": []})

    def _patch(self, request: httpx.Request, parts: list[str]) -> httpx.Response | None:
        body = json.loads(request.content)
        if len(parts) == 3 and parts[:2] == ["sobjects", "Task"]:  # update by Id
            task = next((t for t in self.tasks if t["Id"] == parts[2]), None)
            if task is None:
                return self._error(404, "NOT_FOUND")
            if "TaskSubtype" in body:
                return self._not_updateable("TaskSubtype")
            if problem := self._check_task_body(body):
                return problem
            task.update(body)
            return self._json(204)
        if len(parts) == 4 and parts[:2] == ["sobjects", "Task"]:  # upsert by external id
            ext_field, value = parts[2], parts[3]
            described = {f["name"]: f for f in self.describe_task["fields"]}
            if not described.get(ext_field, {}).get("externalId"):
                return self._error(404, "NOT_FOUND")
            if ext_field in body or "Id" in body:
                return self._error(400, "INVALID_FIELD", f"{ext_field} is specified in the URL", [ext_field])
            if problem := self._check_task_body(body):
                return problem
            matches = [t for t in self.tasks if t.get(ext_field) == value]
            if len(matches) > 1:
                prefix = f"/services/data/v{self.api_version}/sobjects/Task/"
                return self._json(300, [prefix + t["Id"] for t in matches])
            if matches:
                if "TaskSubtype" in body:
                    return self._not_updateable("TaskSubtype")
                matches[0].update(body)
                if self.update_status == 204:
                    return self._json(204)
                return self._json(200, {"id": matches[0]["Id"], "success": True, "errors": [], "created": False})
            record_id = self._new_id("00T")
            self.tasks.append({"Id": record_id, ext_field: value, **body})
            return self._json(201, {"id": record_id, "success": True, "errors": [], "created": True})
        return None

    def _not_updateable(self, name: str) -> httpx.Response:
        return self._error(400, "INVALID_FIELD_FOR_INSERT_UPDATE", f"Unable to create/update fields: {name}.", [name])


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", r"\1", value)


class FakeTokens:
    """Access tokens as kept after SSO: `refresh()` hands out the next one."""

    def __init__(self, *tokens: str) -> None:
        self._tokens = list(tokens)
        self.current = self._tokens.pop(0)
        self.refreshes = 0

    async def access_token(self) -> str:
        return self.current

    async def refresh(self) -> str:
        self.refreshes += 1
        if self._tokens:
            self.current = self._tokens.pop(0)
        return self.current
