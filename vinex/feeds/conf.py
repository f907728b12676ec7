"""Settings of the feeds app, read from the environment (imported by vinex.settings)."""
