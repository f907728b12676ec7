"""Who is acting now, for audit entries written deep inside services.

The staff gate (``vinex.accounts.middleware``) sets the signed-in staff member for the length of a
request; everything else (the worker, commands) acts as ``system``. Public and agency requests name
themselves explicitly.
"""

from __future__ import annotations

from contextvars import ContextVar

#: The actor reference of the request being served (``user:<id>``), or ``system``.
acting: ContextVar[str] = ContextVar("vinex_current_actor", default="system")


def current_actor() -> tuple[str, str]:
    """(actor, role) of the code running now."""
    actor = acting.get()
    return actor, "staff" if actor.startswith("user:") else actor.split(":", 1)[0]
