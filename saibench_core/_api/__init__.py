"""The typed Python API, one module per stage; ``saibench_core`` re-exports it.

``plan`` (``plan.py``) selects and plans, ``run`` (``run.py``) executes and stores, ``rank``
and the results as a table (``rank.py``) read the store back; ``inputs.py`` checks every
argument before any work, for the API and the CLI alike.
"""
