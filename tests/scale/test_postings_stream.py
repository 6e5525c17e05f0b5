"""One stream of postings for every reader: the Parquet export and the Dask audit.

Over random logs (``tests/strategies.py``, with closed months and back-dated
events) and random conformance logs with months closed: the Parquet export
holds the fold's postings with every SPEC §6.1 field, the exported postings
of a promoter add up to its balances (after any prefix), and the Dask replay
and the sharded views give the digest ``Ledger.report()`` gives. (The same
over the decisions and the in-memory views alone: ``test_decisions.py``.)
"""

from __future__ import annotations

import os
import random
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given
from strategies import ledger_logs

if os.environ.get("CI") != "true":
    pytest.importorskip("pyarrow", reason="pyarrow is not installed: pip install -e '.[scale]'")
    pytest.importorskip("dask.dataframe", reason="dask is not installed: pip install -e '.[scale]'")
    pytest.importorskip("distributed", reason="dask.distributed is not installed: pip install -e '.[scale]'")

import pyarrow.parquet as pq
from distributed import Client, LocalCluster

from supernova_ledger import Ledger
from supernova_ledger.domain.postings import POSTING_KEYS, Posting, sum_postings
from supernova_ledger.scale.dask_replay import replay_report
from supernova_ledger.scale.parquet import POSTING_COLUMNS, export_parquet
from supernova_ledger.scale.query import sharded_report

from conformance.generator import generate as conformance_lines
from scale_helpers import append_all, conformance_log, decisions_of, shard_views, with_closings

# dask's own Parquet reader calls a pandas API that pandas 3.1 deprecates: not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:The inplace keyword:DeprecationWarning")

SPEC_V2_EXAMPLE = Path(__file__).parents[1] / "golden" / "spec_example_v2.jsonl"


def balances_of(report: dict[str, Any]) -> dict[str, dict[str, int]]:
    names = ("pending_fen", "available_fen", "in_payout_fen", "paid_out_fen", "level1_fen", "level2_fen")
    return {pid: {name: entry[name] for name in names} for pid, entry in report["promoters"].items()}


def posting_sums(postings: list[Posting]) -> dict[str, dict[str, int]]:
    by_promoter: dict[str, list[Posting]] = {}
    for posting in postings:
        by_promoter.setdefault(posting.promoter_id, []).append(posting)
    return {pid: sum_postings(listed).as_dict() for pid, listed in by_promoter.items()}


def assert_postings_are_the_books(ledger: Ledger, postings: list[Posting], until: int | None = None) -> None:
    """Every promoter's balances (after ``until`` events) are the sum of its postings (zero: none)."""
    balances = balances_of(ledger.report(until=until))
    sums = posting_sums(postings)
    assert set(sums) <= set(balances)
    for pid, expected in balances.items():
        assert sums.get(pid, dict.fromkeys(expected, 0)) == expected, pid


def exported_postings(out: str, until: int | None = None) -> list[Posting]:
    """The ``postings`` table of an export, back as Posting values, in export order."""
    rows = pq.read_table(str(Path(out) / "postings")).to_pylist()
    return [msgspec.convert(row, Posting) for row in rows if until is None or row["position"] <= until]


def test_the_postings_table_has_every_spec_field_and_promoter_id(memory_url: str, tmp_path: Path) -> None:
    append_all(memory_url, SPEC_V2_EXAMPLE.read_text(encoding="utf-8").splitlines())
    out = str(tmp_path / "export")
    export_parquet(memory_url, out)
    table = pq.read_table(str(Path(out) / "postings"))
    assert set(table.column_names) == {*POSTING_KEYS, "promoter_id"} and table.column_names == list(POSTING_COLUMNS)
    with Ledger.open(memory_url) as ledger:
        for promoter in ("A", "B"):
            listed = [{key: row[key] for key in POSTING_KEYS} for row in table.to_pylist()
                      if row["promoter_id"] == promoter]
            assert listed == ledger.explain(promoter)["postings"]  # SPEC §6.1, field for field
        assert {row["book"] for row in table.to_pylist()} == {"2026-11", "2026-12"}  # e14 booked after the close


@given(ledger_logs())
def test_exported_postings_add_up_to_the_balances_over_random_logs(log: list[dict[str, Any]]) -> None:
    url = f"memory:postings-{uuid.uuid4().hex}"  # named: the export opens it while this ledger holds it
    with Ledger.open(url) as ledger, tempfile.TemporaryDirectory() as directory:
        for event in log:
            ledger.append(event)
        out = str(Path(directory) / "export")
        export_parquet(url, out)
        assert_postings_are_the_books(ledger, exported_postings(out))
        half = ledger.position // 2
        assert_postings_are_the_books(ledger, exported_postings(out, half), until=half)


@pytest.fixture(scope="module")
def dask_client() -> Iterator[Client]:
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as cluster:
        with Client(cluster) as client:
            yield client


@pytest.mark.parametrize(("seed", "v2"), [(1, False), (4, False), (9, True), (12, True)])
def test_dask_replay_and_exported_postings_over_random_logs_with_closed_months(
    seed: int, v2: bool, memory_url: str, tmp_path: Path, dask_client: Client
) -> None:
    """v1 conformance logs with months closed in, and v2 ones (closings, back-dated corrections)."""
    append_all(memory_url, conformance_lines(seed, 600, v2=True) if v2 else with_closings(conformance_log(seed)))
    out = str(tmp_path / "export")
    events = export_parquet(memory_url, out, rows_per_file=200)  # several parts: several partitions
    with Ledger.open(memory_url) as ledger:
        decisions = decisions_of(ledger)
        assert exported_postings(out) == [p for d in decisions for p in d.postings]  # the fold's, in log order
        for until in (None, events // 3):
            assert_postings_are_the_books(ledger, exported_postings(out, until), until=until)
            for period, top in ((None, None), ("2026-12", 2)):
                expected = ledger.report(period=period, top=top, until=until)
                assert replay_report(out, period=period, top=top, until=until) == expected
                if until is None:
                    assert sharded_report(shard_views(decisions, 3, seed=seed), period=period, top=top) == expected
