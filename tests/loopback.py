"""What the loopback fakes (the fixture sites, the fake Twilio and SOLAPI APIs) share: a server
run in a background thread on a free port, the log of what it received, in arrival order, and
(for the API fakes) a JSON answer that can be scripted to come late."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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


class ApiServer(ThreadingHTTPServer):
    """A loopback API fake's server: 127.0.0.1 on a free port, one thread per request, and a
    `stopping` event its late answers wait on, set when the server shuts down."""

    daemon_threads = True

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.stopping = threading.Event()

    def serve(self, name: str):
        """Serve in a background thread until the block ends; yields the base URL."""
        return serve_in_thread(self, name, before_shutdown=self.stopping.set)


def answer_json(handler: BaseHTTPRequestHandler, status: int, body: object, *, headers: dict[str, str] | None = None,
                delay: float = 0.0) -> None:
    """Answer `body` as JSON, after `delay` seconds when scripted late (not at all once the server
    is stopping: the client gave up long ago). A client that hung up meanwhile is no error."""
    stopping = getattr(handler.server, "stopping", None)
    if delay and stopping is not None and stopping.wait(delay):
        return
    payload = json.dumps(body, ensure_ascii=False).encode("utf-8")
    try:
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json; charset=utf-8")
        handler.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(payload)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the client timed out and closed the connection: the late answer has no reader
