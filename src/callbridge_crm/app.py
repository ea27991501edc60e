"""The Flask application factory and the per-request database session."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from flask import Flask, Request, g
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.routing import IntegerConverter

from . import db as database
from .config import CrmSettings

PACKAGE_DIR = Path(__file__).parent


@dataclass
class CrmState:
    settings: CrmSettings
    engine: Engine
    sessions: sessionmaker[Session]
    default_region: str
    clock: Callable[[], float] = time.time  # seconds since the epoch; tests pass their own


def state() -> CrmState:
    from flask import current_app

    crm_state: CrmState = current_app.extensions["callbridge_crm"]
    return crm_state


def db() -> Session:
    """The request's database session, opened on first use and closed when the request ends."""
    session: Session | None = g.get("crm_db")
    if session is None:
        session = state().sessions()
        g.crm_db = session
    return session


def core() -> Connection:
    """The request's plain (Core) connection for hot read paths that need no ORM objects.

    Opened on first use and returned to the pool when the request ends; it only reads, so it
    holds no write lock while the request's ORM session writes.
    """
    connection: Connection | None = g.get("crm_core")
    if connection is None:
        connection = state().engine.connect()
        g.crm_core = connection
    return connection


def release_core() -> None:
    """Return the request's Core connection to the pool now (a view that works with the ORM session
    should not hold two pooled connections)."""
    connection: Connection | None = g.pop("crm_core", None)
    if connection is not None:
        connection.close()


def _close_session(_exc: BaseException | None) -> None:
    session: Session | None = g.pop("crm_db", None)
    if session is not None:
        session.close()
    release_core()


class RecordIdConverter(IntegerConverter):
    """`<int:…>` in every route: at most 18 digits, always within the database's integer range, so a longer id
    matches no route (404), where Werkzeug's unbounded converter would pass it to a query that fails."""

    regex = r"\d{1,18}"


class _CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions; a request without the cookie (every API call) skips building
    the signer, and gets the same empty session Flask would give it."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)


def create_app(
    settings: CrmSettings | None = None, engine: Engine | None = None, clock: Callable[[], float] = time.time
) -> Flask:
    """A WSGI application serving the CRM's pages, REST API and identity provider."""
    settings = settings or CrmSettings()
    engine = engine or database.make_engine(settings.database_url)
    database.initialise(engine, settings.organization_name, settings.default_region)
    sessions = database.make_session_factory(engine)
    with sessions() as session:
        org = database.organization(session)
        secret, region = org.session_secret, org.default_region

    app = Flask(
        "callbridge_crm",
        template_folder=str(PACKAGE_DIR / "templates"),
        static_folder=str(PACKAGE_DIR / "static"),
    )
    app.config.update(
        SECRET_KEY=secret,
        SESSION_COOKIE_NAME="crm_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.base_url.startswith("https://"),
        OAUTH2_REFRESH_TOKEN_GENERATOR=True,
        OAUTH2_TOKEN_EXPIRES_IN={"authorization_code": settings.access_token_lifetime_seconds},
        OAUTH2_SCOPES_SUPPORTED=["openid", "email", "profile", "crm.read", "crm.write", "offline_access"],
        MAX_CONTENT_LENGTH=32 * 1024 * 1024,
    )
    app.url_map.converters["int"] = RecordIdConverter
    app.session_interface = _CookieSessions()
    app.extensions["callbridge_crm"] = CrmState(settings, engine, sessions, region, clock)
    app.teardown_appcontext(_close_session)

    # Imported here because the views import `db`/`state` from this module.
    from .api import blueprint as api_blueprint
    from .oidc import init_app as init_identity_provider
    from .pages import blueprint as pages_blueprint
    from .rate_limits import install as install_rate_limits
    from .security import TrustedProxies, parse_proxies
    from .security import install as install_security_headers

    init_identity_provider(app)
    install_security_headers(app)
    install_rate_limits(app, settings, engine)
    proxies = parse_proxies(settings.trusted_proxies)
    if proxies:
        app.wsgi_app = TrustedProxies(app.wsgi_app, proxies)  # type: ignore[method-assign]
    app.register_blueprint(api_blueprint)
    app.register_blueprint(pages_blueprint)
    return app
