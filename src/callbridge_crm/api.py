"""The REST API under /api/v1: search, records, activities, users. Bearer tokens from the CRM's own IdP.

Errors are JSON arrays of `{"errorCode", "message", "fields"}`, as Salesforce answers, so a
connector maps both the same way.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, NoReturn, ParamSpec

from authlib.oauth2.rfc6750 import BearerTokenValidator
from flask import Blueprint, Response, g, jsonify, request
from sqlalchemy import select
from werkzeug.exceptions import MethodNotAllowed, NotFound

from .app import core, db, release_core, state
from .db import MAX_RECORD_ID
from .models import Activity, Attachment, User
from .oidc import access_grant
from .openapi import openapi_document
from .phones import is_known_region
from .records import (
    MODELS,
    CrmError,
    activities_for,
    add_attachment,
    case_by_number,
    create_activity,
    phone_search_json,
    record_json,
    records_by_rules,
    upsert_activity_by_external_id,
)
from .security import attachment_headers

blueprint = Blueprint("api", __name__, url_prefix="/api/v1")
P = ParamSpec("P")
READ = "crm.read"
WRITE = "crm.write"


def _errors(status: int, code: str, message: str, fields: list[str] | None = None) -> Response:
    response = jsonify([{"errorCode": code, "message": message, "fields": fields or []}])
    response.status_code = status
    return response


@blueprint.app_errorhandler(NotFound)
def _no_such_route(error: NotFound) -> Response | NotFound:
    """Unknown API paths answer in the API's error shape, as Salesforce's REST API does; pages keep HTML."""
    if request.path.startswith(f"{blueprint.url_prefix}/"):
        return _errors(404, "NOT_FOUND", "The requested resource does not exist")
    return error


@blueprint.app_errorhandler(MethodNotAllowed)
def _method_not_allowed(error: MethodNotAllowed) -> Response | MethodNotAllowed:
    if request.path.startswith(f"{blueprint.url_prefix}/"):
        allowed = ",".join(sorted(error.valid_methods or []))
        message = f"HTTP Method '{request.method}' not allowed. Allowed are {allowed}"
        response = _errors(405, "METHOD_NOT_ALLOWED", message)
        response.headers["Allow"] = allowed
        return response
    return error


@dataclass(frozen=True)
class ApiUser:
    """The user a request's bearer token belongs to. `admin`: the CRM's admin role, which here stands for
    Salesforce's "View All Users" and "Modify All Data" permissions."""

    id: int
    admin: bool = False

    def may_edit(self, activity: Activity) -> bool:
        """As in Salesforce, an activity is changed by its owner or by an admin, not by any colleague."""
        return self.admin or activity.owner_id == self.id


def _bearer_token() -> str | None:
    """The token string of an `Authorization: Bearer <token>` header, parsed as Authlib parses it."""
    header = request.headers.get("Authorization")
    if not header:
        return None
    parts = header.split(None, 1)
    if len(parts) != 2 or parts[0].lower() != BearerTokenValidator.TOKEN_TYPE:
        return None
    return parts[1]


def _authorise(scope: str) -> Response | None:
    """None when the request's token may use `scope`; otherwise the error response.

    The checks and their order are those of Authlib's bearer-token validator (unknown, expired,
    revoked: 401; scope: 403), then the user's state; done with one plain SQL lookup per request.
    """
    token_string = _bearer_token()
    grant = access_grant(core(), token_string) if token_string is not None else None
    if grant is None or grant.is_expired() or grant.revoked:
        return _errors(401, "INVALID_SESSION_ID", "Session expired or invalid")
    if BearerTokenValidator.scope_insufficient(grant.scope, [scope]):
        return _errors(403, "INSUFFICIENT_ACCESS", f"This token lacks the scope '{scope}'")
    if not grant.user_active:
        return _errors(401, "INVALID_SESSION_ID", "Session expired or invalid: the user is inactive")
    if not grant.user_api_enabled:
        return _errors(
            403,
            "API_DISABLED_FOR_USER",
            "The REST API is not enabled for this user. An admin must grant the 'API Enabled' permission.",
        )
    g.api_user = ApiUser(grant.user_id, grant.user_admin)
    return None


def requires(scope: str, *, plain_sql: bool = False) -> Callable[[Callable[P, Response]], Callable[P, Response]]:
    """Authorise the request by its bearer token, the token's scope and the user's API permission.

    `plain_sql`: the view reads with the request's Core connection (`core()`) only, so the one the
    token check used is kept for it; other views get theirs from the ORM session.
    """

    def decorator(view: Callable[P, Response]) -> Callable[P, Response]:
        @wraps(view)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> Response:
            refused = _authorise(scope)
            if not plain_sql:
                release_core()
            if refused is not None:
                return refused
            try:
                return view(*args, **kwargs)
            except CrmError as error:
                response = jsonify([item.as_json() for item in error.errors])
                response.status_code = error.status
                return response

        return wrapper

    return decorator


def _base_url() -> str:
    return state().settings.issuer


def _records_response(records: list[Any], **extra: Any) -> Response:
    base = _base_url()
    return jsonify({**extra, "totalSize": len(records), "records": [record_json(r, base) for r in records]})


@blueprint.get("/openapi.json")
def openapi() -> Response:
    return jsonify(openapi_document(_base_url()))


@blueprint.get("/search/phone")
@requires(READ, plain_sql=True)
def search_phone() -> Response:
    number = request.args.get("number", "")
    region = request.args.get("region", "").strip().upper() or None
    if region is not None and not is_known_region(region):
        message = f"region must be a two-letter region code such as US or GB, not {region!r}"
        raise CrmError.single(400, "INVALID_FIELD", message, ["region"])
    e164, records = phone_search_json(core(), number, state().default_region, _base_url(), region)
    return jsonify({"number": number, "e164": e164, "totalSize": len(records), "records": records})


@blueprint.get("/search/case-number")
@requires(READ)
def search_case_number() -> Response:
    case_number = request.args.get("caseNumber", "")
    return _records_response(case_by_number(db(), case_number), caseNumber=case_number)


@blueprint.post("/search/rules")
@requires(READ)
def search_rules() -> Response:
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("rules"), list):
        raise_json_error('The body must be {"objectType", "rules": [{"field", "value"}], "match"}')
    rules: list[tuple[str, str]] = []
    for rule in body["rules"]:
        if not isinstance(rule, dict) or not isinstance(rule.get("field"), str) or "value" not in rule:
            raise_json_error("Each rule must be an object with a string 'field' and a 'value'")
        rules.append((rule["field"], str(rule["value"])))
    records = records_by_rules(
        db(), str(body.get("objectType", "")), rules, str(body.get("match", "all")), state().default_region
    )
    return _records_response(records)


def raise_json_error(message: str) -> NoReturn:
    raise CrmError.single(400, "JSON_PARSER_ERROR", message)


@blueprint.get("/records/<object_type>/<int:record_id>")
@requires(READ)
def read_record(object_type: str, record_id: int) -> Response:
    model = MODELS.get(object_type)
    if model is None:
        return _errors(404, "NOT_FOUND", f"Unknown object type '{object_type}'")
    record = db().get(model, record_id)
    if record is None:
        return _errors(404, "NOT_FOUND", f"The requested {object_type} {record_id} does not exist")
    return jsonify(record_json(record, _base_url()))  # type: ignore[arg-type]


@blueprint.get("/activities")
@requires(READ)
def list_activities() -> Response:
    for object_type in ("contact", "account", "case", "lead"):
        name = f"{object_type}Id"
        raw = request.args.get(name)
        if raw is None:
            continue
        if not raw.isascii() or not raw.isdigit() or not 0 < int(raw) <= MAX_RECORD_ID:
            return _errors(400, "INVALID_FIELD", f"{name}: a record id (a positive whole number) is expected", [name])
        return _records_response(activities_for(db(), object_type, int(raw)))
    recent = list(db().scalars(select(Activity).order_by(Activity.id.desc()).limit(50)))
    return _records_response(recent)


@blueprint.post("/activities")
@requires(WRITE)
def post_activity() -> Response:
    activity = create_activity(db(), request.get_json(silent=True), state().settings.comments_max_bytes, g.api_user.id)
    db().commit()
    return _created(activity, 201)


@blueprint.put("/activities/by-external-id/<path:external_id>")
@requires(WRITE)
def upsert_activity(external_id: str) -> Response:
    existing = db().scalar(select(Activity).where(Activity.external_id == external_id))
    if existing is not None and not g.api_user.may_edit(existing):
        return _not_yours(existing.id)
    activity, created = upsert_activity_by_external_id(
        db(), external_id, request.get_json(silent=True), state().settings.comments_max_bytes, g.api_user.id
    )
    db().commit()
    return _created(activity, 201 if created else 200, created=created)


def _not_yours(activity_id: int) -> Response:
    return _errors(
        403,
        "INSUFFICIENT_ACCESS_OR_READONLY",
        f"Insufficient access rights on activity {activity_id}: only its owner or an admin may change it",
    )


def _created(activity: Activity, status: int, created: bool = True) -> Response:
    response = jsonify(
        {
            "id": activity.id,
            "success": True,
            "errors": [],
            "created": created,
            "record": record_json(activity, _base_url()),
        }
    )
    response.status_code = status
    return response


@blueprint.post("/activities/<int:activity_id>/attachments")
@requires(WRITE)
def attach(activity_id: int) -> Response:
    activity = db().get(Activity, activity_id)
    if activity is None:
        return _errors(404, "NOT_FOUND", f"The requested activity {activity_id} does not exist")
    if not g.api_user.may_edit(activity):
        return _not_yours(activity_id)
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("name"), str) or not isinstance(body.get("body"), str):
        return _errors(400, "JSON_PARSER_ERROR", 'The body must be {"name", "contentType", "body": <base64>}', ["body"])
    try:
        content = base64.b64decode(body["body"], validate=True)
    except (binascii.Error, ValueError):
        return _errors(400, "INVALID_FIELD", "body: not valid base64", ["body"])
    name = body["name"].strip()[:255] or "log.txt"
    content_type = str(body.get("contentType") or "text/plain; charset=utf-8")[:120]
    attachment = add_attachment(db(), activity, name, content_type, content)
    db().commit()
    response = jsonify(_attachment_json(attachment))
    response.status_code = 201
    return response


@blueprint.get("/activities/<int:activity_id>/attachments")
@requires(READ)
def list_attachments(activity_id: int) -> Response:
    if db().get(Activity, activity_id) is None:
        return _errors(404, "NOT_FOUND", f"The requested activity {activity_id} does not exist")
    rows = db().scalars(select(Attachment).where(Attachment.activity_id == activity_id).order_by(Attachment.id))
    return jsonify({"records": [_attachment_json(row) for row in rows]})


@blueprint.get("/attachments/<int:attachment_id>/body")
@requires(READ)
def attachment_body(attachment_id: int) -> Response:
    attachment = db().get(Attachment, attachment_id)
    if attachment is None:
        return _errors(404, "NOT_FOUND", f"The requested attachment {attachment_id} does not exist")
    headers = attachment_headers(attachment.content_type, attachment.name)
    return Response(attachment.body, headers=headers)


def _attachment_json(attachment: Attachment) -> dict[str, Any]:
    return {
        "id": attachment.id,
        "activityId": attachment.activity_id,
        "name": attachment.name,
        "contentType": attachment.content_type,
        "size": len(attachment.body),
        "bodyUrl": f"{_base_url()}/api/v1/attachments/{attachment.id}/body",
    }


@blueprint.get("/users")
@requires(READ)
def list_users() -> Response:
    """Admins see every user; others see themselves only (Salesforce with private user sharing: seeing
    colleagues' e-mail addresses takes "View All Users")."""
    query = select(User).order_by(User.id)
    if not g.api_user.admin:
        query = query.where(User.id == g.api_user.id)
    users = db().scalars(query)
    return jsonify(
        {
            "records": [
                {
                    "id": user.id,
                    "name": user.name,
                    "email": user.email,
                    "roles": user.role_list,
                    "active": user.active,
                    "apiEnabled": user.api_enabled,
                }
                for user in users
            ]
        }
    )


@blueprint.get("/limits")
@requires(READ)
def limits() -> Response:
    """What a connector must respect when writing: today only the comments size."""
    return jsonify({"activityCommentsMaxBytes": state().settings.comments_max_bytes})
