"""imcodes-gemini: Gemini CLI driver."""
