"""What the loopback fakes (the fixture sites, the fake Twilio API) share: a server run in a
background thread on a free port, and the log of what it received, in arrival order."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import ThreadingHTTPServer
from typing import Generic, TypeVar

T = TypeVar("T")


class RequestLog(Generic[T]):
    """Requests in arrival order; safe to add to from the servers' threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: list[T] = []

    def add(self, request: T) -> None:
        with self._lock:
            self._requests.append(request)

    def snapshot(self) -> list[T]:
        with self._lock:
            return list(self._requests)


@contextmanager
def serve_in_thread(
    server: ThreadingHTTPServer, name: str, *, before_shutdown: Callable[[], None] | None = None
) -> Iterator[str]:
    """Serve `server` (bound to 127.0.0.1, port 0) until the block ends; yields its origin."""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=name, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        if before_shutdown:
            before_shutdown()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
