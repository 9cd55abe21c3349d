"""imcodes-openclaw: OpenClaw gateway transport."""
