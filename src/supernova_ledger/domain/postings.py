"""Postings: every fen that moves, with where it came from (SPEC §6.1).

The fold decides once and says what it decided: each accepted event that
moves money yields :class:`Posting` values, and the fold changes balances only
by applying them (:func:`apply_posting`). Every reader — explain, statements,
the report's balances, the sharded views, the Parquet export and the Dask
audit — consumes the same postings instead of deriving them again.

A posting names one promoter, one ``amount_fen`` > 0 and one ``kind``:

=============  ===============  ==============================================
kind           made by          moves
=============  ===============  ==============================================
``earn``       OrderPlaced      → pending (and level1/level2 +)
``clawback``   OrderRefunded    pending or available → (and level1/level2 −)
``settle``     SettlementRun    pending → available
``payout``     PayoutRequested  available → in_payout
``paid``       PayoutSettled    in_payout → paid_out
``returned``   PayoutFailed     in_payout → available
=============  ===============  ==============================================
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Final, Literal

import msgspec

from ..errors import InvariantViolation
from .state import Balances

__all__ = [
    "Posting",
    "PostingKind",
    "BalanceName",
    "KINDS",
    "Balances",
    "EFFECTS",
    "ends",
    "post",
    "apply_posting",
    "check_identity",
    "check_nonnegative",
    "sum_postings",
    "Tally",
    "posting_dict",
    "POSTING_KEYS",
    "next_month",
]

PostingKind = Literal["earn", "clawback", "settle", "payout", "paid", "returned"]
BalanceName = Literal["pending", "available", "in_payout", "paid_out"]
KINDS: Final = ("earn", "clawback", "settle", "payout", "paid", "returned")


class Posting(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=False):
    """One money movement of one promoter, with its provenance (SPEC §6.1)."""

    promoter_id: str
    position: int  #: position of the event that made it
    event_id: str
    at: str  #: canonical ``at`` of that event
    book: str  #: booking period ``YYYY-MM``
    kind: PostingKind
    level: int | None = None  #: 1 or 2 for earn, clawback, settle
    order_id: str | None = None
    sku: str | None = None  #: earn and clawback
    rate_bps: int | None = None  #: the line's frozen rate at ``level``
    base_fen: int | None = None  #: paid_fen (earn) or the refunded amount_fen (clawback)
    payout_id: str | None = None
    from_: BalanceName | None = msgspec.field(name="from", default=None)
    to: BalanceName | None = None
    amount_fen: int


#: The keys of a posting as SPEC §6.1 shows it (explain): all but ``promoter_id``.
POSTING_KEYS: Final = tuple(
    field.encode_name for field in msgspec.structs.fields(Posting) if field.name != "promoter_id"
)


def posting_dict(posting: Posting) -> dict[str, Any]:
    """The SPEC §6.1 object of a posting (every key, ``null`` where it does not apply)."""
    return {
        "position": posting.position,
        "event_id": posting.event_id,
        "at": posting.at,
        "book": posting.book,
        "kind": posting.kind,
        "level": posting.level,
        "order_id": posting.order_id,
        "sku": posting.sku,
        "rate_bps": posting.rate_bps,
        "base_fen": posting.base_fen,
        "payout_id": posting.payout_id,
        "from": posting.from_,
        "to": posting.to,
        "amount_fen": posting.amount_fen,
    }


def _earn(target: Any, amount: int, level: int | None, source: str | None) -> None:
    target.pending_fen += amount
    if level == 1:
        target.level1_fen += amount
    elif level == 2:
        target.level2_fen += amount
    else:
        _bad("earn", "level", level)


def _clawback(target: Any, amount: int, level: int | None, source: str | None) -> None:
    if source == "pending":
        target.pending_fen -= amount
    elif source == "available":
        target.available_fen -= amount
    else:
        _bad("clawback", "from", source)
    if level == 1:
        target.level1_fen -= amount
    elif level == 2:
        target.level2_fen -= amount
    else:
        _bad("clawback", "level", level)


def _settle(target: Any, amount: int, level: int | None, source: str | None) -> None:
    target.pending_fen -= amount
    target.available_fen += amount


def _payout(target: Any, amount: int, level: int | None, source: str | None) -> None:
    target.available_fen -= amount
    target.in_payout_fen += amount


def _paid(target: Any, amount: int, level: int | None, source: str | None) -> None:
    target.in_payout_fen -= amount
    target.paid_out_fen += amount


def _returned(target: Any, amount: int, level: int | None, source: str | None) -> None:
    target.in_payout_fen -= amount
    target.available_fen += amount


def _bad(kind: str, field: str, value: object) -> None:
    raise InvariantViolation(f"a {kind} posting cannot have {field} {value!r}")


Effect = Callable[[Any, int, "int | None", "str | None"], None]

#: What each kind of posting does to the six balances: the ONE place a posting's effect is
#: written (the fold, statements and :func:`sum_postings` all apply postings through it).
#: kind -> (from, to, effect(target, amount_fen, level, from)); ``from``/``to`` are the balances
#: the kind moves between (None: none; "*": as the posting says — a clawback takes from pending
#: or available); earn and clawback also add to / take from level1 or level2 by the level.
EFFECTS: Final[dict[str, tuple[BalanceName | Literal["*"] | None, BalanceName | None, Effect]]] = {
    "earn": (None, "pending", _earn),
    "clawback": ("*", None, _clawback),
    "settle": ("pending", "available", _settle),
    "payout": ("available", "in_payout", _payout),
    "paid": ("in_payout", "paid_out", _paid),
    "returned": ("in_payout", "available", _returned),
}
_APPLY: Final = {kind: effect for kind, (_, _, effect) in EFFECTS.items()}
_ENDS: Final = {kind: (source, destination) for kind, (source, destination, _) in EFFECTS.items()}


def ends(kind: str, source: BalanceName | None) -> tuple[BalanceName | None, BalanceName | None]:
    """A posting's ``from`` and ``to`` (:data:`EFFECTS`); ``source`` is a clawback's ``from``."""
    start, end = _ENDS[kind]
    return (source if start == "*" else start), end


def post(
    target: Any, kind: str, amount_fen: int, level: int | None, source: str | None, promoter_id: str | None = None
) -> None:
    """Apply one movement to an object with the six ``*_fen`` balance attributes (see :data:`EFFECTS`).

    Checks that the amount is positive and that the SPEC §6 identity still
    holds after the move (on under ``-O``; no message is built unless it fails)."""
    if amount_fen <= 0:
        raise InvariantViolation(f"a {kind} posting of {amount_fen} fen: amount_fen is not positive")
    _APPLY[kind](target, amount_fen, level, source)
    if (
        target.pending_fen + target.available_fen + target.in_payout_fen + target.paid_out_fen
        != target.level1_fen + target.level2_fen
    ):
        check_identity(target, promoter_id if promoter_id is not None else getattr(target, "promoter_id", "?"))


def apply_posting(target: Any, posting: Posting) -> None:
    """Apply one posting (:func:`post` of its kind, amount, level and ``from``).

    The fold applies postings to its promoters so; statements and the
    tables' checks add them up first (:class:`Tally`) and apply each effect
    once, with the same result. The fold also checks that no balance but
    ``available`` went negative (:func:`check_nonnegative`) — a statement's
    opening balances, a sum over the months before, need not satisfy that."""
    post(target, posting.kind, posting.amount_fen, posting.level, posting.from_, posting.promoter_id)


def check_identity(target: Any, promoter_id: str) -> None:
    """SPEC §6: pending + available + in_payout + paid_out = level1 + level2 (a property of every posting)."""
    if (
        target.pending_fen + target.available_fen + target.in_payout_fen + target.paid_out_fen
        != target.level1_fen + target.level2_fen
    ):
        raise InvariantViolation(f"promoter {promoter_id!r}: balances do not sum to earned commission")


def check_nonnegative(target: Any, promoter_id: str) -> None:
    """SPEC §6: of a promoter's balances only ``available`` may go negative."""
    if (
        target.pending_fen < 0 or target.in_payout_fen < 0 or target.paid_out_fen < 0
        or target.level1_fen < 0 or target.level2_fen < 0
    ):
        raise InvariantViolation(f"promoter {promoter_id!r}: a balance that cannot be negative is negative")


class Tally:
    """Postings added up per effect — ``(kind, level, from)`` — and applied once per effect.

    Every effect (:data:`EFFECTS`) moves its amount between fixed balances, so
    applying a tally gives exactly the balances that applying each posting in
    turn gives, with one :func:`post` (and its checks) per effect instead of
    per posting. Each posting's amount is still checked to be positive as it
    is added. Effects apply in the order first seen (deterministic)."""

    __slots__ = ("sums",)

    def __init__(self) -> None:
        self.sums: dict[tuple[str, int | None, str | None], int] = {}

    def add(self, posting: Posting) -> None:
        amount = posting.amount_fen
        if amount <= 0:
            raise InvariantViolation(f"a {posting.kind} posting of {amount} fen: amount_fen is not positive")
        key = (posting.kind, posting.level, posting.from_)
        sums = self.sums
        sums[key] = sums.get(key, 0) + amount

    def apply_to(self, target: Any, promoter_id: str = "?") -> None:
        """Apply the tally to an object with the six ``*_fen`` balance attributes
        (``promoter_id``: whose, for the message should a check fail)."""
        for (kind, level, source), amount in self.sums.items():
            post(target, kind, amount, level, source, promoter_id)


def sum_postings(postings: Iterable[Posting]) -> Balances:
    """The six balances that ``postings`` of one promoter add up to."""
    tally = Tally()
    promoter_id = "?"
    for posting in postings:
        tally.add(posting)
        promoter_id = posting.promoter_id
    balances = Balances()
    tally.apply_to(balances, promoter_id)
    return balances


def next_month(month: str) -> str:
    """``YYYY-MM`` of the month after ``month``."""
    year, number = int(month[:4]), int(month[5:7])
    return f"{year + number // 12:04d}-{number % 12 + 1:02d}"
