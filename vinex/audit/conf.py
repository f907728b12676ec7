"""Settings of the audit app, read from the environment (imported by vinex.settings)."""
