"""Settings of the hotline app, read from the environment (imported by vinex.settings)."""
