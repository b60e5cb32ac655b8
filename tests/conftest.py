from __future__ import annotations

import pytest

from saibench_core.discovery import Catalog, load_catalog


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    """The installed plugins (bundled ones and the tutorial), with GPU/TPU absent here."""
    return load_catalog()
