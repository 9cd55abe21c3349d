"""Entry point of imcodes-openclaw (group `imcodes`)."""
