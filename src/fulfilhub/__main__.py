"""``python -m fulfilhub`` is the ``fulfilhub`` command."""

from .cli import main

main(prog_name="fulfilhub")
