"""Run the service with uvicorn: in the foreground (serve) or in a thread (tests, bench)."""

from __future__ import annotations

import os
import socket
import threading
import time

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from mood_tagger.settings import Settings

def wait_until_healthy(url: str, timeout_s: float = 60.0) -> None:
    """Poll `url`/healthz until it answers 200 (a server starting in another process)."""
    import httpx
    give_up = time.monotonic() + timeout_s
    while time.monotonic() < give_up:
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url}/healthz did not answer 200 within {timeout_s:.0f} s")


def settings_env(settings: Settings) -> dict[str, str]:
    """The MOOD_TAGGER_* variables that rebuild these settings in another process."""
    return {f"MOOD_TAGGER_{key.upper()}": str(getattr(settings, key))
            for key in type(settings).model_fields if getattr(settings, key) is not None}


def serve(settings: Settings, *, access_log: bool = False) -> None:
    """Foreground server. With several workers, each process rebuilds Settings from the
    MOOD_TAGGER_* environment, so the CLI's settings are exported there first."""
    os.environ.update(settings_env(settings))
    os.environ.pop("MOOD_TAGGER_API_KEY_FILE", None)    # the key itself travels, read once
    uvicorn.run("mood_tagger.serving.app:create_app_from_env", factory=True,
                host=settings.host, port=settings.port, workers=settings.workers,
                access_log=access_log, log_level="info", **connection_limits(settings))


class IdleTimeoutH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, with the keep-alive timeout also on a new connection that has
    not sent a byte yet (uvicorn starts it only after a first response), so idle sockets
    are closed after `keep_alive_s` instead of being held for ever (issue 8)."""

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self.timeout_keep_alive_task = self.loop.call_later(self.timeout_keep_alive,
                                                            self.timeout_keep_alive_handler)


def connection_limits(settings: Settings) -> dict:
    """uvicorn's guards against abuse (issue 8): header size (h11 answers 400 past it, before
    any header is parsed into the app), open connections (503 past it), idle keep-alive
    timeout, and time for in-flight requests at SIGTERM (they finish or get their fallback
    tag: every deadline is far shorter than this).

    `--workers N`: uvicorn's supervisor owns the socket; its workers exit when they see the
    parent gone (uvicorn checks it), but a `kill -9` of the parent can leave them serving
    the port for a while; run one worker per process under systemd or docker instead
    (deploy/), or stop the whole process group (`kill -- -PGID`)."""
    return {"http": IdleTimeoutH11Protocol, "h11_max_incomplete_event_size": settings.max_header_bytes,
            "limit_concurrency": settings.limit_connections,
            "timeout_keep_alive": settings.keep_alive_s,
            "timeout_graceful_shutdown": settings.graceful_shutdown_s}


class ThreadedServer:
    """A real uvicorn server on an ephemeral port, in a background thread."""

    def __init__(self, app, host: str = "127.0.0.1", port: int = 0,
                 settings: Settings | None = None):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        self.sock = sock
        self.host, self.port = sock.getsockname()[:2]
        limits = connection_limits(settings) if settings is not None else {}
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on", **limits)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]},
                                       daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def __enter__(self) -> "ThreadedServer":
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()
