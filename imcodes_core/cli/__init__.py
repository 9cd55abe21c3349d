"""The ``imcodes`` command line."""


def main() -> None:
    raise SystemExit("imcodes CLI is being built")
