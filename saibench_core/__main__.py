"""``python -m saibench_core`` is the ``saibench`` command."""

from .cli import main

if __name__ == "__main__":  # not when a pod's process start re-imports the main module
    main()
