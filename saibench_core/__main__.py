"""``python -m saibench_core`` is the ``saibench`` command."""

from .cli import main

main()
