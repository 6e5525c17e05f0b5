"""Decoding and canonical form (SPEC §1, §2, §7)."""

from __future__ import annotations

import pytest

from supernova_ledger.events import (
    DecodeFailure,
    PromoterJoined,
    canonical,
    coerce_event,
    decode_event,
    decode_stored,
)


@pytest.mark.parametrize(
    ("given", "canonical_at"),
    [
        ("2026-11-01T20:15:00+08:00", "2026-11-01T12:15:00Z"),
        ("2026-11-01T20:15:00.5+08:00", "2026-11-01T12:15:00.500000Z"),
        ("2026-11-01T20:15:00.000000+08:00", "2026-11-01T12:15:00Z"),
        ("2026-11-01T20:15:00.000000Z", "2026-11-01T20:15:00Z"),
        ("2026-11-01T20:15:00.000001Z", "2026-11-01T20:15:00.000001Z"),
        ("2026-11-01T00:00:00-00:30", "2026-11-01T00:30:00Z"),
        ("2026-01-01T07:00:00+08:00", "2025-12-31T23:00:00Z"),
        ("0999-01-05T00:00:00+08:00", "0999-01-04T16:00:00Z"),
    ],
)
def test_canonical_timestamps(given: str, canonical_at: str) -> None:
    event = decode_event(f'{{"type":"PromoterQualified","id":"x","at":"{given}","promoter_id":"A"}}')
    assert event.at == canonical_at


def test_spec_line_7_canonical_form() -> None:
    line = (
        '{"type":"OrderPlaced","id":"e6","at":"2026-11-01T20:15:00+08:00","order_id":"o1","customer_id":"c1",'
        '"group_id":"g1","lines":[{"sku":"s1","category":"daily","quantity":2,"paid_fen":9990},'
        '{"sku":"s2","category":"appliance","quantity":1,"paid_fen":19900}]}'
    )
    assert canonical(decode_event(line)).decode() == (
        '{"at":"2026-11-01T12:15:00Z","customer_id":"c1","group_id":"g1","id":"e6","lines":[{"category":"daily",'
        '"paid_fen":9990,"quantity":2,"sku":"s1"},{"category":"appliance","paid_fen":19900,"quantity":1,"sku":"s2"}],'
        '"order_id":"o1","promoter_id":null,"type":"OrderPlaced"}'
    )


def test_rules_adopted_canonical_has_full_rule_set() -> None:
    event = decode_event('{"type":"RulesAdopted","id":"r","at":"2026-11-01T00:00:00Z","rules":{}}')
    assert set(event.rules) == {
        "level1_bps", "level2_bps", "category_rates", "attribution", "binding_days", "settle_after_days",
        "min_payout_fen", "max_groups_per_owner", "max_group_members", "max_daily_pushes",
        "self_purchase_commission", "timezone",
    }


def test_structs_built_in_python_are_validated_on_append() -> None:
    event = PromoterJoined(id="e1", at="2026-11-01T09:00:00+08:00", promoter_id="A", program="fenxiang",
                           city="北京", city_tier=9)  # the constructor does not check ranges
    with pytest.raises(DecodeFailure) as failure:
        coerce_event(event)
    assert failure.value.code == "invalid_event" and "city_tier" in failure.value.message
    good = PromoterJoined(id="e1", at="2026-11-01T09:00:00+08:00", promoter_id="A", program="fenxiang",
                          city="北京", city_tier=1)
    assert coerce_event(good) == good and good.at == "2026-11-01T01:00:00Z"


def test_non_ascii_is_unescaped_and_ids_count_code_points() -> None:
    event = decode_event('{"type":"PromoterQualified","id":"' + "客" * 128 + '","at":"2026-11-01T00:00:00Z","promoter_id":"A"}')
    assert "客".encode() in canonical(event)
    with pytest.raises(DecodeFailure):
        decode_event('{"type":"PromoterQualified","id":"' + "客" * 129 + '","at":"2026-11-01T00:00:00Z","promoter_id":"A"}')


def test_stored_decoder_reads_what_canonical_writes() -> None:
    event = decode_event('{"type":"PayoutFailed","id":"x","at":"2026-11-01T00:00:00Z","payout_id":"p","reason":"银行"}')
    twin = decode_stored(canonical(event))
    assert (twin.id, twin.at, twin.payout_id, twin.reason) == ("x", "2026-11-01T00:00:00Z", "p", "银行")
    assert canonical(twin) == canonical(event)


@pytest.mark.parametrize("zone_name", ["Asia/Shanghai", "America/Los_Angeles", "Asia/Kolkata", "Asia/Kathmandu",
                                       "Australia/Lord_Howe", "Pacific/Kiritimati", "Pacific/Chatham", "UTC"])
def test_local_dates_cache_is_exact(zone_name: str) -> None:
    """Every 7 minutes across two DST seasons, the cached local date equals the exact one."""
    from datetime import datetime, timedelta, timezone

    from supernova_ledger.domain.book import LocalDates
    from supernova_ledger.rules import zone

    dates = LocalDates(zone(zone_name))
    moment = datetime(2026, 3, 1, tzinfo=timezone.utc)
    while moment < datetime(2026, 11, 15, tzinfo=timezone.utc):
        at = moment.isoformat()[:-6] + "Z"
        assert dates.of(at) == dates.exact(at), at
        moment += timedelta(minutes=7, seconds=13)


@pytest.mark.parametrize(
    "line",
    [
        '{"type":"PromoterQualified","id":"x1","at":"2026-11-01T12:00:00+08:00","promoter_id":"A","promoter_id":"C"}',
        '{"type":"PromoterQualified","id":"x2","at":"2026-11-01T12:00:00+08:00","promoter_id":"C","id":"x3"}',
        '{"type":"PromoterQualified","id":"x2","at":"2026-11-01T12:00:00+08:00","promoter_id":"C","\\u0069d":"x3"}',
        '{"type":"OrderRefunded","id":"r","at":"2026-11-01T00:00:00Z","order_id":"o","lines":[{"sku":"a","amount_fen":1,"sku":"b"}]}',
        '{"type":"RulesAdopted","id":"r","at":"2026-11-01T00:00:00Z","rules":{"level1_bps":10,"level1_bps":20}}',
        '{"type":"RulesAdopted","id":"r","at":"2026-11-01T00:00:00Z","rules":{"level1_bps":true,"level1_bps":20}}',
    ],
)
def test_repeated_member_names_are_invalid(line: str) -> None:
    with pytest.raises(DecodeFailure) as failure:
        decode_event(line)
    assert failure.value.code == "invalid_event" and "twice" in failure.value.message


def test_values_that_look_like_names_are_fine() -> None:
    event = decode_event('{"type":"PromoterQualified","id":"id","at":"2026-11-01T12:00:00Z","promoter_id":"type"}')
    assert (event.id, event.promoter_id) == ("id", "type")
