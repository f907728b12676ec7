"""The tamper-evident audit log: ``vinex.audit.services`` appends, ``vinex.audit.verify`` checks."""
