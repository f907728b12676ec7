"""Settings of the portal app, read from the environment (imported by vinex.settings)."""
