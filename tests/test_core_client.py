"""The sidecars' client of core (``cardcrm.sidecar.core_client``) against a listener of our own:
a read whose connection closes with no answer (core's server ending a kept-alive connection as
the request arrives) is asked once more, so the user sees the answer, not a 503; a write and a
read that timed out are not asked again."""

from __future__ import annotations

import json

import pytest
from cardcrm.sidecar.core_client import CoreClient, CoreUnavailable

from tests.listeners import Listener

ME = json.dumps({"id": 7, "email": "ana@example.com", "name": "Ana"}).encode()


def test_a_read_dropped_without_an_answer_is_asked_once_more():
    with Listener("127.0.0.1", body=ME, drop=1) as core:
        user = CoreClient(core.url).whoami("a-token")
    assert user is not None and user["id"] == 7
    assert [head.split("\r\n")[0] for head in core.requests] == ["GET /api/v1/me HTTP/1.1"] * 2


def test_a_read_dropped_twice_is_core_unavailable():
    with Listener("127.0.0.1", body=ME, drop=2) as core, pytest.raises(CoreUnavailable):
        CoreClient(core.url).whoami("a-token")
    assert len(core.requests) == 2


def test_a_write_dropped_without_an_answer_is_not_sent_again():
    with Listener("127.0.0.1", body=b"{}", drop=1) as core, pytest.raises(CoreUnavailable):
        CoreClient(core.url).close_task(5, user_id=7)
    assert [head.split("\r\n")[0] for head in core.requests] == [
        "POST /api/v1/tasks/5/close HTTP/1.1"
    ]


def test_a_read_that_timed_out_is_not_asked_again():
    with Listener("127.0.0.1", body=ME, hold=True) as core, pytest.raises(CoreUnavailable):
        CoreClient(core.url, timeout=0.3).whoami("a-token")
    assert core.accepted == 1 and len(core.requests) == 1
