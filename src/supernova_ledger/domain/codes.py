"""Stable rejection codes (SPEC §2–3). Their string values never change."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Code"]


class Code(StrEnum):
    INVALID_EVENT = "invalid_event"
    INVALID_RULES = "invalid_rules"
    DUPLICATE_EVENT_ID = "duplicate_event_id"
    DUPLICATE_PROMOTER = "duplicate_promoter"
    UNKNOWN_PROMOTER = "unknown_promoter"
    DUPLICATE_GROUP = "duplicate_group"
    PROMOTER_SUSPENDED = "promoter_suspended"
    PROMOTER_NOT_QUALIFIED = "promoter_not_qualified"
    GROUP_LIMIT_EXCEEDED = "group_limit_exceeded"
    UNKNOWN_GROUP = "unknown_group"
    GROUP_CLOSED = "group_closed"
    ALREADY_MEMBER = "already_member"
    NOT_INVITED = "not_invited"
    GROUP_FULL = "group_full"
    NOT_MEMBER = "not_member"
    PUSH_QUOTA_EXCEEDED = "push_quota_exceeded"
    DUPLICATE_ORDER = "duplicate_order"
    UNKNOWN_ORDER = "unknown_order"
    ORDER_ALREADY_COMPLETED = "order_already_completed"
    UNKNOWN_LINE = "unknown_line"
    REFUND_EXCEEDS_PAID = "refund_exceeds_paid"
    DUPLICATE_PAYOUT = "duplicate_payout"
    BELOW_MINIMUM_PAYOUT = "below_minimum_payout"
    INSUFFICIENT_BALANCE = "insufficient_balance"
    UNKNOWN_PAYOUT = "unknown_payout"
    PAYOUT_ALREADY_FINISHED = "payout_already_finished"
    PERIOD_ALREADY_CLOSED = "period_already_closed"
    PERIOD_NOT_ENDED = "period_not_ended"
