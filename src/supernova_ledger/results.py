"""Typed results for embedders: the report, explanations, statements and balances.

Each is a frozen msgspec Struct whose canonical JSON (:meth:`Result.to_json`)
is byte-identical to the SPEC format (§8, §8.2, §8.3): the fields are the
SPEC's keys, and canonical JSON sorts them. mypy checks attribute access::

    report = ledger.report()
    report.promoters["B"].available_fen      # typed
    report["promoters"]["B"]["available_fen"]  # still works (dict-style, read-only)
    report.to_dict()                          # plain JSON values
    report.to_json()                          # canonical JSON bytes (no newline)

Dict-style access (``result["key"]``, ``get``, ``keys``, ``items``,
``values``, ``in``) and equality with a plain dict of the same JSON are kept
so that code written against the earlier ``dict`` results keeps working.
"""

from __future__ import annotations

from collections.abc import ItemsView, Iterator, KeysView, Mapping, ValuesView
from typing import Any, Literal, TypeVar

import msgspec

__all__ = [
    "Result",
    "Balances",
    "PromoterFigures",
    "GroupFigures",
    "TierFigures",
    "RankingEntry",
    "Report",
    "PostingEntry",
    "Explanation",
    "StatementAccount",
    "Statement",
    "DayFigures",
]

_R = TypeVar("_R", bound="Result")
_encoder = msgspec.json.Encoder(order="sorted")


class Result(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=False):
    """Base of the typed results: JSON helpers and read-only dict-style access."""

    def to_dict(self) -> dict[str, Any]:
        """The result as plain JSON values (dicts, lists, str, int, bool, None)."""
        data: dict[str, Any] = msgspec.to_builtins(self)
        return data

    def to_json(self) -> bytes:
        """Canonical JSON (SPEC §7): sorted keys, no white space, UTF-8; no newline."""
        return _encoder.encode(self)

    @classmethod
    def from_dict(cls: type[_R], data: Mapping[str, Any]) -> _R:
        """Build from the JSON values (strict: every key, right types)."""
        return msgspec.convert(data, cls)

    # -- dict-style, read-only --------------------------------------------------

    def _names(self) -> dict[str, str]:
        return _encode_names(type(self))

    def __getitem__(self, key: str) -> Any:
        name = self._names().get(key)
        if name is None:
            raise KeyError(key)
        return getattr(self, name)

    def get(self, key: str, default: Any = None) -> Any:
        name = self._names().get(key)
        return default if name is None else getattr(self, name)

    def keys(self) -> KeysView[str]:
        return self._names().keys()

    def values(self) -> ValuesView[Any]:
        return {key: getattr(self, name) for key, name in self._names().items()}.values()

    def items(self) -> ItemsView[str, Any]:
        return {key: getattr(self, name) for key, name in self._names().items()}.items()

    def __contains__(self, key: object) -> bool:
        return key in self._names()

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Result):
            return type(self) is type(other) and self.to_dict() == other.to_dict()
        if isinstance(other, Mapping):
            equal: bool = self.to_dict() == _plain(other)
            return equal
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        if equal is NotImplemented:
            return NotImplemented
        return not equal

    __hash__ = None  # type: ignore[assignment]


_NAMES: dict[type[Any], dict[str, str]] = {}


def _encode_names(cls: type[Any]) -> dict[str, str]:
    """JSON key -> attribute name of a Struct type (cached)."""
    names = _NAMES.get(cls)
    if names is None:
        names = _NAMES[cls] = {f.encode_name: f.name for f in msgspec.structs.fields(cls)}
    return names


def _plain(value: Any) -> Any:
    """``value`` with any nested results turned into plain JSON values."""
    return msgspec.to_builtins(value)


class Balances(Result, frozen=True, kw_only=True):
    """The six balances of one promoter (SPEC §6), in fen."""

    pending_fen: int
    available_fen: int
    in_payout_fen: int
    paid_out_fen: int
    level1_fen: int
    level2_fen: int


# -- the report (SPEC §8) ---------------------------------------------------------


class PromoterFigures(Result, frozen=True, kw_only=True):
    program: str
    inviter_id: str | None
    qualified: bool
    suspended: bool
    invitees: int
    pending_fen: int
    available_fen: int
    in_payout_fen: int
    paid_out_fen: int
    level1_fen: int
    level2_fen: int


class GroupFigures(Result, frozen=True, kw_only=True):
    owner_id: str
    open: bool
    city_tier: int
    members: int
    pushes: int
    orders: int
    buyers: int
    gross_fen: int
    refunded_fen: int
    net_fen: int


class TierFigures(Result, frozen=True, kw_only=True):
    groups: int
    net_fen: int


class RankingEntry(Result, frozen=True, kw_only=True):
    rank: int
    promoter_id: str
    net_gmv_fen: int
    orders: int


class Report(Result, frozen=True, kw_only=True):
    """SPEC §8: ``Ledger.report()``."""

    format: str
    events: int
    log_head: str
    period: str | None
    promoters: dict[str, PromoterFigures]
    groups: dict[str, GroupFigures]
    tiers: dict[str, TierFigures]
    ranking: list[RankingEntry]
    digest: str


# -- explain (SPEC §8.2) ----------------------------------------------------------


class PostingEntry(Result, frozen=True, kw_only=True):
    """One posting as SPEC §6.1 shows it (every key; null where it does not apply)."""

    position: int
    event_id: str
    at: str
    book: str
    kind: Literal["earn", "clawback", "settle", "payout", "paid", "returned"]
    level: int | None
    order_id: str | None
    sku: str | None
    rate_bps: int | None
    base_fen: int | None
    payout_id: str | None
    from_: str | None = msgspec.field(name="from")
    to: str | None
    amount_fen: int


class Explanation(Result, frozen=True, kw_only=True):
    """SPEC §8.2: ``Ledger.explain(promoter_id)``."""

    format: str
    events: int
    log_head: str
    promoter_id: str
    period: str | None
    balances: Balances
    postings: list[PostingEntry]
    digest: str


# -- statements (SPEC §8.3) ---------------------------------------------------------


class StatementAccount(Result, frozen=True, kw_only=True):
    """One promoter's (or the totals') opening balances, movements and closing balances."""

    opening: Balances
    earned_l1_fen: int
    earned_l2_fen: int
    clawed_back_l1_fen: int
    clawed_back_l2_fen: int
    settled_fen: int
    payout_fen: int
    paid_fen: int
    returned_fen: int
    closing: Balances


class Statement(Result, frozen=True, kw_only=True):
    """SPEC §8.3: ``Ledger.statement(period)``."""

    format: str
    events: int
    log_head: str
    period: str
    closed: bool
    promoters: dict[str, StatementAccount]
    totals: StatementAccount
    digest: str


# -- the daily series of the HTML report --------------------------------------------


class DayFigures(Result, frozen=True, kw_only=True):
    """One local day's orders placed in groups (as ``report --period YYYY-MM-DD`` counts them)."""

    day: str
    orders: int
    gross_fen: int
    refunded_fen: int
    net_fen: int
