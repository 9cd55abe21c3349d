"""Entry point of imcodes-qwen (group `imcodes`)."""
