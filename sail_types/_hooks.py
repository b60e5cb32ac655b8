"""The pluggy marker plugin authors decorate their hook implementations with."""

import pluggy

PROJECT = "saibench"
hookimpl = pluggy.HookimplMarker(PROJECT)
hookspec = pluggy.HookspecMarker(PROJECT)
