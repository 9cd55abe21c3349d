"""``python -m imcodes_core.cli``: the same as the ``imcodes`` command."""

from imcodes_core.cli import main

main()
