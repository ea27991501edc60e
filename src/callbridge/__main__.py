"""The `callbridge` command: serve, db upgrade, admin create, demo."""

from __future__ import annotations

import getpass
import logging
from typing import Annotated

import typer

from callbridge.config import Settings

app = typer.Typer(help="Callbridge: a contact center that lives inside your CRM.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
admin_app = typer.Typer(help="Local administrators (for bootstrapping; agents sign in through their CRM).")
app.add_typer(db_app, name="db")
app.add_typer(admin_app, name="admin")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (default 127.0.0.1: this machine only)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8000)")] = None,
) -> None:
    """Run the Callbridge server (REST API, WebSocket events, pages)."""
    import uvicorn

    from callbridge.logging import configure_logging
    from callbridge.web.app import create_app
    from callbridge.web.server import server_config

    overrides = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    settings = Settings(**overrides)  # type: ignore[arg-type]
    configure_logging(settings.log_format, settings.log_level)
    typer.echo(f"Callbridge on {settings.effective_public_url()} (API docs: {settings.effective_public_url()}/docs)")
    app_ = create_app(settings)
    # below INFO uvicorn would still build each response's access line, only for logging to drop it
    access_log = logging.getLogger("uvicorn.access").isEnabledFor(logging.INFO)
    server = uvicorn.Server(
        server_config(app_, host=settings.host, port=settings.port, log_config=None, access_log=access_log)
    )
    server.run()
    if not server.started:  # as uvicorn.run does: the port was taken, the database unreachable…
        raise typer.Exit(3)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create the database or bring its schema up to date."""
    from callbridge.store.database import make_engine, upgrade

    settings = Settings()
    engine = make_engine(settings.database_url)
    upgrade(engine)
    typer.echo(f"database is up to date ({engine.url.render_as_string(hide_password=True)})")


@admin_app.command("create")
def admin_create(
    email: Annotated[str, typer.Option(prompt=True, help="The administrator's e-mail (their sign-in name)")],
    password: Annotated[str | None, typer.Option(help="Read from a prompt when omitted (recommended)")] = None,
) -> None:
    """Create a local administrator account (argon2-hashed password)."""
    from sqlalchemy.exc import IntegrityError

    from callbridge.auth.credentials import create_admin_user
    from callbridge.store.database import make_engine, upgrade

    if password is None:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Password again: ") != password:
            raise typer.BadParameter("the passwords differ", param_hint="--password")
    if len(password) < 12:
        raise typer.BadParameter("use at least 12 characters", param_hint="--password")
    engine = make_engine(Settings().database_url)
    upgrade(engine)
    try:
        create_admin_user(engine, email, password)
    except IntegrityError:
        raise typer.BadParameter(f"an administrator {email!r} already exists", param_hint="--email") from None
    typer.echo(f"administrator {email} created")


@app.command()
def demo(
    rate: Annotated[float, typer.Option(help="New interactions per minute from the traffic generator")] = 12.0,
    bots: Annotated[int, typer.Option(help="Simulated agents that accept and complete interactions")] = 4,
    directory: Annotated[str, typer.Option(help="Where the demo keeps its SQLite databases")] = "callbridge-demo",
    port: Annotated[int, typer.Option(help="Callbridge's port; the built-in CRM uses the next one")] = 8000,
    duration: Annotated[float, typer.Option(help="Stop after this many seconds (0: run until Ctrl-C)")] = 0.0,
) -> None:
    """Run a demo contact center: SQLite, the built-in CRM, agents, queues and live traffic."""
    from callbridge.demo import run_demo

    run_demo(rate_per_minute=rate, bots=bots, directory=directory, port=port, duration=duration)


if __name__ == "__main__":
    app()
