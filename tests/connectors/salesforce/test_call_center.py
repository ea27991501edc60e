from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from callbridge.connectors.salesforce.call_center import build_call_center_definition


def items(xml: str) -> list[tuple[str, str, str]]:
    root = ET.fromstring(xml.encode())
    assert root.tag == "callCenter"
    (section,) = root
    assert section.attrib == {"sortOrder": "0", "name": "reqGeneralInfo", "label": "General Information"}
    return [(i.attrib["sortOrder"], i.attrib["name"], i.text or "") for i in section]


def test_lightning_sandbox_definition() -> None:
    xml = build_call_center_definition(
        "acme-eu", "https://cb.example.com/console?x=1", sandbox=True, lightning=True, softphone_width=420
    )
    assert items(xml) == [
        ("0", "reqInternalName", "CallbridgeAcmeEu"),
        ("1", "reqDisplayName", "Callbridge (acme-eu)"),
        ("2", "reqAdapterUrl", "https://cb.example.com/console?x=1&tenant=acme-eu&sandbox=true"),
        ("3", "reqUseApi", "true"),
        ("4", "reqSoftphoneHeight", "600"),
        ("5", "reqSoftphoneWidth", "420"),
        ("6", "reqSalesforceCompatibilityMode", "Classic_and_Lightning"),
    ]


def test_classic_production_with_standby_and_hostile_input_escaped() -> None:
    xml = build_call_center_definition(
        'a&b<"c>',
        "https://cb.example.com/console",
        sandbox=False,
        lightning=False,
        display_name="<script>",
        standby_url="https://cb.example.com/standby",
    )
    got = dict((name, value) for _, name, value in items(xml))
    assert got["reqDisplayName"] == "<script>"
    assert got["reqAdapterUrl"] == "https://cb.example.com/console?tenant=a%26b%3C%22c%3E"
    assert got["reqSalesforceCompatibilityMode"] == "Classic"
    assert got["reqInternalName"] == "CallbridgeABC"
    assert (got["reqStandbyUrl"], got["reqTimeout"]) == (
        "https://cb.example.com/standby?tenant=a%26b%3C%22c%3E",
        "10000",
    )
    assert "<script>" not in xml


def test_internal_name_is_at_most_40_characters() -> None:
    xml = build_call_center_definition("x" * 100, "https://cb.example.com/", sandbox=False, lightning=True)
    assert len(items(xml)[0][2]) == 40


def test_adapter_url_must_be_https() -> None:
    with pytest.raises(ValueError, match="https"):
        build_call_center_definition("t", "http://cb.example.com/", sandbox=False, lightning=True)
