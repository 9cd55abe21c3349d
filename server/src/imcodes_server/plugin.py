"""Entry point of imcodes-server (group `imcodes`): contributes the `imcodes up` and `imcodes server` commands."""
