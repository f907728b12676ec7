"""``vinex serve``: the web server (gunicorn), configured from the environment."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser
from gunicorn.app.base import BaseApplication

from vinex.core.config import environment_check


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
        if settings.VINEX_SERVER == "granian":
            _granian(options)
            return
        _Gunicorn(
            {
                "bind": options["bind"],
                "workers": options["workers"],
                "threads": options["threads"],
                # One thread means gunicorn's sync workers, which take a request only when idle: the way to
                # spread CPU-bound work such as large event batches evenly over the processes. Threaded
                # workers keep each client's connection, so two busy clients can land on one process.
                "worker_class": "gthread" if options["threads"] > 1 else "sync",
                "timeout": 120,
                "graceful_timeout": 20,
                "accesslog": None,  # URLs of the locator carry search terms; Django logs what is safe
                "errorlog": "-",
                "loglevel": "warning",
            }
        ).run()


def _granian(options: dict[str, Any]) -> None:
    from granian.constants import Interfaces
    from granian.log import LogLevels
    from granian.server import Server

    host, _, port = str(options["bind"]).rpartition(":")
    Server(
        "vinex.wsgi:application",
        address=host,
        port=int(port),
        interface=Interfaces.WSGI,
        workers=options["workers"],
        blocking_threads=options["threads"],
        log_level=LogLevels.warning,
        log_access=False,
        workers_kill_timeout=20,
    ).serve()
