"""`python -m imcodes_server up|server|login-link` (the same commands `imcodes` gets through the plugin hook)."""

from imcodes_server.cli import make_cli

if __name__ == "__main__":
    make_cli()(prog_name="python -m imcodes_server")
