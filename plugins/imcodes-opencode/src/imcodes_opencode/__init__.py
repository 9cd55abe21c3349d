"""imcodes-opencode: OpenCode driver."""
