"""`callbridge-crm`: serve the built-in CRM, manage its users and OIDC clients, import CSV, seed demo data."""

from __future__ import annotations

import gc
import getpass
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from . import admin
from . import db as database
from .config import DEFAULT_PORT, CrmSettings
from .importer import CsvFileError, count_data_lines, import_csv
from .models import User
from .seed import seed_demo
from .server import CrmServer

app = typer.Typer(help="The Callbridge built-in CRM (its own app, database and port).", no_args_is_help=True)
users_app = typer.Typer(help="CRM users.", no_args_is_help=True)
clients_app = typer.Typer(help="OpenID Connect clients (relying parties such as Callbridge).", no_args_is_help=True)
import_app = typer.Typer(help="Import records from CSV (all or nothing per file).", no_args_is_help=True)
app.add_typer(users_app, name="users")
app.add_typer(clients_app, name="clients")
app.add_typer(import_app, name="import")
console = Console()
errors = Console(stderr=True)

DatabaseUrl = Annotated[
    str | None,
    typer.Option("--database-url", help="Default: $CALLBRIDGE_CRM_DATABASE_URL or sqlite:///callbridge-crm.sqlite3"),
]


def _settings(database_url: str | None) -> CrmSettings:
    settings = CrmSettings()
    return settings.model_copy(update={"database_url": database_url}) if database_url else settings


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = DEFAULT_PORT,
    callbridge_url: Annotated[
        str | None, typer.Option(help="The agent console URL, e.g. http://127.0.0.1:8000/console?tenant=demo")
    ] = None,
    base_url: Annotated[str | None, typer.Option(help="Public URL of the CRM (the OIDC issuer)")] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Serve the CRM's pages, REST API and identity provider."""
    settings = _settings(database_url)
    updates: dict[str, str] = {"base_url": base_url or f"http://{host}:{port}"}
    if callbridge_url:
        updates["callbridge_console_url"] = callbridge_url
    settings = settings.model_copy(update=updates)
    server = CrmServer.start(settings, host=host, port=port, quiet=False)
    # Everything built at start (modules, app, caches) lives as long as the process: keep it out of
    # the collector's full passes, which would otherwise walk it all and stall a request now and then.
    gc.collect()
    gc.freeze()
    console.print(f"Callbridge CRM on [bold]{server.base_url}[/] (console: {settings.callbridge_console_url})")
    server.serve_forever()


@users_app.command("create")
def create_user(
    email: Annotated[str, typer.Option(help="E-mail (the sign-in name)")],
    name: Annotated[str, typer.Option(help="Full name")],
    password: Annotated[str | None, typer.Option(help="Asked for when not given")] = None,
    is_admin: Annotated[bool, typer.Option("--admin", help="Give the admin role")] = False,
    api_enabled: Annotated[bool, typer.Option(help="The 'API Enabled' permission")] = True,
    database_url: DatabaseUrl = None,
) -> None:
    """Create a CRM user."""
    secret = password or getpass.getpass("Password: ")
    try:
        user_id = admin.create_user(
            _settings(database_url).database_url,
            email=email,
            name=name,
            password=secret,
            admin=is_admin,
            api_enabled=api_enabled,
        )
    except ValueError as error:
        errors.print(f"[red]{error}[/]")
        raise typer.Exit(1) from error
    console.print(f"Created user {user_id} <{email}>")


@users_app.command("list")
def list_users(database_url: DatabaseUrl = None) -> None:
    """List CRM users."""
    settings = _settings(database_url)
    engine = database.make_engine(settings.database_url)
    database.initialise(engine, settings.organization_name, settings.default_region)
    table = Table("id", "name", "e-mail", "roles", "API enabled", "active")
    with Session(engine) as session:
        for user in session.scalars(select(User).order_by(User.id)):
            table.add_row(str(user.id), user.name, user.email, user.roles, str(user.api_enabled), str(user.active))
    engine.dispose()
    console.print(table)


@clients_app.command("create")
def create_client(
    name: Annotated[str, typer.Option(help="Shown on the consent screen")],
    redirect_uri: Annotated[list[str], typer.Option(help="Exact redirect URI; repeat for several")],
    public: Annotated[bool, typer.Option(help="A public client: no secret, PKCE required")] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Register an OpenID Connect client and print its id and secret (shown only now)."""
    try:
        credentials = admin.register_client(
            _settings(database_url).database_url, name=name, redirect_uris=redirect_uri, public=public
        )
    except ValueError as error:
        errors.print(f"[red]{error}[/]")
        raise typer.Exit(1) from error
    console.print(f"client_id:     {credentials.client_id}")
    console.print(f"client_secret: {credentials.client_secret or '(none: public client, use PKCE)'}")


def _import(object_type: str, file: Path, skip_invalid: bool, database_url: str | None) -> None:
    settings = _settings(database_url)
    if not file.is_file():
        errors.print(f"[red]No such file: {file}[/]")
        raise typer.Exit(2)
    engine = database.make_engine(settings.database_url)
    database.initialise(engine, settings.organization_name, settings.default_region)
    with database.make_session_factory(engine)() as session:
        region = database.organization(session).default_region
    total = count_data_lines(file)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    try:
        with Progress(*columns, console=errors) as progress:
            checking = progress.add_task(f"Checking {file.name}", total=total)
            writing = progress.add_task(f"Writing {object_type}s", total=total, start=False)

            def written(count: int) -> None:
                progress.start_task(writing)
                progress.advance(writing, count)

            report = import_csv(
                engine,
                object_type,
                file,
                region,
                skip_invalid=skip_invalid,
                on_checked=lambda count: progress.advance(checking, count),
                on_written=written,
            )
            progress.update(checking, completed=report.rows_read, total=report.rows_read)
            progress.update(writing, total=max(report.imported, 1), completed=report.imported)
    except CsvFileError as error:
        errors.print(f"[red]{file}: {error}. Nothing was imported.[/]")
        raise typer.Exit(1) from error
    finally:
        engine.dispose()
    if report.ignored_columns:
        errors.print(f"Ignored columns: {', '.join(report.ignored_columns)}")
    if report.problems:
        table = Table("line", "why it could not be imported", title=f"{len(report.problems)} rows rejected")
        for problem in report.problems[:200]:
            table.add_row(str(problem.line), problem.reason)
        errors.print(table)
        if len(report.problems) > 200:
            errors.print(f"... and {len(report.problems) - 200} more")
    if report.problems and not skip_invalid:
        good = report.rows_read - len(report.problems)
        errors.print(
            f"[red]Nothing was imported.[/] Fix the rows above, or use --skip-invalid to import the {good} good rows."
        )
        raise typer.Exit(1)
    console.print(f"Imported {report.imported} {object_type}s from {file}.")


SkipInvalid = Annotated[bool, typer.Option(help="Import the good rows even when some are bad")]


@import_app.command("contacts")
def import_contacts(file: Path, skip_invalid: SkipInvalid = False, database_url: DatabaseUrl = None) -> None:
    """Import contacts (columns: first_name, last_name, email, phone, mobile_phone, title, city, account_id)."""
    _import("contact", file, skip_invalid, database_url)


@import_app.command("accounts")
def import_accounts(file: Path, skip_invalid: SkipInvalid = False, database_url: DatabaseUrl = None) -> None:
    """Import accounts (columns: name, phone, website, industry, city)."""
    _import("account", file, skip_invalid, database_url)


@import_app.command("leads")
def import_leads(file: Path, skip_invalid: SkipInvalid = False, database_url: DatabaseUrl = None) -> None:
    """Import leads (columns: first_name, last_name, company, email, phone, mobile_phone, status)."""
    _import("lead", file, skip_invalid, database_url)


@import_app.command("cases")
def import_cases(file: Path, skip_invalid: SkipInvalid = False, database_url: DatabaseUrl = None) -> None:
    """Import cases (columns: subject, case_number, description, status, priority, origin, contact_id,
    account_id)."""
    _import("case", file, skip_invalid, database_url)


@app.command()
def seed(
    contacts: int = 3000,
    accounts: int = 300,
    leads: int = 200,
    cases: int = 1500,
    activities: int = 2000,
    database_url: DatabaseUrl = None,
) -> None:
    """Fill the CRM with realistic demo records."""
    report = seed_demo(
        _settings(database_url).database_url,
        contacts=contacts,
        accounts=accounts,
        leads=leads,
        cases=cases,
        activities=activities,
        progress=lambda what, count: errors.print(f"  {count} {what}"),
    )
    console.print(
        f"Seeded {report.accounts} accounts, {report.contacts} contacts, {report.leads} leads, "
        f"{report.cases} cases, {report.activities} activities."
    )


if __name__ == "__main__":
    app()
