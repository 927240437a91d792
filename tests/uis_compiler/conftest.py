"""Fixtures shared by the uis_compiler tests."""

from __future__ import annotations

import pytest
from uis_docs import EXAMPLES


@pytest.fixture
def polygon_text() -> str:
    return (EXAMPLES / "polygon_stock_daily_bars.yaml").read_text()
