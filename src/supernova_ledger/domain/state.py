"""The entities the fold keeps, as small slotted classes (no I/O, no logic).

Memory matters at programme scale (10^7 orders and customers), hence
``__slots__``, orders as compact Structs with packed lines, and ids shared
with the book's own keys (see :class:`Order`).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from typing import Final

import msgspec

__all__ = [
    "Balances",
    "BALANCE_FIELDS", "Promoter", "Group", "Order", "Payout", "LINE_PAID", "LINE_REFUNDED", "LINE_RATE1",
    "LINE_RATE2", "LINE_FORMAT", "pack_lines",
]

# An order line (``Order.line(sku)``) is a list ``[paid_fen, refunded_fen, level1_bps, level2_bps]``.
LINE_PAID = 0
LINE_REFUNDED = 1
LINE_RATE1 = 2
LINE_RATE2 = 3


#: The six balances of SPEC §6, in report order.
BALANCE_FIELDS = ("pending_fen", "available_fen", "in_payout_fen", "paid_out_fen", "level1_fen", "level2_fen")


class Balances:
    """The six balances of SPEC §6 (attribute names end in ``_fen``, as in the report).

    Postings move them (:func:`~.postings.apply_posting`); a promoter is one,
    and so are a statement's opening and closing balances."""

    __slots__ = BALANCE_FIELDS

    def __init__(self) -> None:
        self.pending_fen = 0
        self.available_fen = 0
        self.in_payout_fen = 0
        self.paid_out_fen = 0
        self.level1_fen = 0
        self.level2_fen = 0

    def balances(self) -> dict[str, int]:
        """The six balances (SPEC §6) by name."""
        return {name: getattr(self, name) for name in BALANCE_FIELDS}

    as_dict = balances

    def any(self) -> bool:
        """Whether any balance is non-zero."""
        return any(getattr(self, name) for name in BALANCE_FIELDS)


class Promoter(Balances):
    __slots__ = (
        "promoter_id",
        "program",
        "inviter_id",
        "city",
        "city_tier",
        "qualified",
        "suspended",
        "invitees",
        "open_groups",
        "net_gmv_fen",
        "orders",
        "number",
    )

    def __init__(self, promoter_id: str, program: str, inviter_id: str | None, city: str, city_tier: int) -> None:
        super().__init__()
        self.promoter_id = promoter_id
        self.program = program
        self.inviter_id = inviter_id
        self.city = city
        self.city_tier = city_tier
        self.qualified = False
        self.suspended = False
        self.invitees = 0
        self.open_groups = 0
        # GMV of orders attributed to this promoter as L1 (all periods).
        self.net_gmv_fen = 0
        self.orders = 0
        #: Join order (0, 1, …): how a customer's binding names its promoter compactly.
        self.number = 0


class Group:
    __slots__ = (
        "group_id",
        "owner_id",
        "city",
        "city_tier",
        "open",
        "members",
        "pushes",
        "pushes_by_day",
        "orders",
        "buyers",
        "gross_fen",
        "refunded_fen",
    )

    def __init__(self, group_id: str, owner_id: str, city: str, city_tier: int) -> None:
        self.group_id = group_id
        self.owner_id = owner_id
        self.city = city
        self.city_tier = city_tier
        self.open = True
        #: customers in the group (a dict used as a set: smaller than a set at these sizes)
        self.members: dict[str, None] = {}
        self.pushes = 0
        self.pushes_by_day: dict[str, int] = {}
        # Order figures over all periods.
        self.orders = 0
        self.buyers: dict[str, None] = {}  #: distinct buyers (a dict used as a set)
        self.gross_fen = 0
        self.refunded_fen = 0


#: One order line packed: paid_fen, refunded_fen (int64), level1_bps, level2_bps (int32).
LINE_FORMAT: Final = struct.Struct("<qqii")
_LINE_BYTES: Final = LINE_FORMAT.size


def pack_lines(lines: Iterable[Sequence[int]]) -> bytes:
    """Lines ``[paid_fen, refunded_fen, level1_bps, level2_bps]`` as :attr:`Order.packed` bytes."""
    return b"".join(LINE_FORMAT.pack(*line) for line in lines)


class Order(msgspec.Struct, gc=False):
    """One order, compact (resident state at 10^7 orders is the point):

    a Struct without a GC header; ids are shared with the book's own keys
    (customer, group, promoters, skus interned); lines are packed bytes
    (:data:`LINE_FORMAT` per line, aligned with ``skus``). The money figures
    (``paid_fen``, ``refunded_fen``, ``comm1_fen``, ``comm2_fen``) are derived
    from the lines: a commission is the sum over lines of what is left times
    the frozen rate, floored per line (refunds claw back exactly the difference).
    """

    order_id: str
    customer_id: str
    group_id: str | None
    l1: str | None  #: attributed level-1 promoter (GMV, ranking)
    ben1: str | None  #: who earns level-1 commission on it (None: nobody)
    ben2: str | None  #: who earns level-2 commission on it (None: nobody)
    local_date: str  #: YYYY-MM-DD in the zone in force at acceptance
    skus: tuple[str, ...]  #: the lines' skus, in order
    packed: bytes  #: the lines, :data:`LINE_FORMAT` each, aligned with ``skus``
    completed_us: int | None = None
    settled: bool = False

    @property
    def lines(self) -> list[list[int]]:
        """The lines ``[paid_fen, refunded_fen, level1_bps, level2_bps]`` (copies), aligned with ``skus``."""
        return [list(line) for line in LINE_FORMAT.iter_unpack(self.packed)]

    def line(self, sku: str) -> list[int] | None:
        """The line ``[paid_fen, refunded_fen, level1_bps, level2_bps]`` of ``sku`` (a copy), or None."""
        try:
            index = self.skus.index(sku)
        except ValueError:
            return None
        return list(LINE_FORMAT.unpack_from(self.packed, index * _LINE_BYTES))

    def refund(self, index: int, amount_fen: int) -> None:
        """Add ``amount_fen`` to the refunded amount of line ``index``."""
        at = index * _LINE_BYTES
        paid, refunded, rate1, rate2 = LINE_FORMAT.unpack_from(self.packed, at)
        self.packed = (
            self.packed[:at] + LINE_FORMAT.pack(paid, refunded + amount_fen, rate1, rate2)
            + self.packed[at + _LINE_BYTES :]
        )

    @property
    def paid_fen(self) -> int:
        return sum(line[0] for line in LINE_FORMAT.iter_unpack(self.packed))

    @property
    def refunded_fen(self) -> int:
        return sum(line[1] for line in LINE_FORMAT.iter_unpack(self.packed))

    @property
    def comm1_fen(self) -> int:
        """Current level-1 commission (0 when nobody earns it)."""
        if self.ben1 is None:
            return 0
        return sum((paid - refunded) * rate1 // 10_000 for paid, refunded, rate1, _ in LINE_FORMAT.iter_unpack(self.packed))

    @property
    def comm2_fen(self) -> int:
        """Current level-2 commission (0 when nobody earns it)."""
        if self.ben2 is None:
            return 0
        return sum((paid - refunded) * rate2 // 10_000 for paid, refunded, _, rate2 in LINE_FORMAT.iter_unpack(self.packed))


class Payout:
    __slots__ = ("payout_id", "promoter_id", "amount_fen", "finished")

    def __init__(self, payout_id: str, promoter_id: str, amount_fen: int) -> None:
        self.payout_id = payout_id
        self.promoter_id = promoter_id
        self.amount_fen = amount_fen
        self.finished = False
