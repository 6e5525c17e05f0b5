"""``export --format parquet`` and the Dask audit replay: same digest as ``Ledger.report()``.

Dask runs on a ``distributed.LocalCluster`` in this process (threads: light on
a 2-core machine). dask and pyarrow come with the ``test`` extra; without them
these tests skip with the reason, except under ``CI=true`` where they fail.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

if os.environ.get("CI") != "true":
    pytest.importorskip("pyarrow", reason="pyarrow is not installed: pip install -e '.[scale]'")
    pytest.importorskip("dask.dataframe", reason="dask is not installed: pip install -e '.[scale]'")
    pytest.importorskip("distributed", reason="dask.distributed is not installed: pip install -e '.[scale]'")

import pyarrow.parquet as pq
from distributed import Client, LocalCluster

from supernova_ledger import Ledger
from supernova_ledger.errors import CorruptLog, UsageError
from supernova_ledger.scale.dask_replay import replay_report
from supernova_ledger.scale.parquet import export_parquet, read_manifest

from scale_helpers import append_all, conformance_log

# dask's own Parquet reader calls a pandas API that pandas 3.1 deprecates: not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:The inplace keyword:DeprecationWarning")


@pytest.fixture(scope="module")
def dask_client() -> Iterator[Client]:
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as cluster:
        with Client(cluster) as client:
            yield client


def assert_replay_matches(out: str, url: str, queries: list[tuple[str | None, int | None, int | None]]) -> None:
    with Ledger.open(url) as ledger:
        for period, top, until in queries:
            expected = ledger.report(period=period, top=top, until=until)
            assert replay_report(out, period=period, top=top, until=until) == expected, (period, top, until)


@pytest.mark.postgres
def test_dask_replay_of_a_postgresql_export_gives_the_single_process_digest(
    postgres_url: str, sim_events: list[dict[str, Any]], tmp_path: Path, dask_client: Client
) -> None:
    append_all(postgres_url, sim_events)
    out = str(tmp_path / "export")
    events = export_parquet(postgres_url, out, rows_per_file=300)  # several parts per table: several partitions
    manifest = read_manifest(out)
    assert manifest["events"] == events and manifest["int64_safe"]
    assert manifest["tables"]["events"]["files"] == -(-events // 300)
    queries = [(None, None, None), ("2026-11", 1, None), ("2026-11-11", None, None), ("2026-12", 5, events // 3)]
    assert_replay_matches(out, postgres_url, queries)


def test_dask_replay_of_a_conformance_log(memory_url: str, tmp_path: Path, dask_client: Client) -> None:
    append_all(memory_url, conformance_log(6))
    out = str(tmp_path / "export")
    export_parquet(memory_url, out)
    queries: list[tuple[str | None, int | None, int | None]] = [
        (None, None, None), ("2026-12", 2, None), (None, 3, 100),
    ]
    assert_replay_matches(out, memory_url, queries)


def test_an_export_of_an_empty_log(memory_url: str, tmp_path: Path, dask_client: Client) -> None:
    out = str(tmp_path / "export")
    assert export_parquet(memory_url, out) == 0
    assert_replay_matches(out, memory_url, [(None, None, None)])


def test_a_tampered_export_is_found_by_the_chain(
    memory_url: str, sim_events: list[dict[str, Any]], tmp_path: Path, dask_client: Client
) -> None:
    append_all(memory_url, sim_events[:400])
    out = tmp_path / "export"
    export_parquet(memory_url, str(out))
    part = out / "events" / "part-00000.parquet"
    table = pq.read_table(part).to_pylist()
    table[10]["event"] = table[10]["event"].replace('"at":"2026', '"at":"2027', 1)
    pq.write_table(pq.read_table(part).from_pylist(table, schema=pq.read_table(part).schema), part)
    with pytest.raises(CorruptLog, match="position 11"):
        replay_report(str(out))


def test_export_and_replay_refuse_unusable_directories(memory_url: str, tmp_path: Path) -> None:
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "something").write_text("x")
    with pytest.raises(UsageError, match="not an empty directory"):
        export_parquet(memory_url, str(tmp_path / "full"))
    with pytest.raises(UsageError, match="manifest"):
        replay_report(str(tmp_path / "full"))
    out = tmp_path / "export"
    export_parquet(memory_url, str(out))
    manifest = json.loads((out / "manifest.json").read_text())
    (out / "manifest.json").write_text(json.dumps({**manifest, "int64_safe": False}))
    with pytest.raises(UsageError, match="overflow"):
        replay_report(str(out))


def test_the_core_import_pulls_in_neither_dask_nor_pyarrow() -> None:
    code = (
        "import sys, supernova_ledger, supernova_ledger.cli, supernova_ledger.scale.projection, "
        "supernova_ledger.scale.query\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed', 'pyarrow', 'pandas'))\n"
        "assert not heavy, heavy\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_cli_export_format_parquet(memory_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                   dask_client: Client) -> None:
    from supernova_ledger.cli import main

    append_all(memory_url, conformance_log(2))
    out = str(tmp_path / "export")
    assert main(["export", "--store", memory_url, "--format", "parquet", "--out", out]) == 0
    with Ledger.open(memory_url) as ledger:
        assert json.loads(capsys.readouterr().out) == {"events": ledger.position, "out": out}
        assert replay_report(out) == ledger.report()
    assert main(["export", "--store", memory_url, "--format", "parquet", "--out", out]) == 2
    assert main(["export", "--store", memory_url, "--format", "parquet"]) == 2
    assert "--out" in capsys.readouterr().err
