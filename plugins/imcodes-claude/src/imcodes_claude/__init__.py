"""imcodes-claude: Claude Code driver and state detection."""
