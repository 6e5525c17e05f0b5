"""Children that a test interrupts with SIGINT (Ctrl-C)."""

from __future__ import annotations

import signal


def interruptible() -> None:
    """``preexec_fn`` for a child the test sends SIGINT: the default disposition.

    A shell without job control starts background commands with SIGINT
    ignored (``pytest … &``), children inherit that, and Python then installs
    no KeyboardInterrupt handler: the test would see the child run on to exit
    0 instead of being interrupted."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
