"""Crash safety: ``kill -9`` a long ingest, reopen, verify, finish it.

What the ingest has *acknowledged* is what its store has committed: the test
watches the store from outside while the ingest runs, and every record it
saw committed must be there, unchanged, after the kill.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest

from supernova_ledger import Ledger
from supernova_ledger.cli import INGEST_BATCH
from supernova_ledger.store import open_store

from contract_helpers import cli_command, programme, run_cli, write_jsonl

PROMOTERS = 3_000  # ≈ 31,000 events: seven ingest batches, so the kill lands mid-ingest


@pytest.fixture(scope="module")
def long_log(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object]]:
    """The file, and what one clean, uninterrupted ingest of it gives."""
    path = tmp_path_factory.mktemp("crash") / "long.jsonl"
    write_jsonl(path, programme(PROMOTERS))
    lines = [line for line in path.read_bytes().splitlines() if line.strip()]
    assert len(lines) > 2 * INGEST_BATCH
    with Ledger.open("memory:") as clean:
        outcomes = [o for i in range(0, len(lines), INGEST_BATCH) for o in clean.append_batch(lines[i : i + INGEST_BATCH])]
        expected = {
            "events": [record.event for record in clean.store.read()],
            "log_head": clean.log_head,
            "rejected": sum(o.status == "rejected" for o in outcomes),
        }
    return path, expected


@pytest.mark.slow
def test_a_killed_ingest_loses_nothing_it_acknowledged_and_a_rerun_completes_it(
    durable_url: str, long_log: tuple[Path, dict[str, object]]
) -> None:
    path, expected = long_log
    events = expected["events"]
    assert isinstance(events, list)

    ingest = subprocess.Popen(cli_command("ingest", str(path), store=durable_url),
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        with open_store(durable_url) as watcher:
            deadline = time.monotonic() + 60
            acknowledged = watcher.head()
            while acknowledged[0] < INGEST_BATCH:  # at least one batch committed
                assert ingest.poll() is None, f"ingest ended before the kill: {ingest.stderr and ingest.stderr.read()!r}"
                assert time.monotonic() < deadline, "ingest committed nothing within 60 s"
                time.sleep(0.005)
                acknowledged = watcher.head()
            time.sleep(random.uniform(0, 0.2))  # somewhere inside a later batch
            assert ingest.poll() is None, "ingest ended before the kill: make the log longer"
            os.kill(ingest.pid, signal.SIGKILL)
    finally:
        ingest.kill()
        ingest.wait(timeout=30)
    assert ingest.returncode == -signal.SIGKILL

    # The store opens, holds everything acknowledged, and nothing half-written.
    with open_store(durable_url) as store:
        stored_position, _ = store.head()
        assert acknowledged[0] <= stored_position < len(events)
        record = store.record_at(acknowledged[0])
        assert record is not None and record.head == acknowledged[1]
        assert [r.event for r in store.read()] == events[:stored_position]
    verified = run_cli("verify", store=durable_url)
    assert verified.returncode == 0, verified.stderr

    # Running the ingest again completes it: the stored part comes back as duplicates.
    rerun = run_cli("ingest", str(path), store=durable_url)
    assert json.loads(rerun.stdout) == {
        "accepted": len(events) - stored_position,
        "duplicates": stored_position,
        "rejected": expected["rejected"],
    }
    with open_store(durable_url) as store:  # the same log, to the last head, as one clean ingest
        assert store.head() == (len(events), expected["log_head"])
