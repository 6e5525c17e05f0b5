"""A small HTTP service around a Ledger, standard library only (wsgiref).

    python examples/http_ledger.py --store sqlite:///books.db --port 8000

    curl -s -X POST localhost:8000/events -d '{"type":"PromoterJoined","id":"e1",
         "at":"2026-11-01T09:00:00+08:00","promoter_id":"A","program":"fenxiang",
         "inviter_id":null,"city":"北京","city_tier":1}'
    → 201 {"code":null,"id":"e1","message":null,"position":1,"status":"accepted"}

    curl -s 'localhost:8000/report?period=2026-11&top=10'
    → 200 {"digest":"…","events":1,…}

Routes:

- ``POST /events`` — body: one JSON event (SPEC §2). Answers with the
  Outcome as JSON: ``201`` accepted, ``200`` duplicate (a re-delivery: safe
  to retry), ``422`` rejected with its ``code`` and ``message``.
- ``GET /report`` — the SPEC §8 report; query ``period``, ``top``, ``until``.
  ``400`` for a bad query.
- ``GET /balance?promoter=ID`` — the promoter's six balances (SPEC §6);
  ``404`` for a promoter that has not joined.
- ``GET /explain?promoter=ID`` — every posting of one promoter with its
  balances (SPEC §8.2); query ``period`` (``YYYY-MM``), ``until``. ``404``
  for a promoter that has not joined, ``400`` for a bad query.
- ``GET /statement?period=YYYY-MM`` — the month's statement (SPEC §8.3);
  query ``until``, ``promoter``. ``400`` for a bad query.
- ``GET /health`` — ``{"events": N, "log_head": "…"}``.

Copy :func:`make_app` into a backend: it is a plain WSGI application, so any
WSGI server (gunicorn, uWSGI, waitress) can serve it. One Ledger is shared by
the requests behind a lock; for more throughput run several processes on one
SQLite or PostgreSQL store: the ledger's optimistic concurrency keeps them
consistent (see docs/embedding.md).
"""

from __future__ import annotations

import argparse
import json
import threading
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs
from wsgiref.simple_server import make_server

from supernova_ledger import Ledger, SupernovaError, UsageError

MAX_BODY_BYTES = 1 << 20  # one event is far smaller; refuse anything bigger

StartResponse = Callable[[str, list[tuple[str, str]]], Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

_STATUS_TEXT = {200: "200 OK", 201: "201 Created", 400: "400 Bad Request", 404: "404 Not Found",
                405: "405 Method Not Allowed", 411: "411 Length Required", 413: "413 Payload Too Large",
                422: "422 Unprocessable Entity", 503: "503 Service Unavailable"}
_OUTCOME_STATUS = {"accepted": 201, "duplicate": 200, "rejected": 422}


def _json(start_response: StartResponse, status: int, body: Any) -> list[bytes]:
    data = json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")
    start_response(_STATUS_TEXT[status], [("Content-Type", "application/json; charset=utf-8"),
                                          ("Content-Length", str(len(data)))])
    return [data]


def _error(start_response: StartResponse, status: int, message: str) -> list[bytes]:
    return _json(start_response, status, {"error": message})


def _int_param(query: dict[str, list[str]], name: str) -> int | None:
    values = query.get(name)
    if not values:
        return None
    if not values[0].isdigit():
        raise UsageError(f"{name}: {values[0]!r} is not a whole number")
    return int(values[0])


def make_app(ledger: Ledger) -> WSGIApp:
    """A WSGI application serving ``ledger``."""
    lock = threading.Lock()

    def post_event(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        length_text = environ.get("CONTENT_LENGTH") or ""
        if not length_text.isdigit():
            return _error(start_response, 411, "Content-Length is required")
        length = int(length_text)
        if length > MAX_BODY_BYTES:
            return _error(start_response, 413, f"an event is at most {MAX_BODY_BYTES} bytes")
        body: bytes = environ["wsgi.input"].read(length)
        with lock:
            outcome = ledger.append(body)  # bad JSON is a rejection (invalid_event), not an exception
        return _json(start_response, _OUTCOME_STATUS[outcome.status], outcome.to_dict())

    def get_report(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        query = parse_qs(environ.get("QUERY_STRING", ""))
        try:
            period = query.get("period", [None])[0]
            top, until = _int_param(query, "top"), _int_param(query, "until")
            with lock:
                report = ledger.report(period=period, top=top, until=until)
        except UsageError as exc:
            return _error(start_response, 400, exc.message)
        return _json(start_response, 200, report.to_dict())

    def get_balance(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        query = parse_qs(environ.get("QUERY_STRING", ""))
        promoter = query.get("promoter", [""])[0]
        if not promoter:
            return _error(start_response, 400, "promoter: required")
        with lock:
            balances = ledger.balance(promoter)
        if balances is None:
            return _error(start_response, 404, f"promoter: {promoter!r} has not joined")
        return _json(start_response, 200, balances.to_dict())

    def get_explain(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        query = parse_qs(environ.get("QUERY_STRING", ""))
        promoter = query.get("promoter", [""])[0]
        if not promoter:
            return _error(start_response, 400, "promoter: required")
        try:
            until = _int_param(query, "until")
            with lock:
                explanation = ledger.explain(promoter, period=query.get("period", [None])[0], until=until)
        except UsageError as exc:
            return _error(start_response, 404 if exc.code == "unknown_promoter" else 400, exc.message)
        return _json(start_response, 200, explanation.to_dict())

    def get_statement(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        query = parse_qs(environ.get("QUERY_STRING", ""))
        period = query.get("period", [""])[0]
        try:
            until = _int_param(query, "until")
            with lock:
                statement = ledger.statement(period, until=until, promoter=query.get("promoter", [None])[0])
        except UsageError as exc:
            return _error(start_response, 400, exc.message)
        return _json(start_response, 200, statement.to_dict())

    def get_health(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        with lock:
            report = ledger.report(top=0)  # catches up with other writers first
        return _json(start_response, 200, {"events": report.events, "log_head": report.log_head})

    routes: dict[str, dict[str, Callable[[dict[str, Any], StartResponse], list[bytes]]]] = {
        "/events": {"POST": post_event},
        "/report": {"GET": get_report},
        "/balance": {"GET": get_balance},
        "/explain": {"GET": get_explain},
        "/statement": {"GET": get_statement},
        "/health": {"GET": get_health},
    }

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        methods = routes.get(environ.get("PATH_INFO", ""))
        if methods is None:
            return _error(start_response, 404, "routes: POST /events, GET /report, /balance, /explain, /statement, /health")
        handler = methods.get(environ["REQUEST_METHOD"])
        if handler is None:
            return _error(start_response, 405, f"use {', '.join(methods)}")
        try:
            return handler(environ, start_response)
        except SupernovaError as exc:  # the store went away: say so, keep serving
            return _error(start_response, 503, exc.message)

    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve a supernova ledger over HTTP.")
    parser.add_argument("--store", default=None, help="store URL (default $SUPERNOVA_STORE or sqlite:///supernova.db)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)
    with Ledger.open(args.store) as ledger, make_server(args.host, args.port, make_app(ledger)) as server:
        print(f"serving {ledger.store.url} on http://{args.host}:{server.server_port}")
        server.serve_forever()


if __name__ == "__main__":
    main()
