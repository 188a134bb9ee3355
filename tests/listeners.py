"""Listeners of the outbound guard's tests: TCP servers on loopback addresses (Linux answers
every 127.x.y.z without set-up) that count the connections they accept, so a test shows that
nothing connected, and answer each request with a fixed HTTP answer or raw bytes."""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType


class Listener:
    """Accepts connections on ``host`` and answers every request the same way.

    ``status``/``headers``/``body`` make an HTTP answer; ``raw`` is sent instead, as it is
    (a service that speaks something else). ``drop`` requests are read and their connection
    closed with no answer (a server ending a kept-alive connection), the rest answered;
    with ``hold`` none is answered (a server too slow for the client's time-out).
    ``accepted`` counts the connections accepted, ``requests`` keeps the head of each request
    received (its request line and headers).
    """

    def __init__(
        self,
        host: str = "127.0.0.2",
        *,
        port: int = 0,
        status: int = 200,
        headers: dict[str, str] | None = None,
        body: bytes = b"",
        raw: bytes | None = None,
        drop: int = 0,
        hold: bool = False,
    ) -> None:
        self.host = host
        self.drop, self.hold = drop, hold
        self.status, self.headers, self.body, self.raw = status, headers or {}, body, raw
        self.accepted = 0
        self.requests: list[str] = []
        self._server = socket.create_server((host, port))
        self.port = self._server.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def __enter__(self) -> Listener:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        with contextlib.suppress(OSError):  # wakes the thread waiting in accept()
            self._server.shutdown(socket.SHUT_RDWR)
        self._server.close()
        self._thread.join(5)

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self._server.accept()
            except OSError:
                return  # closed
            self.accepted += 1
            threading.Thread(target=self._answer, args=(connection,), daemon=True).start()

    def _answer(self, connection: socket.socket) -> None:
        with connection:
            connection.settimeout(5)
            try:
                if self.raw is not None:
                    connection.sendall(self.raw)
                    return
                while True:
                    head = self._read_request(connection)
                    if head is None:
                        return
                    self.requests.append(head)
                    if len(self.requests) <= self.drop:
                        return
                    if self.hold:
                        continue
                    connection.sendall(self._answer_bytes())
            except OSError:
                return

    @staticmethod
    def _read_request(connection: socket.socket) -> str | None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = connection.recv(65536)
            if not chunk:
                return None
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        text = head.decode("latin-1")
        length = 0
        for line in text.split("\r\n")[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip())
        while len(rest) < length:
            chunk = connection.recv(65536)
            if not chunk:
                break
            rest += chunk
        return text

    def _answer_bytes(self) -> bytes:
        lines = [f"HTTP/1.1 {self.status} Whatever"]
        headers = {"Content-Length": str(len(self.body)), **self.headers}
        lines += [f"{name}: {value}" for name, value in headers.items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + self.body


def closed_port(host: str = "127.0.0.2") -> int:
    """A port nothing listens on at ``host``."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


class FakeNames:
    """Host names resolved as a test says, each to a list of addresses in turn (the last one
    stays): ``names["hooks.example"] = ["93.184.216.34", "127.0.0.2"]`` answers the public
    address once and the loopback one afterwards, as DNS rebinding does. Other names resolve
    as usual. Install with ``monkeypatch.setattr(socket, "getaddrinfo", names.getaddrinfo)``.
    """

    def __init__(self) -> None:
        self.answers: dict[str, list[str]] = {}
        self._real = socket.getaddrinfo

    def __setitem__(self, name: str, addresses: list[str]) -> None:
        self.answers[name] = list(addresses)

    def getaddrinfo(self, host, port, family=0, type=0, proto=0, flags=0):  # noqa: A002
        name = host.decode() if isinstance(host, bytes) else host
        queue = self.answers.get(name)
        if not queue:
            return self._real(host, port, family, type, proto, flags)
        address = queue.pop(0) if len(queue) > 1 else queue[0]
        return self._real(address, port, family, type, proto, flags)
