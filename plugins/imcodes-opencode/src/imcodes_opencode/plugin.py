"""Entry point of imcodes-opencode (group `imcodes`)."""
