"""Answers kept in memory while a collection is unchanged: a phone asking the same
``calendar-query`` or ``PROPFIND`` of its 5,000 to-dos again costs one query (the sync token).

Small answers are kept too: a phone polls every few minutes with a ``PROPFIND`` of the
collection's ``getctag``/``sync-token`` and a ``sync-collection`` from the token it has, and
when nothing changed both answers are a few hundred bytes that took milliseconds to make (the
report's queries and the XML), many times what the sign-in and the sync token cost. Each entry
counts ``ENTRY_BYTES`` beyond its answer (its key and the dictionary's share), so that many
small answers stay within ``MAX_BYTES`` too.

The key holds the collection's sync token, which changes with every change of an object and
with everything else that decides the bytes (``store.Collections.sync_token``), and a digest
of the request (path, depth, body), so a kept answer is never stale. Nothing here is needed
by another instance: each process keeps its own, bounded by size, least recently used first.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

#: Bytes of answers kept per process.
MAX_BYTES = 64 * 1024 * 1024
#: What an entry costs beyond its answer's bytes: its key (about 100 characters) and its place
#: in the dictionary, rounded up.
ENTRY_BYTES = 256


class AnswerCache:
    def __init__(self, max_bytes: int = MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self.answers: OrderedDict[str, bytes] = OrderedDict()
        self.lock = threading.Lock()

    @staticmethod
    def key(user_id: int, token: str, *request: bytes | str) -> str:
        digest = hashlib.sha256()
        for part in request:
            digest.update(part if isinstance(part, bytes) else part.encode())
            digest.update(b"\0")
        return f"{user_id}:{token}:{digest.hexdigest()}"

    def get(self, key: str) -> bytes | None:
        with self.lock:
            answer = self.answers.get(key)
            if answer is not None:
                self.answers.move_to_end(key)
            return answer

    def put(self, key: str, answer: bytes) -> None:
        if len(answer) > self.max_bytes // 4:
            return
        with self.lock:
            if key in self.answers:
                return
            self.answers[key] = answer
            self.size += len(answer) + ENTRY_BYTES
            while self.size > self.max_bytes:
                _, dropped = self.answers.popitem(last=False)
                self.size -= len(dropped) + ENTRY_BYTES
