"""Settings of usage accounting: the USAGE section of PORTCULLIS."""

from core.conf import AppSettings

usage_settings = AppSettings(
    "USAGE",
    {
        # The Redis stream the gateway appends events to, and the consumer group that ingests.
        "STREAM": "portcullis:usage",
        "GROUP": "usage-ingest",
        # Approximate cap of the stream (XADD MAXLEN ~) while ingestion is down.
        "STREAM_MAXLEN": 1_000_000,
        # Stream entries read per batch; batches (of either kind) per task run.
        "BATCH_SIZE": 500,
        "MAX_BATCHES": 200,
        # Events added into the rollups per batch (one transaction): a larger batch touches
        # each hour's and day's row once for more events.
        "ROLLUP_BATCH_SIZE": 5000,
        # Entries pending this long on a consumer are taken over: that worker is presumed dead.
        "CLAIM_IDLE_SECONDS": 60,
        # Raw events are kept this many days, then pruned (rollups are kept); events older
        # than that arriving late are not stored, since their rollups were already final.
        "RETENTION_DAYS": 30,
        # Events deleted per batch (each its own short transaction), batches per task run.
        "PRUNE_BATCH_SIZE": 5000,
        "PRUNE_MAX_BATCHES": 200,
    },
)
