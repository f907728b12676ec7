"""Settings of the accounts app, read from the environment (imported by vinex.settings)."""
