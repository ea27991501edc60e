"""The outbound policy's address rules, without the network."""

from __future__ import annotations

import pytest

from callbridge.outbound import DestinationRefused, OutboundPolicy, literal_address, parse_networks

STRICT = OutboundPolicy()


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("2130706433", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("0x7f.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("[::ffff:127.0.0.1]", "::ffff:127.0.0.1"),
        ("0", "0.0.0.0"),
        ("crm.example.com", None),
        ("cafe.example", None),
    ],
)
def test_every_spelling_of_an_address_is_read_as_that_address(host: str, address: str | None) -> None:
    found = literal_address(host)
    assert (str(found) if found is not None else None) == (
        str(literal_address(address)) if address is not None else None
    )


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.0.0.1",
        "172.31.255.255",
        "192.168.0.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "::",
        "::1",
        "fe80::1",
        "fc00::1",
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
        "2002:7f00:1::",
        "224.0.0.1",
    ],
)
def test_internal_addresses_are_refused_unless_allowed(address: str) -> None:
    parsed = literal_address(address)
    assert parsed is not None
    assert not STRICT.allows(parsed)
    assert OutboundPolicy.from_setting("0.0.0.0/0, ::/0").allows(parsed)


def test_public_addresses_are_allowed_and_an_allowed_range_allows_only_itself() -> None:
    for public in ("93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"):
        address = literal_address(public)
        assert address is not None
        assert STRICT.allows(address)
    local = OutboundPolicy.from_setting("127.0.0.0/8")
    assert local.allows(literal_address("127.0.0.2"))  # type: ignore[arg-type]
    assert local.allows(literal_address("::ffff:127.0.0.1"))  # type: ignore[arg-type]
    assert not local.allows(literal_address("10.0.0.1"))  # type: ignore[arg-type]
    assert not local.allows(literal_address("169.254.169.254"))  # type: ignore[arg-type]


def test_urls_with_credentials_or_other_schemes_are_refused_naming_the_field() -> None:
    for url in ("https://user:pw@crm.example.com", "https://user@crm.example.com", "ftp://crm.example.com", "/x"):
        with pytest.raises(DestinationRefused) as refused:
            STRICT.check_url(url, "base_url", resolve=False)
        assert refused.value.field == "base_url"
    assert STRICT.check_url("https://crm.example.com/x", "base_url", resolve=False) == "https://crm.example.com/x"


def test_a_bad_range_in_the_setting_is_named() -> None:
    with pytest.raises(ValueError, match="'10.0.0.0/33'"):
        parse_networks("127.0.0.0/8, 10.0.0.0/33")
