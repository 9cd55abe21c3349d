"""Entry point of imcodes-gemini (group `imcodes`)."""
