"""Re-processing quarantined payloads once the plugin that maps them is fixed, and the
delay assessments and status events the ``notices`` job quarantined (see
:func:`fulfilhub.runner.notices.retry_quarantined`)."""

from __future__ import annotations

from ..engines import intake
from ..store import quarantine as quarantine_store
from ..store import stock as stock_store
from . import notices
from .reports import describe_error
from .runtime import Runtime


def retry(rt: Runtime, ids: list[int] | None = None) -> dict[int, str]:
    """Map open quarantined payloads again; store those that now map, process the notices
job's items again. ``{id: outcome}``: "stored ..." or "processed ..." when it worked."""
    with rt.store.read() as conn:
        if ids is None:
            rows = quarantine_store.listing(conn, status="open", limit=100_000)
        else:
            rows = [quarantine_store.row(conn, qid) for qid in ids]
        known_skus = stock_store.known_skus(conn)
    outcome: dict[int, str] = {}
    for qid, row in zip(ids or [r.id for r in rows], rows):
        if row is None:
            outcome[qid] = "no such entry"
            continue
        if row.status != "open":
            outcome[qid] = f"already {row.status}"
            continue
        if row.source == notices.QUARANTINE_SOURCE and row.kind in (notices.DELAY_KIND, notices.EVENT_KIND):
            outcome[qid] = notices.retry_quarantined(rt, row)[1]
            continue
        if row.source not in rt.config.channels:
            outcome[qid] = f"channel {row.source!r} is no longer configured; left in quarantine"
            continue
        try:
            order = rt.channel(row.source).parse_order(row.payload)
        except Exception as exc:
            with rt.store.transaction() as tx:
                quarantine_store.retry_failed(tx, qid, describe_error(exc))
            outcome[qid] = f"still fails: {describe_error(exc)}"
            continue
        now = rt.clock.now()
        with rt.store.transaction() as tx:
            result = intake.ingest(tx, rt.hooks, [order], at=now, known_skus=known_skus, intake=rt.config.intake,
                                   source=f"quarantine:{row.source}", promises=rt.promise_engine())
            quarantine_store.resolve(tx, qid, now)
        outcome[qid] = f"stored as {order.id}" + (" (already stored at that version)" if result.unchanged else "")
    return outcome
