"""The guard of every connection a service makes on a user's behalf (webhooks, CalDAV servers):
only ``http``/``https``, and only to public addresses unless the operator allows a target.

A URL a user gives could otherwise point the server at itself or its network (``127.0.0.1``,
``169.254.169.254``, an intranet host) and turn it into a port scanner. So:

- ``OutboundPolicy.validate_url`` checks a URL when it is saved: the scheme, then every
  address its host resolves to (``getaddrinfo``, so ``2130706433``, ``0x7f000001`` and
  ``0177.0.0.1`` are the loopback address they stand for). A refusal is a 422 naming the rule.
- ``OutboundPolicy.session()`` is the HTTP client (niquests, the library caldav uses) for the
  connections themselves. Its resolver checks the addresses of every new connection, and the
  socket connects to exactly the addresses it checked, so a name that resolves elsewhere by
  the time of the connection (DNS rebinding) is caught, as is every redirect. The URL keeps its
  host name, so the ``Host`` header, TLS SNI and certificate checks are those of the name.
  A refusal raises ``OutboundRefused`` before any connection is made.
- ``CARDCRM_OUTBOUND_ALLOW`` lets an operator allow private targets (an intranet CalDAV
  server): comma-separated host names, addresses or CIDR blocks, each optionally with
  ``:port`` (IPv6 in brackets: ``[fd00::5]:8443``). Empty by default.

What a user reads of a failure says which rule refused it, an HTTP status, or "could not
connect"; never what the remote host answered otherwise, so that a closed port, a filtered
one, and a service that speaks something else all read the same (``failure_text``).

The refused addresses are every address that is not public: loopback, private (RFC 1918,
unique-local IPv6), link-local (cloud metadata at 169.254.169.254), shared (100.64.0.0/10),
multicast, reserved, unspecified (``0.0.0.0``, ``::``), documentation and benchmarking ranges,
in IPv4 and IPv6. An IPv6 address that carries an IPv4 one (``::ffff:127.0.0.1``, NAT64's
``64:ff9b::/96``, 6to4's ``2002::/16``) is judged by the IPv4 address it carries. They are all
reported as one rule, "private address": the user typed the name, and the category of the
address it leads to is all they need (the address itself would map the operator's network).
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import niquests

from .errors import ConfigurationError, Invalid
from .validation_messages import N_, known, translate_message

if TYPE_CHECKING:
    from urllib3_future.contrib.resolver.system import SystemResolver
else:
    # The resolver classes of the urllib3 niquests runs on (urllib3-future, under its own name
    # or, when it replaced urllib3, under that one): niquests only takes its own.
    from niquests.packages.urllib3.contrib.resolver.system import SystemResolver

#: The environment variable, and the settings key of the services that read it.
ALLOW_VARIABLE = "CARDCRM_OUTBOUND_ALLOW"
SETTING = "OUTBOUND_ALLOW"

SCHEMES = ("http", "https")
DEFAULT_PORTS = {"http": 80, "https": 443}
#: Redirects followed by a session that follows them (each one checked like the first URL).
MAX_REDIRECTS = 5

REFUSED_SCHEME = "refused: scheme"
REFUSED_URL = "refused: not a URL"
REFUSED_ADDRESS = "refused: private address"
#: Every failure to reach a host, whatever the network said.
COULD_NOT_CONNECT = "could not connect"

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
SHARED = ipaddress.IPv4Network("100.64.0.0/10")
LABEL = r"[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?"
HOST_NAME = re.compile(rf"(?=.{{1,253}}$){LABEL}(\.{LABEL})*")


class OutboundRefused(Exception):
    """The guard refused a target: ``rule`` (also the text) says which rule, e.g.
    ``"refused: private address"``. Raised before any connection to the target is made."""

    def __init__(self, rule: str) -> None:
        super().__init__(rule)
        self.rule = rule


# --- the rules --------------------------------------------------------------------------------


def carried_ipv4(address: Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for (IPv4-mapped, NAT64, 6to4), if any."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


def is_public(address: Address) -> bool:
    """Whether ``address`` is one the public internet routes to a host (see the module).

    ``is_global`` alone is not enough: Python counts multicast as global, and what the
    ``ipaddress`` flags say of some ranges changed between Python releases."""
    inner = carried_ipv4(address)
    if inner is not None:
        return is_public(inner)
    refused = (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or (isinstance(address, ipaddress.IPv6Address) and address.is_site_local)
        or address in SHARED
    )
    return address.is_global and not refused


def parse_address(text: str) -> Address:
    """An address as ``getaddrinfo`` gives it (an IPv6 one may carry a ``%zone``)."""
    return ipaddress.ip_address(text.partition("%")[0])


def host_of(host: str) -> str:
    """A host name or address as the rules compare it: lower case, no brackets, no final dot."""
    return host.strip("[]").rstrip(".").lower()


# --- the operator's exceptions ----------------------------------------------------------------


@dataclass(frozen=True)
class Allowed:
    """One entry of ``CARDCRM_OUTBOUND_ALLOW``: a host name or a network, maybe one port."""

    text: str
    name: str | None = None
    network: Network | None = None
    port: int | None = None

    def allows(self, host: str, address: Address, port: int) -> bool:
        if self.port is not None and port != self.port:
            return False
        if self.name is not None:
            return host_of(host) == self.name
        assert self.network is not None
        candidates = [address, carried_ipv4(address)]
        return any(
            candidate is not None
            and candidate.version == self.network.version
            and candidate in self.network
            for candidate in candidates
        )


def parse_allowed(text: str) -> Allowed:
    """One entry: ``host``, ``address`` or ``network/bits``, each maybe with ``:port``; IPv6
    in brackets when a port follows (``[::1]:8080``, ``[fd00::/8]:5232``)."""
    entry = text.strip()
    target, port, bracketed = entry, None, entry.startswith("[")
    if bracketed:
        inside, bracket, rest = entry[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise ValueError("an IPv6 address in brackets is followed by nothing or :port")
        target = inside
        port = _port(rest[1:]) if rest else None
    elif entry.count(":") == 1:
        target, _, given = entry.partition(":")
        port = _port(given)
    if not target:
        raise ValueError("no host")
    try:
        network = ipaddress.ip_network(target, strict=True)
    except ValueError as error:
        if bracketed or "/" in target or ":" in target or re.fullmatch(r"[0-9.]+", target):
            raise ValueError(f"not an address or network ({error})") from None
    else:
        return Allowed(entry, network=network, port=port)
    name = host_of(target)
    if not HOST_NAME.fullmatch(name):
        raise ValueError("not a host name, an address or a network")
    return Allowed(entry, name=name, port=port)


def _port(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(f"the port {text!r} is not a number from 1 to 65535")
    return int(text)


# --- the policy -------------------------------------------------------------------------------


@dataclass(frozen=True)
class OutboundPolicy:
    """The rules of one service: public addresses, plus what the operator allowed."""

    allowed: tuple[Allowed, ...] = ()

    @classmethod
    def parse(cls, text: str | None) -> OutboundPolicy:
        """The policy of a ``CARDCRM_OUTBOUND_ALLOW`` value; ``ConfigurationError`` names a bad
        entry (the services read it at start, so a typo stops them with that message)."""
        entries = []
        for entry in (text or "").split(","):
            if not entry.strip():
                continue
            try:
                entries.append(parse_allowed(entry))
            except ValueError as error:
                raise ConfigurationError(
                    f"{ALLOW_VARIABLE}: {entry.strip()!r} is not a valid entry: {error}. Give host "
                    "names, addresses or CIDR blocks, each optionally with :port, separated by "
                    "commas (e.g. caldav.intranet,10.1.0.0/16,127.0.0.1:5232,[::1]:8080)."
                ) from None
        return cls(tuple(entries))

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> OutboundPolicy:
        """The policy of ``CARDCRM_OUTBOUND_ALLOW`` in ``env`` (empty: public addresses only)."""
        return cls.parse(env.get(ALLOW_VARIABLE))

    @classmethod
    def of(cls, settings: Mapping[str, Any]) -> OutboundPolicy:
        """The policy in a service's settings: parsed already by ``config.from_env``, or the
        text of ``CARDCRM_OUTBOUND_ALLOW`` (settings a test or a caller wrote by hand)."""
        value = settings.get(SETTING)
        return value if isinstance(value, OutboundPolicy) else cls.parse(value)

    def __str__(self) -> str:
        return ",".join(entry.text for entry in self.allowed)

    def refuses(self, host: str, address: Address, port: int) -> bool:
        """Whether a connection to ``address`` (resolved from ``host``) on ``port`` is refused."""
        if is_public(address):
            return False
        return not any(entry.allows(host, address, port) for entry in self.allowed)

    def check_addresses(self, host: str, port: int, addresses: Iterable[str]) -> None:
        """Refuse (``OutboundRefused``) unless every address ``host`` resolved to is allowed."""
        for text in addresses:
            if self.refuses(host, parse_address(text), port):
                raise OutboundRefused(REFUSED_ADDRESS)

    def check_url(self, url: str) -> None:
        """Refuse a URL before connecting: its scheme, and every address its host has now.

        A host name that does not resolve passes: there is nothing to judge yet, and the
        connection, checked again, fails as any other ("could not connect").
        """
        parts = urlsplit(url)
        if parts.scheme.lower() not in SCHEMES:
            raise OutboundRefused(REFUSED_SCHEME)
        try:
            port = parts.port or DEFAULT_PORTS[parts.scheme.lower()]
        except ValueError:
            raise OutboundRefused(REFUSED_URL) from None
        host = parts.hostname
        if not host:
            raise OutboundRefused(REFUSED_URL)
        try:
            records = socket.getaddrinfo(host_of(host), port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            return
        self.check_addresses(host, port, (str(record[4][0]) for record in records))

    def validate_url(self, url: str, field: str = "url") -> None:
        """``check_url`` for a URL a user saves: a refusal is a 422 (``Invalid``) on ``field``
        that names the rule and how an operator lifts it."""
        try:
            self.check_url(url)
        except OutboundRefused as refusal:
            message = translate_message(refusal_message(refusal.rule))
            raise Invalid({field: [message]}, detail=f"{field}: {message}") from None

    def session(self, *, max_redirects: int = MAX_REDIRECTS) -> GuardedSession:
        """A new HTTP session whose every connection and redirect goes through the guard."""
        return GuardedSession(self, max_redirects=max_redirects)


def refusal_message(rule: str) -> str:
    """What a user reads when they save a URL the guard refuses by ``rule``."""
    # English (a sidecar's answer, or a service without catalogues); translate_message turns
    # it into the reader's words where the answer is made.
    if rule == REFUSED_SCHEME:
        return N_("refused: scheme; use an http:// or https:// URL with a host name")
    if rule == REFUSED_URL:
        return N_("refused: not a URL; use an http:// or https:// URL with a host name")
    if rule == REFUSED_ADDRESS:
        return known(
            N_("refused: private address; an operator can allow it with %(variable)s"),
            variable=ALLOW_VARIABLE,
        )
    return f"{rule}; an operator can allow it with {ALLOW_VARIABLE}"


def failure_text(failure: BaseException) -> str:
    """What a user may read of a failed connection: the rule that refused it, or one text for
    every network failure (refused, timed out, reset, not HTTP, TLS...)."""
    if isinstance(failure, OutboundRefused):
        return failure.rule
    return COULD_NOT_CONNECT


# --- the connections --------------------------------------------------------------------------


class GuardedResolver(SystemResolver):
    """The system's resolver, refusing the addresses the policy refuses.

    urllib3-future opens every connection with its resolver's ``create_connection``, which
    connects to the addresses this ``getaddrinfo`` returns: the addresses checked are the ones
    connected to, at the time of each connection.
    """

    def __init__(self, policy: OutboundPolicy) -> None:
        super().__init__()
        self.policy = policy

    def recycle(self) -> GuardedResolver:
        return self

    def getaddrinfo(
        self,
        host: bytes | str | None,
        port: str | int | None,
        family: socket.AddressFamily,
        type: socket.SocketKind,
        proto: int = 0,
        flags: int = 0,
        *,
        quic_upgrade_via_dns_rr: bool = False,
    ) -> list[
        tuple[
            socket.AddressFamily,
            socket.SocketKind,
            int,
            str | bytes,
            tuple[str, int] | tuple[str, int, int, int],
        ]
    ]:
        records = super().getaddrinfo(host, port, family, type, proto, flags)
        name = host.decode() if isinstance(host, bytes) else host or "localhost"
        self.policy.check_addresses(name, int(port or 0), (str(record[4][0]) for record in records))
        return records


class GuardedSession(niquests.Session):
    """A niquests session for user-given URLs: connections through ``GuardedResolver``, only
    ``http``/``https`` on every request and redirect, no HTTP/3 (its alternative services
    would be connections of their own), and nothing taken from the environment (proxies that
    would connect in the guard's place, ``.netrc`` credentials that are not the user's)."""

    def __init__(self, policy: OutboundPolicy, *, max_redirects: int = MAX_REDIRECTS) -> None:
        super().__init__(resolver=GuardedResolver(policy), disable_http3=True)
        self.trust_env = False
        self.max_redirects = max_redirects
        self.policy = policy

    def send(self, request: niquests.PreparedRequest, **kwargs: Any) -> niquests.Response:
        scheme = urlsplit(request.url or "").scheme.lower()
        if scheme not in SCHEMES:
            raise OutboundRefused(REFUSED_SCHEME)
        return super().send(request, **kwargs)
