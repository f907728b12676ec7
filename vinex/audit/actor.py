"""Who is acting now, for audit entries written deep inside services."""

from __future__ import annotations


def current_actor() -> tuple[str, str]:
    """(actor, role) of the code running now: the signed-in staff member set by the staff gate, else
    ``system`` (the worker, commands). Public and agency requests name themselves explicitly."""
    from vinex.accounts.signals import current_actor as acting

    actor = acting.get()
    return actor, "staff" if actor.startswith("user:") else actor.split(":", 1)[0]
