"""The outbound guard (``cardcrm.common.outbound``): which addresses it refuses, how an operator
allows some (``CARDCRM_OUTBOUND_ALLOW``), and, against listeners of our own on loopback
addresses, that a refused target is never connected to: not by any spelling of its address,
not after a redirect, not when its name resolves elsewhere by the time of the connection."""

from __future__ import annotations

import ipaddress
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from cardcrm.common.errors import ConfigurationError, Invalid
from cardcrm.common.outbound import (
    REFUSED_ADDRESS,
    REFUSED_SCHEME,
    OutboundPolicy,
    OutboundRefused,
    is_public,
)

from tests.listeners import FakeNames, Listener

CARDCRM = Path(sys.executable).parent / "cardcrm"
NOTHING_ALLOWED = OutboundPolicy()


# --- the rules --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",  # loopback
        "127.0.0.2",
        "10.0.0.5",  # private (RFC 1918)
        "172.16.3.4",
        "192.168.1.1",
        "169.254.169.254",  # link-local: cloud metadata
        "100.64.0.1",  # shared (carrier-grade NAT)
        "0.0.0.0",  # unspecified
        "0.1.2.3",  # "this network"
        "224.0.0.1",  # multicast
        "239.255.255.250",
        "240.0.0.1",  # reserved
        "255.255.255.255",  # broadcast
        "192.0.2.1",  # documentation
        "198.18.0.1",  # benchmarking
        "::1",  # IPv6 loopback
        "::",  # IPv6 unspecified
        "fe80::1",  # link-local
        "fc00::1",  # unique local
        "fd12:3456::1",
        "fec0::1",  # site-local (deprecated)
        "ff02::1",  # multicast
        "2001:db8::1",  # documentation
        "::ffff:127.0.0.1",  # IPv4-mapped
        "::ffff:10.0.0.5",
        "::ffff:169.254.169.254",
        "64:ff9b::a00:5",  # NAT64 of 10.0.0.5
        "2002:7f00:1::1",  # 6to4 of 127.0.0.1
        "::127.0.0.1",  # IPv4-compatible (deprecated)
    ],
)
def test_addresses_that_are_not_public_are_refused(address):
    assert not is_public(ipaddress.ip_address(address))
    assert NOTHING_ALLOWED.refuses("example.com", ipaddress.ip_address(address), 443)


@pytest.mark.parametrize(
    "address", ["8.8.8.8", "93.184.216.34", "2606:4700:4700::1111", "::ffff:8.8.8.8"]
)
def test_public_addresses_pass(address):
    assert is_public(ipaddress.ip_address(address))
    assert not NOTHING_ALLOWED.refuses("example.com", ipaddress.ip_address(address), 443)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://2130706433/",  # decimal
        "http://0x7f000001/",  # hexadecimal
        "http://0177.0.0.1/",  # octal
        "http://127.1/",  # short form
        "http://localhost/",
        "http://0.0.0.0/",
        "http://0/",
        "http://[::]/",
        "http://[::1]:8080/",
        "http://[::ffff:127.0.0.1]/",
        "https://[::ffff:7f00:1]/",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.5:5232/dav/",
    ],
)
def test_every_spelling_of_a_private_address_is_refused_once_resolved(url):
    with pytest.raises(OutboundRefused) as refused:
        NOTHING_ALLOWED.check_url(url)
    assert str(refused.value) == REFUSED_ADDRESS == "refused: private address"


@pytest.mark.parametrize(
    "url", ["ftp://example.com/", "file:///etc/passwd", "gopher://127.0.0.1:25/", "dict://x/"]
)
def test_only_http_and_https_are_allowed(url):
    with pytest.raises(OutboundRefused) as refused:
        NOTHING_ALLOWED.check_url(url)
    assert str(refused.value) == REFUSED_SCHEME == "refused: scheme"


def test_a_name_that_does_not_resolve_yet_is_left_to_the_connection():
    NOTHING_ALLOWED.check_url("https://calendar.example.invalid/dav/")


def test_a_refused_url_saved_by_a_user_is_a_422_naming_the_rule_not_the_address():
    with pytest.raises(Invalid) as invalid:
        NOTHING_ALLOWED.validate_url("http://10.0.0.5:5232/dav/", "url")
    assert invalid.value.status == 422
    message = "refused: private address; an operator can allow it with CARDCRM_OUTBOUND_ALLOW"
    assert invalid.value.extra["errors"] == {"url": [message]}
    assert invalid.value.detail == f"url: {message}"
    assert "10.0.0.5" not in invalid.value.detail

    with pytest.raises(Invalid) as scheme:
        NOTHING_ALLOWED.validate_url("ftp://example.com/", "webhook_url")
    assert scheme.value.extra["errors"]["webhook_url"][0].startswith("refused: scheme;")


# --- CARDCRM_OUTBOUND_ALLOW -------------------------------------------------------------------


def allows(policy: OutboundPolicy, host: str, address: str, port: int) -> bool:
    return not policy.refuses(host, ipaddress.ip_address(address), port)


def test_nothing_private_is_allowed_by_default():
    assert OutboundPolicy.from_env({}) == OutboundPolicy.parse("") == OutboundPolicy()
    assert OutboundPolicy.from_env({}).allowed == ()
    assert not allows(OutboundPolicy.from_env({}), "localhost", "127.0.0.1", 80)


def test_the_sidecars_read_the_allow_list_from_the_environment_once(tmp_path):
    from cardcrm.calendar_sync import config as calendar_config
    from cardcrm.notifications import config as notifications_config

    env = {"CARDCRM_DATA_DIR": str(tmp_path), "CARDCRM_OUTBOUND_ALLOW": "10.1.0.0/16"}
    for config in (calendar_config, notifications_config):
        assert config.from_env({"CARDCRM_DATA_DIR": str(tmp_path)})["OUTBOUND_ALLOW"] == (
            OutboundPolicy()
        )
        policy = config.from_env(env)["OUTBOUND_ALLOW"]
        assert OutboundPolicy.of({"OUTBOUND_ALLOW": policy}) is policy
        assert allows(policy, "dav.intranet", "10.1.2.3", 443)


def test_entries_allow_hosts_addresses_and_networks_each_on_any_or_one_port():
    policy = OutboundPolicy.parse(
        " caldav.Intranet. , 10.1.0.0/16, 127.0.0.2:5232, [::1]:8080, fd00::/8, "
        "[fd00:1::/32]:443, 192.168.5.5, intranet-hooks:8443,"
    )
    assert len(policy.allowed) == 8
    assert allows(policy, "CALDAV.intranet", "10.9.9.9", 8443)  # by name: any address
    assert allows(policy, "dav.example", "10.1.200.3", 80)
    assert not allows(policy, "dav.example", "10.2.0.1", 80)
    assert allows(policy, "127.0.0.2", "127.0.0.2", 5232)
    assert not allows(policy, "127.0.0.2", "127.0.0.2", 5233)
    assert allows(policy, "::1", "::1", 8080)
    assert not allows(policy, "::1", "::1", 80)
    assert allows(policy, "x", "fd12::5", 1)
    assert allows(policy, "x", "fd00:1::9", 443) and allows(policy, "x", "fd00:1::9", 444)
    assert allows(policy, "x", "::ffff:192.168.5.5", 80)  # the mapped form of an allowed one
    assert allows(policy, "intranet-hooks", "10.3.3.3", 8443)
    assert not allows(policy, "intranet-hooks", "10.3.3.3", 443)
    assert not allows(policy, "localhost", "127.0.0.1", 80)


@pytest.mark.parametrize(
    "entry",
    [
        "10.0.0.1/8",  # host bits set
        "10.0.0.0/33",
        "1.2.3",
        "host:0",
        "host:65536",
        "host:http",
        "[::1",
        "[::1]8080",
        "[not-an-address]:80",
        "*.intranet",
        "a b",
        "http://dav.intranet/",
        ":8080",
    ],
)
def test_a_bad_entry_is_a_configuration_error_naming_it(entry):
    with pytest.raises(ConfigurationError) as error:
        OutboundPolicy.parse(f"dav.intranet,{entry}")
    assert f"CARDCRM_OUTBOUND_ALLOW: {entry.strip()!r}" in error.value.detail


def test_a_bad_allow_list_stops_a_command_at_start_with_its_message(tmp_path):
    env = {key: value for key, value in os.environ.items() if not key.startswith("CARDCRM_")}
    env.update(CARDCRM_DATA_DIR=str(tmp_path), CARDCRM_OUTBOUND_ALLOW="10.0.0.1/8")
    result = subprocess.run(
        [str(CARDCRM), "db", "upgrade"], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    assert "CARDCRM_OUTBOUND_ALLOW: '10.0.0.1/8'" in result.stderr
    assert "Traceback" not in result.stderr


# --- connections ------------------------------------------------------------------------------


@pytest.fixture
def listener():
    with Listener("127.0.0.2") as server:
        yield server


@pytest.fixture
def names(monkeypatch):
    fake = FakeNames()
    monkeypatch.setattr(socket, "getaddrinfo", fake.getaddrinfo)
    return fake


def spellings(listener: Listener) -> list[str]:
    port = listener.port
    return [
        f"http://127.0.0.2:{port}/",
        f"http://2130706434:{port}/",
        f"http://0x7f000002:{port}/",
        f"http://0177.0.0.2:{port}/",
        f"http://[::ffff:127.0.0.2]:{port}/",
        f"http://[::ffff:7f00:2]:{port}/",
    ]


def test_nothing_connects_to_a_refused_address_whatever_its_spelling(listener):
    with NOTHING_ALLOWED.session() as session:
        for url in spellings(listener):
            with pytest.raises(OutboundRefused, match="^refused: private address$"):
                session.get(url, timeout=3)
    assert listener.accepted == 0


def test_nothing_connects_to_localhost_or_the_unspecified_address():
    with Listener("127.0.0.1") as local, NOTHING_ALLOWED.session() as session:
        for host in ("localhost", "0.0.0.0", "127.0.0.1"):
            with pytest.raises(OutboundRefused):
                session.get(f"http://{host}:{local.port}/", timeout=3)
        assert local.accepted == 0


def test_an_allowed_address_and_port_is_reached_and_no_other_port(listener):
    with Listener("127.0.0.2") as other:
        policy = OutboundPolicy.parse(f"127.0.0.2:{listener.port}")
        with policy.session() as session:
            assert session.get(listener.url, timeout=3).status_code == 200
            with pytest.raises(OutboundRefused):
                session.get(other.url, timeout=3)
        assert listener.accepted == 1
        assert other.accepted == 0


def test_a_redirect_to_a_refused_address_is_not_followed(listener):
    with Listener("127.0.0.3") as inside:
        listener.status, listener.headers = 302, {"Location": inside.url + "secret"}
        policy = OutboundPolicy.parse(f"127.0.0.2:{listener.port}")
        with policy.session() as session, pytest.raises(OutboundRefused):
            session.get(listener.url, timeout=3)
        assert listener.accepted == 1
        assert inside.accepted == 0


def test_a_redirect_to_another_scheme_is_not_followed(listener):
    listener.status, listener.headers = 302, {"Location": "file:///etc/passwd"}
    policy = OutboundPolicy.parse(f"127.0.0.2:{listener.port}")
    with policy.session() as session, pytest.raises(OutboundRefused, match="refused: scheme"):
        session.get(listener.url, timeout=3)


def test_a_name_that_resolves_to_a_private_address_by_the_time_of_connecting_is_refused(
    listener, names
):
    # DNS rebinding: public when the URL is checked, loopback when the connection is made.
    names["hooks.rebinding.example"] = ["93.184.216.34", "127.0.0.2"]
    url = f"http://hooks.rebinding.example:{listener.port}/hook"
    NOTHING_ALLOWED.check_url(url)
    with NOTHING_ALLOWED.session() as session, pytest.raises(OutboundRefused):
        session.post(url, data=b"{}", timeout=3)
    assert listener.accepted == 0


def test_every_address_a_name_has_must_be_allowed(listener, monkeypatch):
    real = socket.getaddrinfo

    def public_and_private(host, port, *args, **kwargs):
        if host != "mixed.example":
            return real(host, port, *args, **kwargs)
        return real("93.184.216.34", port, *args, **kwargs) + real(
            "127.0.0.2", port, *args, **kwargs
        )

    monkeypatch.setattr(socket, "getaddrinfo", public_and_private)
    with pytest.raises(OutboundRefused):
        NOTHING_ALLOWED.check_url(f"http://mixed.example:{listener.port}/")
    with NOTHING_ALLOWED.session() as session, pytest.raises(OutboundRefused):
        session.get(f"http://mixed.example:{listener.port}/", timeout=3)
    assert listener.accepted == 0


def test_an_allowed_name_keeps_its_name_in_the_request(listener, names):
    # The connection goes to the address checked; the request still names the host.
    names["dav.intranet"] = ["127.0.0.2"]
    policy = OutboundPolicy.parse("dav.intranet")
    with policy.session() as session:
        assert session.get(f"http://dav.intranet:{listener.port}/", timeout=3).status_code == 200
    assert listener.accepted == 1
    assert f"Host: dav.intranet:{listener.port}" in listener.requests[0].split("\r\n")
