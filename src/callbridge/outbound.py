"""Where Callbridge may connect on a tenant's behalf: the one outbound policy (server-side request forgery).

A tenant admin sets URLs that Callbridge's server then fetches: the built-in CRM's `base_url`, the PBX
command webhook, the single sign-on issuer and discovery URL (and the endpoints its discovery document
names), Salesforce's instance and login URLs. Without a policy, those turn Callbridge into a proxy into its
own network: cloud metadata (169.254.169.254), databases on loopback, the office LAN.

The policy refuses every address that is not globally routable (loopback, private, link-local, shared,
unspecified, reserved, multicast; IPv4-mapped IPv6 is judged as the IPv4 address it carries), whatever
the spelling (`2130706433`, `0177.0.0.1`, `[::ffff:127.0.0.1]`), and URLs carrying credentials. It
applies twice:

* when the URL is saved (`check_url`, a 4xx naming the field), and
* when connecting (`transport`): the host is resolved, every address is checked and the connection goes
  only to an allowed address of that same answer, so a DNS answer that changes after the check
  (rebinding), or that mixes public and internal addresses, gains nothing.

A Callbridge administrator (not a tenant admin) may allow private ranges explicitly with
`CALLBRIDGE_OUTBOUND_ALLOWED_NETWORKS` (e.g. `127.0.0.0/8` for a built-in CRM on the same machine).
Outbound clients never follow redirects, so a secret goes only to the host it was configured for.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import logging
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

log = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
ALLOWED_NETWORKS_SETTING = "CALLBRIDGE_OUTBOUND_ALLOWED_NETWORKS"
# What an admin sees for any target that cannot be used: refused by the policy, refused connection, time-out,
# unknown name. One outcome, so that "Test connection" tells nothing about what listens where.
UNREACHABLE = "cannot be reached: check the URL, and that the service is running and reachable from Callbridge"


class DestinationRefused(ValueError):
    """A URL Callbridge will not connect to; `field` names the setting, `message` says why in plain words."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def parse_networks(value: str | Iterable[str]) -> tuple[IPNetwork, ...]:
    """`10.0.0.0/8, 127.0.0.1` → networks (a bare address is a /32 or /128). Raises ValueError naming the bad one."""
    items = value.split(",") if isinstance(value, str) else list(value)
    networks: list[IPNetwork] = []
    for item in (i.strip() for i in items):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError as error:
            raise ValueError(f"{item!r} is not an address range such as 10.0.0.0/8 or ::1/128") from error
    return tuple(networks)


def literal_address(host: str) -> IPAddress | None:
    """The address a host name spells, in any form a resolver accepts (dotted, decimal, octal, hex, IPv6)."""
    host = host.strip("[]")
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        pass
    if host and all(c in "0123456789abcdefxABCDEFX." for c in host) and any(c.isdigit() for c in host):
        try:  # inet_aton is what resolvers use for numbers: 2130706433, 0177.0.0.1, 0x7f.1, 127.1
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


@dataclass(frozen=True)
class OutboundPolicy:
    allowed_networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def from_setting(cls, value: str | Iterable[str]) -> OutboundPolicy:
        return cls(parse_networks(value))

    def allows(self, address: IPAddress) -> bool:
        if isinstance(address, ipaddress.IPv6Address):
            embedded = address.ipv4_mapped or address.sixtofour
            if embedded is not None:
                address = embedded
        if any(address.version == n.version and address in n for n in self.allowed_networks):
            return True
        return address.is_global and not address.is_multicast

    def refusal(self, address: IPAddress) -> str:
        return (
            f"it points to {address}, an internal address (loopback, private, link-local or reserved) that Callbridge "
            f"does not connect to; a Callbridge administrator can allow a range with {ALLOWED_NETWORKS_SETTING}"
        )

    def check_url(self, url: str, field: str, *, resolve: bool = True) -> str:
        """The URL, or DestinationRefused naming `field`. Blocking (DNS): call it in a worker thread."""
        try:
            parts = urlsplit(url.strip())
            host = parts.hostname or ""
            parts.port  # noqa: B018 - raises ValueError for a port that is not a number
        except ValueError as error:
            raise DestinationRefused(field, "it is not a valid URL") from error
        if parts.scheme not in ("https", "http") or not host:
            raise DestinationRefused(field, "an absolute https:// URL is expected")
        if parts.username is not None or parts.password is not None or "@" in parts.netloc:
            raise DestinationRefused(field, "the URL must not carry a user name or password")
        literal = literal_address(host)
        addresses: list[IPAddress] = [literal] if literal is not None else []
        if literal is None and resolve:
            try:
                infos = socket.getaddrinfo(host, parts.port or 443, type=socket.SOCK_STREAM)
            except (OSError, UnicodeError):
                infos = []  # not resolvable yet: checked again on every connection
            addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
        refused = [a for a in addresses if not self.allows(a)]
        if refused and len(refused) == len(addresses):
            raise DestinationRefused(field, self.refusal(refused[0]))
        return url

    def transport(self, limits: httpx.Limits | None = None) -> httpx.AsyncHTTPTransport:
        """httpx's transport, its connections going through the policy (TLS still verifies the URL's host)."""
        transport: httpx.AsyncHTTPTransport = _checked_transport(self, httpx, httpcore, limits or httpx.Limits())
        return transport

    def oauth_transport(self) -> Any:
        """The same for Authlib's OAuth client, which runs on its own copy of httpx (`httpx2`)."""
        import httpcore2
        import httpx2

        return _checked_transport(self, httpx2, httpcore2, httpx2.Limits())

    def client(self, *, limits: httpx.Limits | None = None, **kwargs: Any) -> httpx.AsyncClient:
        """An HTTP client for tenant-set URLs: checked connections, no redirects, no proxies from the environment."""
        transport = self.transport(limits or httpx.Limits(max_keepalive_connections=20, keepalive_expiry=60))
        kwargs.setdefault("timeout", 10)
        return httpx.AsyncClient(transport=transport, follow_redirects=False, trust_env=False, **kwargs)


@functools.cache
def _ssl_context(httpx_module: Any) -> Any:
    """One verifying TLS context per httpx copy, shared by every pool: loading the CA bundle costs tens of
    milliseconds of CPU, which would otherwise stall the event loop each time a tenant's client is built."""
    return httpx_module.create_ssl_context(trust_env=False)


def _checked_transport(policy: OutboundPolicy, httpx_module: Any, httpcore_module: Any, limits: Any) -> Any:
    transport = httpx_module.AsyncHTTPTransport(limits=limits, trust_env=False)
    # The pool httpx builds, with the checking network backend (httpx has no parameter for one).
    transport._pool = httpcore_module.AsyncConnectionPool(
        ssl_context=_ssl_context(httpx_module),
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        network_backend=_CheckedBackend(policy, httpcore_module),
    )
    return transport


class _CheckedBackend:
    """An httpcore network backend: resolves, checks every address, then connects to a checked address
    (never resolving again, so the answer checked is the answer used)."""

    def __init__(self, policy: OutboundPolicy, httpcore_module: Any) -> None:
        self.policy = policy
        self.inner = httpcore_module.AnyIOBackend()
        self.connect_error: type[Exception] = httpcore_module.ConnectError
        self.failures: tuple[type[Exception], ...] = (httpcore_module.ConnectError, httpcore_module.ConnectTimeout)

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's backend interface
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> Any:
        literal = literal_address(host)
        if literal is not None:
            addresses = [literal]
        else:
            try:
                infos = await asyncio.wait_for(
                    asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM), timeout
                )
            except (OSError, UnicodeError, TimeoutError) as error:
                raise self.connect_error(f"{host}: {UNREACHABLE}") from error
            addresses = list(dict.fromkeys(ipaddress.ip_address(str(i[4][0]).split("%", 1)[0]) for i in infos))
        allowed = [a for a in addresses if self.policy.allows(a)]
        if len(allowed) < len(addresses):
            log.warning(
                "outbound connection to an internal address refused by the policy",
                extra={"host": host, "port": port, "refused": [str(a) for a in addresses if a not in allowed]},
            )
        if not allowed:
            raise self.connect_error(f"{host}: {UNREACHABLE}")
        last: Exception | None = None
        for address in allowed:
            try:
                return await self.inner.connect_tcp(str(address), port, timeout, local_address, socket_options)
            except self.failures as error:
                last = error
        assert last is not None
        raise last

    async def connect_unix_socket(self, path: str, timeout: float | None = None, socket_options: Any = None) -> Any:  # noqa: ASYNC109
        raise self.connect_error("Unix sockets are not an outbound destination")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)
