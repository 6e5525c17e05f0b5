"""verify decodes every stored event strictly, even one whose hash chain was forged to match.

A log rewritten by someone who also recomputed every head passes the chain
check; what verify still proves is that each stored event is one the ledger
could have accepted, in its canonical bytes. ``decode_canonical`` drops the
repeated-name scan of ingest because a repeated name can never be canonical:
these cases pin that down.
"""

from __future__ import annotations

import hashlib

import pytest

from supernova_ledger.audit import verify
from supernova_ledger.domain.book import GENESIS_HEAD
from supernova_ledger.events import DecodeFailure, decode_canonical, decode_event
from supernova_ledger.store import LogRecord, open_store

JOINED = b'{"at":"2026-11-01T01:00:00Z","city":"x","city_tier":1,"id":"e1","inviter_id":null,"program":"fenxiang","promoter_id":"A","type":"PromoterJoined"}'
QUALIFIED = b'{"at":"2026-11-01T01:01:00Z","id":"e2","promoter_id":"A","type":"PromoterQualified"}'

# Second events that decode (or nearly) but are not what the ledger stores.
FORGED = {
    "a repeated member name": b'{"at":"2026-11-01T01:01:00Z","id":"e2","promoter_id":"B","promoter_id":"A","type":"PromoterQualified"}',
    "members out of order": b'{"id":"e2","at":"2026-11-01T01:01:00Z","promoter_id":"A","type":"PromoterQualified"}',
    "a timestamp not in UTC": b'{"at":"2026-11-01T09:01:00+08:00","id":"e2","promoter_id":"A","type":"PromoterQualified"}',
    "whitespace": b'{"at":"2026-11-01T01:01:00Z", "id":"e2","promoter_id":"A","type":"PromoterQualified"}',
    "an unknown member": b'{"at":"2026-11-01T01:01:00Z","id":"e2","promoter_id":"A","type":"PromoterQualified","x":1}',
    "an id over 128 characters": b'{"at":"2026-11-01T01:01:00Z","id":"' + b"e" * 129 + b'","promoter_id":"A","type":"PromoterQualified"}',
    "an impossible date": b'{"at":"2026-02-30T01:01:00Z","id":"e2","promoter_id":"A","type":"PromoterQualified"}',
}


def _records(events: list[bytes]) -> list[LogRecord]:
    head, records = GENESIS_HEAD, []
    for position, event in enumerate(events, start=1):
        head = hashlib.sha256(head.encode() + b"\n" + event).hexdigest()
        records.append(LogRecord(position, event, head))
    return records


def test_the_honest_log_verifies() -> None:
    with open_store("memory:") as store:
        store.append(_records([JOINED, QUALIFIED]))
        assert verify(store).ok


@pytest.mark.parametrize("what", sorted(FORGED))
def test_a_stored_event_the_ledger_could_not_have_stored_fails_at_its_position(what: str) -> None:
    with open_store("memory:") as store:
        store.append(_records([JOINED, FORGED[what]]))  # the chain itself is consistent
        result = verify(store)
    assert not result.ok
    assert result.position == 2, result
    assert result.events == 1


@pytest.mark.parametrize("what", sorted(FORGED))
def test_decode_canonical_refuses_what_ingest_would_refuse_or_rewrite(what: str) -> None:
    data = FORGED[what]
    with pytest.raises(DecodeFailure):
        decode_canonical(data)
    try:
        event = decode_event(data)
    except DecodeFailure:
        return  # ingest refuses it too
    assert event.id == "e2"  # ingest accepts it, but stores other (canonical) bytes


def test_decode_canonical_names_a_non_canonical_event() -> None:
    with pytest.raises(DecodeFailure) as caught:
        decode_canonical(FORGED["members out of order"])
    assert caught.value.code == "not_canonical"
    assert caught.value.event_id == "e2"
    assert decode_canonical(QUALIFIED).id == "e2"
