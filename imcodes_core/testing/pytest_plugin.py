"""pytest fixtures for imcodes plugins (registered through the pytest11 entry point)."""
