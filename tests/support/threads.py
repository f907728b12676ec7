"""Work run side by side in threads, each on its own database connection, as separate requests are."""

from __future__ import annotations

import threading
from collections.abc import Callable

from django.db import connection


def on_own_connections(work: Callable[[int], None], count: int) -> None:
    """Run ``work(0)`` … ``work(count - 1)`` each in a thread of its own and wait for all of them; then raise
    what any of them raised (a thread cannot fail the test itself). Each closes its connection when done."""
    errors: list[BaseException] = []

    def run(position: int) -> None:
        try:
            work(position)
        except BaseException as error:  # surfaced below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(position,)) for position in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
