"""Entry point of imcodes-codex (group `imcodes`)."""
