"""Execution: isolated pods and campaigns. JAX is imported inside the pods only."""

from .campaign import run_campaign as run_campaign
from .isolate import PodOptions as PodOptions
from .isolate import run_isolated as run_isolated
from .isolate import run_pod as run_pod
from .key import run_key as run_key
