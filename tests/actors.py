"""The actor tests name when they call a service directly, as an entry point would."""

from vinex.audit.unit import Actor

ACTOR = Actor.system("command:test")
