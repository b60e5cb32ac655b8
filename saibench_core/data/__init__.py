"""Datasets: what saibench computes about a problem's data, whatever the plugin says of it."""

from .checksum import dataset_checksum as dataset_checksum
from .setting import load_problem as load_problem
