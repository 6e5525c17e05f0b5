"""The entities the fold keeps, as small slotted classes (no I/O, no logic).

Memory matters at programme scale (10^7 orders and customers), hence
``__slots__`` and plain lists for order lines.
"""

from __future__ import annotations

__all__ = ["BALANCE_FIELDS", "Promoter", "Group", "Order", "Payout", "LINE_PAID", "LINE_REFUNDED", "LINE_RATE1", "LINE_RATE2"]

# An order line is a list ``[paid_fen, refunded_fen, level1_bps, level2_bps]``.
LINE_PAID = 0
LINE_REFUNDED = 1
LINE_RATE1 = 2
LINE_RATE2 = 3


#: The six balances of SPEC §6, in report order.
BALANCE_FIELDS = ("pending_fen", "available_fen", "in_payout_fen", "paid_out_fen", "level1_fen", "level2_fen")


class Promoter:
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
        "pending_fen",
        "available_fen",
        "in_payout_fen",
        "paid_out_fen",
        "level1_fen",
        "level2_fen",
        "net_gmv_fen",
        "orders",
    )

    def __init__(self, promoter_id: str, program: str, inviter_id: str | None, city: str, city_tier: int) -> None:
        self.promoter_id = promoter_id
        self.program = program
        self.inviter_id = inviter_id
        self.city = city
        self.city_tier = city_tier
        self.qualified = False
        self.suspended = False
        self.invitees = 0
        self.open_groups = 0
        self.pending_fen = 0
        self.available_fen = 0
        self.in_payout_fen = 0
        self.paid_out_fen = 0
        self.level1_fen = 0
        self.level2_fen = 0
        # GMV of orders attributed to this promoter as L1 (all periods).
        self.net_gmv_fen = 0
        self.orders = 0

    def balances(self) -> dict[str, int]:
        """The six balances (SPEC §6) by name."""
        return {name: getattr(self, name) for name in BALANCE_FIELDS}


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
        self.members: set[str] = set()
        self.pushes = 0
        self.pushes_by_day: dict[str, int] = {}
        # Order figures over all periods.
        self.orders = 0
        self.buyers: set[str] = set()
        self.gross_fen = 0
        self.refunded_fen = 0


class Order:
    __slots__ = (
        "order_id",
        "customer_id",
        "group_id",
        "l1",
        "ben1",
        "ben2",
        "local_date",
        "skus",
        "lines",
        "completed_us",
        "settled",
        "comm1_fen",
        "comm2_fen",
        "paid_fen",
        "refunded_fen",
    )

    def __init__(
        self,
        order_id: str,
        customer_id: str,
        group_id: str | None,
        l1: str | None,
        ben1: str | None,
        ben2: str | None,
        local_date: str,
        skus: tuple[str, ...],
        lines: list[list[int]],
    ) -> None:
        self.order_id = order_id
        self.customer_id = customer_id
        self.group_id = group_id
        self.l1 = l1  # attributed level-1 promoter (GMV, ranking)
        self.ben1 = ben1  # who earns level-1 commission on it (None: nobody)
        self.ben2 = ben2  # who earns level-2 commission on it (None: nobody)
        self.local_date = local_date  # YYYY-MM-DD in the zone in force at acceptance
        self.skus = skus  # the lines' skus, in order
        self.lines = lines  # aligned with skus: [paid_fen, refunded_fen, level1_bps, level2_bps]
        self.completed_us: int | None = None
        self.settled = False
        self.comm1_fen = 0  # current level-1 commission
        self.comm2_fen = 0  # current level-2 commission
        self.paid_fen = 0
        self.refunded_fen = 0


    def line(self, sku: str) -> list[int] | None:
        """The line ``[paid_fen, refunded_fen, level1_bps, level2_bps]`` of ``sku``, or None.

        Lines are a list, not a dict: most orders have one or two lines, and a
        dict per order costs more memory than the rare refund's linear search."""
        try:
            return self.lines[self.skus.index(sku)]
        except ValueError:
            return None


class Payout:
    __slots__ = ("payout_id", "promoter_id", "amount_fen", "finished")

    def __init__(self, payout_id: str, promoter_id: str, amount_fen: int) -> None:
        self.payout_id = payout_id
        self.promoter_id = promoter_id
        self.amount_fen = amount_fen
        self.finished = False
