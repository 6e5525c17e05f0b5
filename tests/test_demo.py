"""The demo end to end into SQLite, and the progress bar that accompanies long work."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from pathlib import Path

import pytest

from supernova_ledger.demo import run_demo
from supernova_ledger.ledger import Ledger
from supernova_ledger.progress import Progress
from supernova_ledger.simulate import Simulation

CLI = [sys.executable, "-m", "supernova_ledger"]
SMALL = {"seed": 7, "promoters": 40, "days": 10}


def demo(store: str, **options: int) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run_demo(store, out=out, err=err, **{**SMALL, **options})  # type: ignore[arg-type]
    return code, out.getvalue(), err.getvalue()


def test_demo_end_to_end_then_verify(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'demo.db'}"
    code, out, err = demo(store)
    assert code == 0, err
    sim = Simulation(SMALL["seed"], SMALL["promoters"], SMALL["days"])
    events = sum(1 for _ in sim.events())
    rejected = sum(sim.rejections_by_code().values())
    accepted = events - rejected - sim.redelivered
    assert out.startswith("Simulated programme: seed 7, 40 promoters, 10 days.\n")
    assert f"Sent {events:,} events: {accepted:,} accepted, {sim.redelivered:,} duplicates" in out
    for code_name, count in sim.rejections_by_code().items():
        assert any(line.split() == [code_name, str(count)] for line in out.splitlines())
    with Ledger.open(store) as ledger:
        assert ledger.position == accepted
        report = ledger.report()
    assert f"  log_head  {report['log_head']}" in out
    assert f"  digest    {report['digest']}" in out
    assert f"supernova-ledger verify --store {store}" in out
    assert "progress" not in err and "\r" not in err  # not a terminal: no bar
    # the compliance section comes from the rejection journal; the headline is explained
    assert "Most refused groups (top 5)" in out and "Most refused promoters and owners (top 5)" in out
    with Ledger.open(store) as ledger:
        orders = sum(1 for line in ledger.export() if b'"type":"OrderPlaced"' in line)
    assert f"  {orders:,} orders were placed in all." in out
    group_orders = sum(g.orders for g in report.groups.values())
    assert f"  {group_orders:,} of them were placed in a WeChat group" in out

    verified = subprocess.run([*CLI, "verify", "--store", store], capture_output=True, text=True)
    assert verified.returncode == 0, verified.stderr
    assert report["log_head"] in verified.stdout


def test_demo_next_steps_are_commands_that_work(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'demo.db'}"
    code, out, err = demo(store)
    assert code == 0, err
    steps = out[out.index("Next steps"):].splitlines()
    commands = [line.strip() for line in steps if line.startswith("    supernova-ledger ")]
    verbs = [command.split()[1] for command in commands]
    assert verbs == ["report", "explain", "statement", "verify", "ingest", "rejections"]
    with Ledger.open(store) as ledger:
        top = ledger.report().ranking[0].promoter_id
        month = ledger.daily()[-1].day[:7]
    assert f"supernova-ledger explain {top} --store {store} --format table" in commands
    assert f"supernova-ledger statement --period {month} --store {store} --format table" in commands
    events = tmp_path / "events.jsonl"
    events.write_bytes((Path(__file__).parent / "golden" / "spec_example_v2.jsonl").read_bytes())
    for command in commands:
        args = command.split()[1:]
        if args[0] == "rejections":
            args = args[: args.index(">")]
        done = subprocess.run([*CLI, *args], capture_output=True, text=True, cwd=tmp_path)
        assert done.returncode in ((0, 3) if args[0] == "ingest" else (0,)), (command, done.stderr)
        assert done.stdout or args[0] == "report"
    assert (tmp_path / "report.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_demo_twice_appends_nothing(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'demo.db'}"
    assert demo(store)[0] == 0
    with Ledger.open(store) as ledger:
        before = ledger.position, ledger.log_head
    code, out, _ = demo(store)
    assert code == 0
    assert "already holds" in out and "nothing was added" in out
    with Ledger.open(store) as ledger:
        assert (ledger.position, ledger.log_head) == before
        assert f"  log_head  {ledger.log_head}" in out


def test_demo_output_depends_only_on_seed_and_size(tmp_path: Path) -> None:
    first = demo(f"sqlite:///{tmp_path / 'a.db'}")[1].replace(str(tmp_path / "a.db"), "STORE")
    second = demo(f"sqlite:///{tmp_path / 'b.db'}")[1].replace(str(tmp_path / "b.db"), "STORE")
    assert first == second
    other = demo(f"sqlite:///{tmp_path / 'c.db'}", seed=8)[1].replace(str(tmp_path / "c.db"), "STORE")
    assert other != first


def test_demo_unusable_store_exits_2(tmp_path: Path) -> None:
    code, out, err = demo(f"sqlite:///{tmp_path / 'missing' / 'dir' / 'x.db'}")
    assert code == 2
    assert out == ""
    assert err.startswith("supernova-ledger demo: ") and err.count("\n") == 1


def test_demo_bad_size_exits_2() -> None:
    code, out, err = demo("memory:", promoters=-1)
    assert (code, out) == (2, "")
    assert "promoters" in err


def test_demo_shows_progress_on_request(tmp_path: Path) -> None:
    err = io.StringIO()
    run_demo("memory:", seed=1, promoters=30, days=6, out=io.StringIO(), err=err, progress=True)
    drawn = err.getvalue()
    assert "simulating" in plain(drawn)
    assert "100% 6/6 days" in plain(drawn)


def test_demo_from_the_command_line(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'cli.db'}"
    done = subprocess.run([*CLI, "demo", "--store", store, "--promoters", "20", "--days", "5"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "Top promoters by net GMV" in done.stdout
    assert "\r" not in done.stderr  # piped: quiet
    table = subprocess.run([*CLI, "report", "--store", store, "--format", "table"], capture_output=True, text=True)
    assert table.returncode == 0 and "City tiers" in table.stdout


def test_simulate_command_writes_the_generator_output(tmp_path: Path) -> None:
    from supernova_ledger.simulate import generate, write_jsonl

    path = tmp_path / "sim.jsonl"
    done = subprocess.run([*CLI, "simulate", "--seed", "3", "--promoters", "15", "--days", "4", "--out", str(path)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    expected = io.BytesIO()
    write_jsonl(generate(3, promoters=15, days=4), expected)
    assert path.read_bytes() == expected.getvalue()


# -- progress --------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def plain(drawn: str) -> str:
    """What a terminal shows: colour and cursor codes removed."""
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", drawn)


def test_progress_is_silent_when_not_a_terminal() -> None:
    stream = io.StringIO()
    with Progress(10, "work", stream) as bar:
        bar.advance(10)
    assert stream.getvalue() == ""


def test_progress_draws_on_a_terminal_with_eta_and_ends_the_line() -> None:
    stream, clock = FakeTTY(), FakeClock()
    with Progress(200, "ingest", stream, unit="lines", clock=clock) as bar:
        clock.now += 2
        bar.advance(50)
        clock.now += 2
        bar.advance(50)
    drawn = plain(stream.getvalue())
    assert "ingest" in drawn and " 25%  50/200 lines" in drawn and " 50% 100/200 lines" in drawn
    assert "0:00:04 0:00:04" in drawn  # elapsed, then the time left at 25 lines/s
    assert stream.getvalue().endswith("\n\x1b[?25h")  # the line ends, the cursor comes back


def test_progress_redraws_at_most_ten_times_a_second() -> None:
    stream, clock = FakeTTY(), FakeClock()
    bar = Progress(None, "rows", stream, unit="events", clock=clock)
    for _ in range(1000):
        bar.advance(1)
        clock.now += 0.001  # one second in all
    bar.close()
    bar.close()  # idempotent
    assert 9 <= stream.getvalue().count("\r") <= 13
    assert plain(stream.getvalue()).rstrip().endswith("rows 1,000 events  0:00:01")


def test_progress_note_and_escaped_markup() -> None:
    stream = FakeTTY()
    with Progress(None, "sim [bold]x[/bold]", stream, unit="days", clock=FakeClock()) as bar:
        bar.note = "1,234 events"
        bar.advance(3)
    drawn = plain(stream.getvalue())
    assert "sim [bold]x[/bold] 3 days 1,234 events" in drawn  # a label is text, never markup


@pytest.mark.parametrize("enabled", [True, False])
def test_progress_can_be_forced(enabled: bool) -> None:
    stream = io.StringIO()
    with Progress(1, "x", stream, enabled=enabled) as bar:
        bar.advance(1)
    assert bool(stream.getvalue()) is enabled
