"""Entry point of imcodes-memory (group `imcodes`)."""
