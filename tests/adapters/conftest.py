"""The store fixtures of the contract suite (``durable_url``, ``store_url``), for the adapter tests."""

from contract.conftest import (  # noqa: F401 - fixtures
    durable_url,
    postgres_server,
    postgres_url,
    sqlite_url,
    store_url,
)
