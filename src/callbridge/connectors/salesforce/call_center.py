"""The Open CTI call-center definition file an admin imports into Salesforce.

Setup > Call Centers > Import takes an XML file of `<callCenter>` /
`<section sortOrder name label>` / `<item sortOrder name label>value</item>`
(salesforce.md section 2). `reqGeneralInfo` is required, with
`reqInternalName` at sortOrder 0 and `reqDisplayName` at 1; sortOrders are
contiguous from 0. The XML is built with ElementTree, so tenant names and URLs
are escaped, never spliced into markup.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MAX_INTERNAL_NAME = 40


def adapter_url_for(adapter_url: str, tenant: str, sandbox: bool) -> str:
    """The softphone URL Salesforce frames: `?tenant=<tenant>` and, for a sandbox, `&sandbox=true`."""
    parts = urlsplit(adapter_url)
    if parts.scheme != "https" or not parts.netloc:
        raise ValueError("the CTI adapter URL must be an absolute https:// URL (Lightning requires HTTPS)")
    query = [(k, v) for k, v in parse_qsl(parts.query) if k not in {"tenant", "sandbox"}]
    query.append(("tenant", tenant))
    if sandbox:
        query.append(("sandbox", "true"))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


def internal_name_for(tenant: str) -> str:
    """`reqInternalName`: letters and digits only, starting with a letter, at most 40 characters."""
    name = "Callbridge" + re.sub(r"[^A-Za-z0-9]", "", tenant.title())
    return name[:MAX_INTERNAL_NAME]


def build_call_center_definition(
    tenant: str,
    adapter_url: str,
    sandbox: bool,
    lightning: bool,
    softphone_width: int = 400,
    softphone_height: int = 600,
    *,
    display_name: str = "",
    standby_url: str = "",
    timeout_ms: int = 10000,
) -> str:
    """Returns the call-center definition XML for one tenant.

    `lightning=True` sets `reqSalesforceCompatibilityMode` to
    `Classic_and_Lightning` (the softphone works in both); False leaves it
    `Classic`. `standby_url` and `reqTimeout` go together or not at all.
    """
    if not tenant.strip():
        raise ValueError("tenant is required")
    if not (100 <= softphone_width <= 2000 and 100 <= softphone_height <= 2000):
        raise ValueError("softphone width and height are pixels between 100 and 2000")
    items: list[tuple[str, str, str]] = [
        ("reqInternalName", "InternalName", internal_name_for(tenant)),
        ("reqDisplayName", "Display Name", (display_name or f"Callbridge ({tenant})")[:1000]),
        ("reqAdapterUrl", "CTI Adapter URL", adapter_url_for(adapter_url, tenant, sandbox)),
        ("reqUseApi", "Use CTI API", "true"),
        ("reqSoftphoneHeight", "Softphone Height", str(softphone_height)),
        ("reqSoftphoneWidth", "Softphone Width", str(softphone_width)),
        (
            "reqSalesforceCompatibilityMode",
            "Salesforce Compatibility Mode",
            "Classic_and_Lightning" if lightning else "Classic",
        ),
    ]
    if standby_url:
        items.append(("reqStandbyUrl", "Standby URL", adapter_url_for(standby_url, tenant, sandbox)))
        items.append(("reqTimeout", "Timeout", str(int(timeout_ms))))
    root = ET.Element("callCenter")
    section = ET.SubElement(
        root, "section", {"sortOrder": "0", "name": "reqGeneralInfo", "label": "General Information"}
    )
    for order, (name, label, value) in enumerate(items):
        item = ET.SubElement(section, "item", {"sortOrder": str(order), "name": name, "label": label})
        item.text = value
    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
