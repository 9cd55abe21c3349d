"""Entry point of imcodes-claude (group `imcodes`)."""
