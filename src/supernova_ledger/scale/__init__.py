"""Beyond one machine: write-time decisions, sharded views on PostgreSQL, Dask audit replay.

See docs/scaling.md. Modules:

- :mod:`.decisions` — what the fold decided per accepted event, as facts keyed by promoter or group;
- :mod:`.views` — the pure, order-independent merge of facts into a shard view (in memory);
- :mod:`.query` — merging shard answers into the SPEC §8 report (same dict and digest);
- :mod:`.projection` — the decider and the N shard workers on PostgreSQL, tracked by eventsourcing;
- :mod:`.parquet` — ``export --format parquet`` (needs the ``scale`` extra: pyarrow);
- :mod:`.dask_replay` — the report recomputed by Dask from a Parquet export (``scale`` extra).

Importing this package imports neither pyarrow nor dask; only the last two modules do.
"""
