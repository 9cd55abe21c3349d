"""imcodes-codex: Codex driver."""
