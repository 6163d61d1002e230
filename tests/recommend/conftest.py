"""Fixtures of the recommender tests."""

from __future__ import annotations

import pytest
from recommend.planted import planted_blocks


@pytest.fixture
def blocks():
    return planted_blocks()
