"""Adapters: turn a platform's own records into ledger events.

- :mod:`supernova_ledger.adapters.jd_union` — JD Union order rows
  (``jd.union.open.order.row.query``) to ``OrderPlaced`` / ``OrderCompleted`` /
  ``OrderRefunded``; see ``docs/jd_union.md``.
- :mod:`supernova_ledger.adapters.jd_rows` — realistic row streams from the
  simulator (``simulate --format jd-rows``).
"""
