"""Fixtures for the scale tests: inputs (simulated and conformance logs) and PostgreSQL schemas.

``postgres_url`` (a fresh schema per test, skipped with the reason where no
server answers, a failure under ``CI=true``) is the store contract's fixture,
imported rather than copied.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from contract.conftest import postgres_server, postgres_url  # noqa: F401  (fixtures, re-used)
from supernova_ledger.simulate import generate

from scale_helpers import SIM_DAYS, SIM_PROMOTERS, SIM_SEED


@pytest.fixture(scope="session")
def sim_events() -> list[dict[str, Any]]:
    return list(generate(SIM_SEED, promoters=SIM_PROMOTERS, days=SIM_DAYS))


@pytest.fixture
def memory_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A named in-memory log that lives for the test."""
    from supernova_ledger.store import open_store

    url = f"memory:scale-{request.node.nodeid}"
    keeper = open_store(url)
    yield url
    keeper.close()
