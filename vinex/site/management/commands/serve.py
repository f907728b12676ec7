"""``vinex serve``: the web server, configured from the environment.

Two HTTP servers run the same WSGI application (``vinex.wsgi``):

- granian (threads > 1, the default): HTTP is parsed and connections are kept in Rust, and each process
  runs the application on ``--threads`` threads. A single-event POST costs noticeably less server CPU
  than under gunicorn's threaded workers, whose HTTP parsing and thread hand-offs are Python.
- gunicorn's sync workers (``--threads 1``): a process takes a request only when idle, the way to spread
  CPU-bound work such as large event batches evenly over the processes (granian accepts connections in
  every process and queues their requests for its threads, so two busy clients can land on one process).

``VINEX_SERVER`` picks one whatever the thread count ("gunicorn" with threads > 1 is its gthread worker).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser
from gunicorn.app.base import BaseApplication

from vinex.core.config import environment_check

GRACEFUL_SECONDS = 20  # what a stopping server gives the requests under way


class _Gunicorn(BaseApplication):
    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        # Loaded by gunicorn when it asks (in each worker after the fork, unless preloading), not when
        # this command is imported.
        from vinex.wsgi import application

        return application


def server_for(*, threads: int, choice: str) -> str:
    """The HTTP server to run: ``choice`` (VINEX_SERVER) when set, else by the thread count."""
    if choice:
        return choice
    return "granian" if threads > 1 else "gunicorn"


class Command(BaseCommand):
    help = "Run the web server."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--bind", default=settings.VINEX_BIND)
        parser.add_argument("--workers", type=int, default=settings.VINEX_SERVER_WORKERS)
        parser.add_argument("--threads", type=int, default=settings.VINEX_SERVER_THREADS)

    def handle(self, *args: Any, **options: Any) -> None:
        try:  # --bind may name another address than VINEX_BIND, which the settings checked
            environment_check(env_set=settings.VINEX_ENV_SET, env=settings.VINEX_ENV, debug=settings.DEBUG,
                              bind=options["bind"])
        except ImproperlyConfigured as error:
            raise CommandError(str(error)) from None
        if options["workers"] < 1 or options["threads"] < 1:
            raise CommandError("--workers and --threads must be at least 1")
        if server_for(threads=options["threads"], choice=settings.VINEX_SERVER) == "granian":
            _granian_run(bind=options["bind"], workers=options["workers"], threads=options["threads"])
            return
        _Gunicorn(
            {
                "bind": options["bind"],
                "workers": options["workers"],
                "threads": options["threads"],
                "worker_class": "gthread" if options["threads"] > 1 else "sync",
                "timeout": 120,
                "graceful_timeout": GRACEFUL_SECONDS,
                "accesslog": None,  # URLs of the locator carry search terms; Django logs what is safe
                "errorlog": "-",
                "loglevel": "warning",
            }
        ).run()


# --- granian ------------------------------------------------------------------------------------------


def granian_address(bind: str) -> dict[str, Any]:
    """gunicorn's ``--bind`` forms (``host:port``, ``[::1]:port``, ``unix:/path``) as granian's arguments."""
    if bind.startswith("unix:"):
        return {"uds": Path(bind.removeprefix("unix:"))}
    host, separator, port = bind.rpartition(":")
    if not separator or not port.isdigit():
        raise CommandError(f"--bind {bind!r}: expected host:port or unix:/path")
    return {"address": host.removeprefix("[").removesuffix("]") or "127.0.0.1", "port": int(port)}


def _granian_run(*, bind: str, workers: int, threads: int) -> None:
    from granian.constants import Interfaces
    from granian.log import LogLevels
    from granian.server import Server

    Server(
        f"{__name__}:granian_application",
        factory=True,  # called in each granian process, after it started
        interface=Interfaces.WSGI,
        workers=workers,
        blocking_threads=threads,
        # Threads (and their database connections) stay while the server is up rather than being
        # started anew after every quiet half-minute.
        blocking_threads_idle_timeout=600,
        log_level=LogLevels.warning,
        log_access=False,  # URLs of the locator carry search terms; Django logs what is safe
        workers_kill_timeout=GRACEFUL_SECONDS,
        respawn_failed_workers=True,  # a process that died is replaced, as gunicorn does
        **granian_address(bind),
    ).serve()


def granian_application() -> Callable[..., Iterable[bytes]]:
    """The WSGI application as a granian process runs it."""
    from vinex.wsgi import application

    return request_only(application, os.environ.keys())


# The names a request's environ carries whatever the process environment holds (PEP 3333's CGI variables).
_REQUEST_KEYS = frozenset({
    "REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "CONTENT_TYPE", "CONTENT_LENGTH",
    "SERVER_NAME", "SERVER_PORT", "SERVER_PROTOCOL", "SERVER_SOFTWARE", "REMOTE_ADDR", "REMOTE_PORT",
    "GATEWAY_INTERFACE",
})


def request_only(app: Callable[..., Iterable[bytes]], inherited: Iterable[str]) -> Callable[..., Iterable[bytes]]:
    """``app`` seeing only the request in its environ.

    granian starts every request's environ from a copy of the process environment, so ``request.META``
    would hold VINEX_SECRET_KEY, the field keys and the providers' tokens for any error report or debug
    page to show, and an ``HTTP_PROXY`` variable would read as a header the client sent. The names the
    process inherited are dropped, as gunicorn never adds them.
    """
    drop = tuple(frozenset(inherited) - _REQUEST_KEYS)

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        for key in drop:
            environ.pop(key, None)
        return app(environ, start_response)

    return application
