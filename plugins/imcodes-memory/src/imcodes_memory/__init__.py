"""imcodes-memory: shared memory: summarize, embed, recall, inject."""
