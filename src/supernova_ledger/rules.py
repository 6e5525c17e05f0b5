"""The rule set (SPEC §4): a strict pydantic model with the defaults and ranges.

A ``RulesAdopted`` event replaces the whole set; omitted rules take their
defaults. Values are strict: a JSON ``true`` is not an integer, ``1000.0`` is
not an integer, ``"1000"`` is not an integer. Anything wrong is
``invalid_rules``, and the message names the rule.
"""

from __future__ import annotations

import zoneinfo
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

__all__ = ["Rules", "CategoryRate", "RulesError", "DEFAULT_RULES", "normalize_rules", "zone"]

Bps = Annotated[int, Field(ge=0, le=10_000)]
CategoryName = Annotated[str, StringConstraints(min_length=1, max_length=128)]


class RulesError(Exception):
    """A rule set that cannot be adopted (rejection code ``invalid_rules``).

    Deliberately not a ValueError, so that it passes through msgspec's decoder
    untouched and keeps its own code."""


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class CategoryRate(_Strict):
    level1_bps: Bps
    level2_bps: Bps

    @model_validator(mode="after")
    def _at_most_whole(self) -> "CategoryRate":
        if self.level1_bps + self.level2_bps > 10_000:
            raise ValueError("level1_bps + level2_bps must be at most 10000")
        return self


@lru_cache(maxsize=1)
def _known_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


@lru_cache(maxsize=64)
def zone(name: str) -> zoneinfo.ZoneInfo:
    """The ZoneInfo of a validated time-zone name (cached)."""
    return zoneinfo.ZoneInfo(name)


class Rules(_Strict):
    level1_bps: Bps = 1000
    level2_bps: Bps = 200
    category_rates: dict[CategoryName, CategoryRate] = Field(default_factory=dict, max_length=1000)
    attribution: Literal["last_touch", "protected_binding"] = "last_touch"
    binding_days: Annotated[int, Field(ge=1, le=365)] = 15
    settle_after_days: Annotated[int, Field(ge=0, le=365)] = 15
    min_payout_fen: Annotated[int, Field(ge=1, le=10**12)] = 1000
    max_groups_per_owner: Annotated[int, Field(ge=1, le=10**6)] = 10
    max_group_members: Annotated[int, Field(ge=1, le=10**6)] = 500
    max_daily_pushes: Annotated[int, Field(ge=0, le=10**6)] = 40
    self_purchase_commission: bool = True
    timezone: str = "Asia/Shanghai"

    @model_validator(mode="after")
    def _consistent(self) -> "Rules":
        if self.level1_bps + self.level2_bps > 10_000:
            raise ValueError("level1_bps + level2_bps must be at most 10000")
        if self.timezone not in _known_zones():
            raise ValueError(f"timezone: {self.timezone!r} is not in the tz database")
        return self

    def rates_for(self, category: str) -> tuple[int, int]:
        """``(level1_bps, level2_bps)`` for an order line of ``category``."""
        rate = self.category_rates.get(category)
        if rate is None:
            return self.level1_bps, self.level2_bps
        return rate.level1_bps, rate.level2_bps


DEFAULT_RULES = Rules()


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"]) or "rules"
    message = str(error["msg"])
    if message.startswith("Value error, "):
        message = message[len("Value error, "):]
    return f"rules.{where}: {message}" if where != "rules" else f"rules: {message}"


def parse_rules(value: Any) -> Rules:
    """Validate a raw ``rules`` object. Raises :class:`RulesError`."""
    if not isinstance(value, dict):
        raise RulesError(f"rules: expected an object, got {type(value).__name__}")
    try:
        return Rules.model_validate(value)
    except ValidationError as exc:
        raise RulesError(_first_error(exc)) from None


def normalize_rules(value: Any) -> dict[str, Any]:
    """The full rule set after defaults, as a JSON-ready dict (canonical form)."""
    if isinstance(value, Rules):
        return value.model_dump()
    return parse_rules(value).model_dump()
