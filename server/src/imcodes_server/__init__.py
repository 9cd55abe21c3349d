"""imcodes server."""
