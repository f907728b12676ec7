"""The ``vinex`` command: Django's management commands under the project's name."""

from __future__ import annotations

import io
import os
import sys


def _flush_each_line() -> None:
    """Write output line by line even into a pipe or a service manager's log.

    Python buffers stdout in blocks when it is not a terminal, so what a long-running command prints
    (``vinex up``'s addresses, a worker's progress) would sit in the buffer until it exits.
    """
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(line_buffering=True)


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vinex.settings")
    _flush_each_line()
    from django.core.management import execute_from_command_line

    execute_from_command_line(["vinex", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    main()
