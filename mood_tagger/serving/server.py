"""Run the service with uvicorn: in the foreground (serve) or in a thread (tests, bench)."""

from __future__ import annotations

import os
import socket
import threading
import time

import uvicorn

from mood_tagger.settings import Settings

def settings_env(settings: Settings) -> dict[str, str]:
    """The MOOD_TAGGER_* variables that rebuild these settings in another process."""
    return {f"MOOD_TAGGER_{key.upper()}": str(getattr(settings, key))
            for key in type(settings).model_fields if getattr(settings, key) is not None}


def serve(settings: Settings, *, access_log: bool = False) -> None:
    """Foreground server. With several workers, each process rebuilds Settings from the
    MOOD_TAGGER_* environment, so the CLI's settings are exported there first."""
    os.environ.update(settings_env(settings))
    uvicorn.run("mood_tagger.serving.app:create_app_from_env", factory=True,
                host=settings.host, port=settings.port, workers=settings.workers,
                access_log=access_log, log_level="info", timeout_graceful_shutdown=5)


class ThreadedServer:
    """A real uvicorn server on an ephemeral port, in a background thread."""

    def __init__(self, app, host: str = "127.0.0.1", port: int = 0):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        self.sock = sock
        self.host, self.port = sock.getsockname()[:2]
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
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
