"""Beyond one machine: write-time decisions, sharded views on PostgreSQL, Dask audit replay.

See docs/scaling.md. Modules:

- :mod:`.decisions` — what the fold decided per accepted event: its postings, and facts keyed by promoter or group;
- :mod:`.views` — the pure, order-independent merge of postings and facts (in-memory views and shard batches);
- :mod:`.query` — merging shard answers into the SPEC §8 report (same dict and digest);
- :mod:`.projection` — the decider and the N shard workers on PostgreSQL, tracked by eventsourcing;
- :mod:`.parquet` — ``export --format parquet``, postings included (needs the ``scale`` extra: pyarrow);
- :mod:`.dask_replay` — the report recomputed by Dask from a Parquet export, balances from its postings
  (``scale`` extra).

Importing this package imports neither pyarrow nor dask; only the last two modules do.
"""
