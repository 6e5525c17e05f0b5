"""Fixtures for the store contract: one URL per test, for every kind of store.

``store_url`` names a fresh, empty log that several store objects (and, for
the durable stores, several processes) can open at once:

- ``memory``: ``memory:NAME``, kept alive for the test by a held store;
- ``sqlite``: a real file in ``tmp_path``;
- ``postgres``: its own schema in the server named by
  ``$SUPERNOVA_TEST_POSTGRES`` (default ``postgresql://postgres@127.0.0.1:5432/test``),
  dropped afterwards. Where no server answers the test is skipped with the
  reason — except under ``CI=true``, where that is a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from supernova_ledger.store import open_store

DEFAULT_TEST_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
ALL_STORES = ("memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres))
DURABLE_STORES = ("sqlite", pytest.param("postgres", marks=pytest.mark.postgres))


def with_schema(url: str, schema: str) -> str:
    """``url`` with its ``schema`` option set to ``schema``."""
    parts = urlsplit(url)
    query = [(key, value) for key, value in parse_qsl(parts.query) if key != "schema"]
    query.append(("schema", schema))
    return urlunsplit(parts._replace(query=urlencode(query)))


def _server_url(url: str) -> str:
    """The URL libpq understands: without our own options."""
    return urlunsplit(urlsplit(url)._replace(query=""))


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The test server's URL, or skip (fail under CI=true) when none answers."""
    url = os.environ.get("SUPERNOVA_TEST_POSTGRES") or DEFAULT_TEST_POSTGRES
    try:
        psycopg.connect(_server_url(url), connect_timeout=3).close()
    except psycopg.Error as error:
        reason = f"no PostgreSQL server answers at {url} ({str(error).strip().splitlines()[0]}); set SUPERNOVA_TEST_POSTGRES"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true: {reason}")
        pytest.skip(reason)
    return url


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A fresh schema of its own on the test server; dropped afterwards."""
    schema = f"t_{uuid.uuid4().hex[:16]}"
    yield with_schema(postgres_server, schema)
    with psycopg.connect(_server_url(postgres_server), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture
def sqlite_url(tmp_path: os.PathLike[str]) -> str:
    return f"sqlite:///{os.path.join(os.fspath(tmp_path), 'ledger.db')}"


def _store_url(kind: str, request: pytest.FixtureRequest) -> Iterator[str]:
    if kind == "memory":
        url = f"memory:{request.node.nodeid}-{uuid.uuid4().hex}"
        keeper = open_store(url)  # a named memory log lives while a store holds it
        yield url
        keeper.close()
    elif kind == "sqlite":
        yield request.getfixturevalue("sqlite_url")
    else:
        yield request.getfixturevalue("postgres_url")


@pytest.fixture(params=ALL_STORES)
def store_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh log on each kind of store (memory, sqlite, postgres)."""
    yield from _store_url(request.param, request)


@pytest.fixture(params=DURABLE_STORES)
def durable_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh log that other processes can open too (sqlite, postgres)."""
    yield from _store_url(request.param, request)
