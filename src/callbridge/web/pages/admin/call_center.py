"""The Salesforce call-center definition: an XML file to import in Setup > Call Centers, with this tenant's
adapter URL, compatibility mode and softphone size."""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from callbridge.connectors.salesforce.call_center import build_call_center_definition, internal_name_for
from callbridge.web.pages.admin.common import TenantPage, validation_errors

router = APIRouter(include_in_schema=False)

Pixels = Annotated[int, Field(ge=100, le=2000)]


class CallCenterForm(BaseModel):
    model_config = ConfigDict(extra="ignore")

    adapter_url: str = Field(min_length=1, max_length=500)
    sandbox: bool = False
    compatibility: Literal["Classic_and_Lightning", "Classic"] = "Classic_and_Lightning"
    softphone_width: Pixels = 400
    softphone_height: Pixels = 600
    display_name: str = Field(default="", max_length=1000)

    @field_validator("adapter_url")
    @classmethod
    def _https(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        if parts.scheme != "https" or not parts.netloc:
            raise ValueError(
                "must be an absolute https:// URL (Salesforce Lightning only frames HTTPS), "
                "e.g. https://callbridge.example.com/console"
            )
        return value.strip()


def default_adapter_url(request: Request) -> str:
    """The console of this server, as the browser reaches it."""
    return f"https://{request.headers.get('host', request.url.netloc)}/console"


def _render(page: TenantPage, values: dict[str, object], errors: dict[str, str] | None = None) -> Response:
    return page.render(
        "call_center.html",
        422 if errors else 200,
        section="call-center",
        values=values,
        errors=errors or {},
        internal_name=internal_name_for(page.tenant_id),
    )


@router.get("/admin/{tenant_id}/call-center")
def call_center(page: TenantPage) -> Response:
    values: dict[str, object] = {
        "adapter_url": default_adapter_url(page.request),
        "sandbox": False,
        "compatibility": "Classic_and_Lightning",
        "softphone_width": 400,
        "softphone_height": 600,
        "display_name": "",
    }
    return _render(page, values)


@router.get("/admin/{tenant_id}/call-center/definition.xml")
def call_center_file(page: TenantPage) -> Response:
    """A download (nothing changes), so a plain GET form: the file, or the form again saying what is wrong."""
    query = page.request.query_params
    values: dict[str, object] = {
        "adapter_url": query.get("adapter_url", ""),
        "sandbox": query.get("sandbox") == "on",
        "compatibility": query.get("compatibility", ""),
        "softphone_width": query.get("softphone_width", ""),
        "softphone_height": query.get("softphone_height", ""),
        "display_name": query.get("display_name", ""),
    }
    try:
        body = CallCenterForm.model_validate(values)
        xml = build_call_center_definition(
            page.tenant_id,
            body.adapter_url,
            body.sandbox,
            body.compatibility == "Classic_and_Lightning",
            body.softphone_width,
            body.softphone_height,
            display_name=body.display_name,
        )
    except ValidationError as error:
        return _render(page, values, validation_errors(error))
    except ValueError as error:
        return _render(page, values, {"adapter_url": str(error)})
    suffix = "-sandbox" if body.sandbox else ""
    return Response(
        xml,
        media_type="application/xml",
        headers={"Content-Disposition": f'attachment; filename="callbridge-{page.tenant_id}{suffix}-call-center.xml"'},
    )
