"""The inbox card of a user's new to-dos (``dav/writes.py``) is made once, however many
requests need it at the same moment."""

from __future__ import annotations

import contextlib
import threading
from typing import Any

from .test_dav_writes import new_object, put


def test_two_new_to_dos_at_the_same_moment_make_one_inbox_card(calendar, member, sales):
    """A phone syncing two new to-dos at once: both requests find no inbox card. Each request
    that asks core for a card waits (up to a second) for the other to ask too, so without the
    claim both would make one."""
    core = calendar.context.core
    make_card = core.create_card
    both_asking = threading.Barrier(2)

    def create_card(*args: Any, **kwargs: Any) -> dict:
        with contextlib.suppress(threading.BrokenBarrierError):
            both_asking.wait(timeout=1)
        return make_card(*args, **kwargs)

    core.create_card = create_card
    made: list[dict] = []
    failed: list[BaseException] = []

    def new_to_do(number: int) -> None:
        body = new_object(uid=f"phone-{number}@example.com", SUMMARY=f"To-do {number}")
        try:
            made.append(put(calendar, member, "tasks", None, body))
        except BaseException as error:  # reported by the assertion below
            failed.append(error)

    threads = [threading.Thread(target=new_to_do, args=(number,)) for number in (1, 2)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    finally:
        del core.create_card

    assert failed == [] and len(made) == 2
    assert made[0]["card_id"] == made[1]["card_id"]
    cards = member.ok("GET", f"products/{sales['id']}/cards")["items"]
    assert [card["title"] for card in cards].count("Calendar inbox") == 1
