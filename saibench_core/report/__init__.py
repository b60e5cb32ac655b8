"""The offline HTML report: leaderboards, plots and every run's details in one file
(``saibench report``). A plot kind is a function in ``kinds.PLOTS``."""

from .html import esc as esc
from .html import page as page
from .html import render as render
from .kinds import PLOTS as PLOTS
from .plots import Figure as Figure
from .plots import Material as Material
from .plots import Plot as Plot
from .plots import figures as figures
from .plots import require as require
