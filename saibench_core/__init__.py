"""saibench's engine: discovery, planner, compiler, executor, results, rankings, CLI.

Importing it is cheap: JAX is imported only by the stages that run models.
"""

__version__ = "0.1.0"
