"""Settings of the locator app, read from the environment (imported by vinex.settings)."""
