"""The CRM's pages: sign-in, home, record pages, search, new-record forms, activity lists, the console workspace.

Plus a few JSON endpoints used by the CTI host script in those pages (session-authenticated,
same-origin only); other applications use the REST API under /api/v1 instead.
"""

from __future__ import annotations

import hmac
import json
import posixpath
import re
import secrets
import time
from collections.abc import Callable
from functools import wraps
from typing import Any, ParamSpec, TypeVar
from urllib.parse import quote, unquote, urlencode, urlsplit

from flask import (
    Blueprint,
    Response,
    abort,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from sqlalchemy import func, select
from werkzeug.wrappers.response import Response as BaseResponse

from .app import db, state
from .config import origin_of
from .models import Account, Activity, Case, Contact, Lead, User
from .records import (
    MODELS,
    PHONE_FIELDS,
    CrmError,
    activities_for,
    case_by_number,
    create_activity,
    create_record,
    object_type_of,
    record_json,
    record_path,
    records_by_phone,
    records_by_rules,
    related_cases,
    text_search,
    upsert_activity_by_external_id,
)
from .throttle import LoginThrottle
from .users import authenticate

blueprint = Blueprint("pages", __name__)
P = ParamSpec("P")
R = TypeVar("R")

OBJECT_LABELS = {
    "contact": ("Contact", "Contacts"),
    "account": ("Account", "Accounts"),
    "lead": ("Lead", "Leads"),
    "case": ("Case", "Cases"),
    "activity": ("Activity", "Activities"),
}
# The fields of each new-record form: (query/API name, attribute, label, required).
FORM_FIELDS: dict[str, list[tuple[str, str, str, bool]]] = {
    "contact": [
        ("firstName", "first_name", "First name", False),
        ("lastName", "last_name", "Last name", True),
        ("email", "email", "E-mail", False),
        ("phone", "phone", "Phone", False),
        ("mobilePhone", "mobile_phone", "Mobile", False),
        ("title", "title", "Title", False),
        ("city", "city", "City", False),
        ("accountId", "account_id", "Account id", False),
    ],
    "account": [
        ("name", "name", "Account name", True),
        ("phone", "phone", "Phone", False),
        ("website", "website", "Website", False),
        ("industry", "industry", "Industry", False),
        ("city", "city", "City", False),
    ],
    "lead": [
        ("firstName", "first_name", "First name", False),
        ("lastName", "last_name", "Last name", True),
        ("company", "company", "Company", False),
        ("email", "email", "E-mail", False),
        ("phone", "phone", "Phone", False),
        ("mobilePhone", "mobile_phone", "Mobile", False),
    ],
    "case": [
        ("subject", "subject", "Subject", True),
        ("description", "description", "Description", False),
        ("status", "status", "Status", False),
        ("priority", "priority", "Priority", False),
        ("origin", "origin", "Origin", False),
        ("contactId", "contact_id", "Contact id", False),
        ("accountId", "account_id", "Account id", False),
    ],
}
CREATABLE = tuple(FORM_FIELDS)


# --- security helpers ---------------------------------------------------------------------------


def current_user() -> User | None:
    if "crm_user" in g:
        cached: User | None = g.crm_user
        return cached
    user_id = session.get("user_id")
    user = db().get(User, user_id) if isinstance(user_id, int) else None
    if user is not None and not user.active:
        user = None
    g.crm_user = user
    return user


def login_url(next_path: str) -> str:
    return url_for("pages.login", next=next_path)


def csrf_token() -> str:
    token = session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


def verify_csrf() -> None:
    sent = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token") or ""
    expected = session.get("csrf")
    if not isinstance(expected, str) or not hmac.compare_digest(sent, expected):
        abort(400, "The form expired; reload the page and try again.")


def forbid_framing(response: Response) -> Response:
    """Sign-in and consent pages must never be framed (clickjacking)."""
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'"
    )
    response.headers["X-Frame-Options"] = "DENY"
    return response


def _frameable_by_self(response: Response) -> Response:
    """Record pages are shown inside the console workspace's tabs (same origin), nowhere else."""
    console_origin = state().settings.callbridge_origin
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"frame-src 'self' {console_origin}; frame-ancestors 'self'"
    )
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


# Control characters, spaces and backslashes: browsers drop tabs and newlines from URLs and read "\" as "/",
# so "/\t/evil.example" would become "//evil.example", another site.
_UNSAFE_IN_PATH = re.compile(r"[\x00-\x20\x7f\\]")


def _safe_next(value: str | None) -> str:
    """A path of this site to return to after signing in, normalised (percent-decoded, dot segments and
    repeated slashes resolved) before it is checked, so what is checked is what the browser opens; "/" for
    anything else (another host, a scheme, characters browsers drop)."""
    if not value or not value.startswith("/") or _UNSAFE_IN_PATH.search(value):
        return "/"
    parts = urlsplit(value)
    decoded = unquote(parts.path)
    if parts.scheme or parts.netloc or _UNSAFE_IN_PATH.search(decoded):
        return "/"
    path = posixpath.normpath(decoded)
    if path.startswith("//"):
        return "/"
    if decoded.endswith("/") and not path.endswith("/"):
        path += "/"
    return quote(path, safe="/:@!$&'()*+,;=~") + (f"?{parts.query}" if parts.query else "")


def login_required(view: Callable[P, R]) -> Callable[P, R | BaseResponse]:
    @wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R | BaseResponse:
        if current_user() is None:
            return redirect(login_url(request.full_path if request.query_string else request.path))
        return view(*args, **kwargs)

    return wrapper


def page(template: str, **context: Any) -> Response:
    return _frameable_by_self(Response(render_template(template, **context)))


@blueprint.app_template_filter("field_label")
def field_label(api_name: str) -> str:
    """ "mobilePhone" -> "Mobile phone", for the record pages."""
    words = re.sub(r"(?<!^)(?=[A-Z])", " ", api_name).lower().removesuffix(" id")
    return {"created at": "Created", "updated at": "Updated", "e164": "E.164"}.get(words, words.capitalize())


@blueprint.app_context_processor
def _template_globals() -> dict[str, Any]:
    settings = state().settings
    embedded = request.args.get("embedded") == "1"
    return {
        "user": current_user(),
        "csrf_token": csrf_token,
        "embedded": embedded,
        "org_name": settings.organization_name,
        "console_url": settings.callbridge_console_url,
        "labels": OBJECT_LABELS,
        "record_path": record_path,
        "object_type_of": object_type_of,
        "host_config": json.dumps(
            {
                "consoleUrl": settings.callbridge_console_url,
                "consoleOrigin": settings.callbridge_origin,
                "crmOrigin": origin_of(settings.base_url),
                "embedded": embedded,
            }
        ),
    }


# --- sign-in ------------------------------------------------------------------------------------


@blueprint.route("/login", methods=["GET", "POST"])
def login() -> BaseResponse:
    next_path = _safe_next(request.values.get("next"))
    error = None
    status, retry_after = 200, 0
    if request.method == "POST":
        verify_csrf()
        email, address = request.form.get("email", ""), request.remote_addr or "unknown"
        crm = state()
        throttle = LoginThrottle(crm.engine, crm.settings, crm.clock)
        wait = throttle.waiting(email, address)
        if wait is not None:  # refused before the password is checked, and not counted
            error, status, retry_after = wait.message, 429, wait.retry_after
        else:
            user = authenticate(db(), email, request.form.get("password", ""))
            if user is not None:
                throttle.succeeded(email, address)
                session.clear()
                session["user_id"] = user.id
                session["auth_time"] = int(time.time())
                session["fresh_login"] = True
                return redirect(next_path)
            error, status = "That e-mail and password do not match a CRM user.", 401
            started = throttle.failed(email, address)
            if started is not None:
                error = f"{error} {started.message}"
    response = Response(render_template("login.html", next_path=next_path, error=error), status=status)
    if retry_after:
        response.headers["Retry-After"] = str(retry_after)
    return forbid_framing(response)


@blueprint.post("/logout")
def logout() -> BaseResponse:
    verify_csrf()
    session.clear()
    return redirect(url_for("pages.login"))


# --- pages --------------------------------------------------------------------------------------


@blueprint.get("/")
@login_required
def home() -> Response:
    session_db = db()
    counts = {name: session_db.scalar(select(func.count()).select_from(model)) or 0 for name, model in MODELS.items()}
    recent_cases = list(session_db.scalars(select(Case).order_by(Case.id.desc()).limit(8)))
    recent_activities = list(session_db.scalars(select(Activity).order_by(Activity.id.desc()).limit(8)))
    return page("home.html", counts=counts, recent_cases=recent_cases, recent_activities=recent_activities)


@blueprint.get("/console")
@login_required
def console_workspace() -> Response:
    settings = state().settings
    response = Response(render_template("console.html", console_url=settings.callbridge_console_url))
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"frame-src 'self' {settings.callbridge_origin}; frame-ancestors 'none'"
    )
    response.headers["X-Frame-Options"] = "DENY"
    # The softphone needs the microphone; let the console's origin ask for it inside the frame.
    response.headers["Permissions-Policy"] = f'microphone=(self "{settings.callbridge_origin}")'
    return response


@blueprint.get("/search")
@login_required
def search() -> Response:
    query = request.args.get("q", "")
    ids = request.args.get("ids", "")
    if ids:
        # A screen pop with several matches lists exactly those records ("contact:12,lead:3").
        results = _records_by_refs(ids)
        query = query or f"{len(results)} matching records"
    else:
        results = text_search(db(), query, state().default_region) if query.strip() else []
    return page("search.html", query=query, results=results)


def _records_by_refs(refs: str) -> list[Any]:
    found = []
    for ref in refs.split(",")[:100]:
        object_type, _, raw_id = ref.partition(":")
        model = MODELS.get(object_type)
        if model is not None and raw_id.isdigit():
            record = db().get(model, int(raw_id))
            if record is not None:
                found.append(record)
    return found


@blueprint.get("/records/<object_type>")
@login_required
def record_list(object_type: str) -> Response:
    model = MODELS.get(object_type)
    if model is None:
        abort(404)
    page_number = max(request.args.get("page", 1, type=int) or 1, 1)
    per_page = 50
    records = list(
        db().scalars(select(model).order_by(model.id.desc()).offset((page_number - 1) * per_page).limit(per_page))
    )
    return page(
        "list.html",
        object_type=object_type,
        records=records,
        page_number=page_number,
        has_next=len(records) == per_page,
    )


@blueprint.get("/records/<object_type>/<int:record_id>")
@login_required
def record_page(object_type: str, record_id: int) -> Response:
    model = MODELS.get(object_type)
    record = db().get(model, record_id) if model else None
    if record is None:
        abort(404)
    assert isinstance(record, Contact | Account | Lead | Case | Activity)
    activities = activities_for(db(), object_type, record_id) if object_type != "activity" else []
    cases = list(related_cases(db(), object_type, record_id)) if object_type in ("contact", "account") else []
    contacts: list[Contact] = []
    if object_type == "account":
        contacts = list(db().scalars(select(Contact).where(Contact.account_id == record_id).limit(50)))
    return page(
        "record.html",
        object_type=object_type,
        record=record,
        data=record_json(record, ""),
        phone_fields=PHONE_FIELDS.get(object_type, ()),
        activities=activities,
        cases=cases,
        contacts=contacts,
    )


@blueprint.get("/activities")
@login_required
def activity_list() -> Response:
    query = select(Activity).order_by(Activity.id.desc()).limit(100)
    kind = request.args.get("type")
    if kind:
        query = query.where(Activity.type == kind)
    return page("activities.html", activities=list(db().scalars(query)), kind=kind)


@blueprint.route("/new/<object_type>", methods=["GET", "POST"])
@login_required
def new_record(object_type: str) -> BaseResponse:
    if object_type not in CREATABLE:
        abort(404)
    fields = FORM_FIELDS[object_type]
    values = {api_name: request.args.get(api_name, "") for api_name, _attr, _label, _req in fields}
    # "name" is what a screen pop knows about a caller; split it for person records.
    full_name = request.args.get("name", "").strip()
    if full_name and object_type in ("contact", "lead") and not values["lastName"]:
        first, _, last = full_name.rpartition(" ")
        values["firstName"], values["lastName"] = first, last
    elif full_name and object_type == "account" and not values["name"]:
        values["name"] = full_name
    errors: dict[str, str] = {}
    if request.method == "POST":
        verify_csrf()
        values = {api_name: request.form.get(api_name, "").strip() for api_name, _a, _l, _r in fields}
        attributes: dict[str, Any] = {}
        for api_name, attribute, label, required in fields:
            value = values[api_name]
            if required and not value:
                errors[api_name] = f"{label} is required."
            elif attribute.endswith("_id") and value:
                linked = {"account_id": Account, "contact_id": Contact}[attribute]
                if not value.isdigit() or db().get(linked, int(value)) is None:
                    errors[api_name] = f"No {attribute.removesuffix('_id')} with id {value}."
                else:
                    attributes[attribute] = int(value)
            elif value:
                attributes[attribute] = value
        if not errors:
            record = create_record(db(), object_type, attributes, state().default_region)
            db().commit()
            target = record_path(object_type, record.id)
            if request.args.get("embedded") == "1":
                target += "?embedded=1"
            return redirect(target)
    response = page("new.html", object_type=object_type, fields=fields, values=values, errors=errors)
    if errors:
        response.status_code = 400
    return response


# --- JSON endpoints for the CTI host script (same-origin, session cookie) -----------------------


def _host_api(view: Callable[P, Response]) -> Callable[P, Response]:
    @wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> Response:
        if current_user() is None:
            return _json_error(401, "INVALID_SESSION_ID", "Sign in to the CRM first")
        # Only the CRM's own pages may call these (they act with the signed-in person's session).
        if request.headers.get("Sec-Fetch-Site", "same-origin") != "same-origin":
            return _json_error(403, "FORBIDDEN", "Cross-site requests are refused")
        if request.method == "POST":
            verify_csrf()
        try:
            return view(*args, **kwargs)
        except CrmError as error:
            response = jsonify([item.as_json() for item in error.errors])
            response.status_code = error.status
            return response

    return wrapper


def _json_error(status: int, code: str, message: str) -> Response:
    response = jsonify([{"errorCode": code, "message": message, "fields": []}])
    response.status_code = status
    return response


@blueprint.get("/host-api/search")
@_host_api
def host_search() -> Response:
    """Search for a screen pop: by phone, by case number, or by text (first given wins)."""
    region = state().default_region
    phone, case_number, text = (request.args.get(key, "").strip() for key in ("phone", "caseNumber", "q"))
    if phone:
        _e164, found = records_by_phone(db(), phone, region)
        records: list[Any] = list(found)
    elif case_number:
        records = list(case_by_number(db(), case_number))
    else:
        records = text_search(db(), text, region)
    return jsonify({"records": [_summary(record) for record in records]})


@blueprint.post("/host-api/search/rules")
@_host_api
def host_rules_search() -> Response:
    body = request.get_json(silent=True) or {}
    rules = [(str(rule.get("field", "")), str(rule.get("value", ""))) for rule in body.get("rules", [])]
    found = records_by_rules(
        db(), str(body.get("objectType", "")), rules, str(body.get("match", "all")), state().default_region
    )
    return jsonify({"records": [_summary(record) for record in found]})


@blueprint.post("/host-api/activities")
@_host_api
def host_save_log() -> Response:
    body = request.get_json(silent=True)
    user = current_user()
    limit = state().settings.comments_max_bytes
    owner = user.id if user else None
    fields = body.get("fields") if isinstance(body, dict) else None
    external_id = body.get("externalId") if isinstance(body, dict) else None
    if isinstance(external_id, str) and external_id:
        activity, created = upsert_activity_by_external_id(db(), external_id, fields, limit, owner)
    else:
        activity, created = create_activity(db(), fields, limit, owner), True
    db().commit()
    response = jsonify({"id": activity.id, "created": created, "url": record_path("activity", activity.id)})
    response.status_code = 201 if created else 200
    return response


def _summary(record: Any) -> dict[str, Any]:
    object_type = object_type_of(record)
    return {
        "objectType": object_type,
        "id": record.id,
        "name": record.name,
        "url": record_path(object_type, record.id),
    }


def new_record_path(object_type: str, defaults: dict[str, str]) -> str:
    known = {api_name for api_name, _a, _l, _r in FORM_FIELDS.get(object_type, [])} | {"name"}
    query = urlencode({key: value for key, value in defaults.items() if key in known and value})
    return f"/new/{object_type}" + (f"?{query}" if query else "")
