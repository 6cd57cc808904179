"""``pull_orders``: each channel from its saved cursor, page by page, into intake.

The cursor is saved in the transaction that stores its page; payloads that do not map
are quarantined and the rest of the page goes on. A channel whose webhooks are healthy
backs off (:func:`fulfilhub.runner.polling.backing_off`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import attrs

from ..engines import intake
from ..errors import ExternalError, Unreachable
from ..models import Order, OrderPage
from ..store import cursors
from ..store import quarantine as quarantine_store
from ..store import stock as stock_store
from .polling import backing_off
from .reports import JobReport, Progress, concurrently, describe_error
from .runtime import Runtime

log = logging.getLogger("fulfilhub.runner")


def pull_orders(rt: Runtime, *, channels: Sequence[str] | None = None, max_pages: int | None = None,
                progress: Progress | None = None) -> JobReport:
    """Pull every channel (or ``channels``: those are pulled even while backing off)."""
    names = list(channels) if channels is not None else list(rt.config.channels)
    waiting = backing_off(rt, "channels", names) if channels is None else {}
    report = concurrently([n for n in names if n not in waiting],
                           lambda name: pull_channel(rt, name, max_pages=max_pages, progress=progress), "pull_orders")
    for name, due in waiting.items():
        report.counts["backed_off"] += 1
        log.debug("channel %s: webhooks are healthy; the next poll is at %s", name, due)
    return report


def pull_channel(rt: Runtime, name: str, *, max_pages: int | None = None, progress: Progress | None = None) -> JobReport:
    """Pull one channel from its saved cursor until it has no more pages (or ``max_pages``).

    The next page is fetched and mapped while the current one is stored (one page
    ahead, never more), so the network, the mapping and the database work at the same
    time. The cursor is still saved only in the transaction that stores its page.
    """
    report = JobReport("pull_orders")
    channel = rt.channel(name)
    rt.polled["channels", name] = rt.clock.now()
    with rt.store.read() as conn:
        cursor = cursors.get(conn, name)
        known_skus = stock_store.known_skus(conn)
    pages = 0
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"fulfilhub-fetch-{name}") as fetcher:
        ahead: Future[_Mapped] | None = fetcher.submit(_fetch_and_map, channel, cursor)
        while ahead is not None:
            try:
                page, mapped, bad = ahead.result()
            except Unreachable as exc:
                report.unreachable(exc)
                break
            except ExternalError as exc:
                report.errors.append(f"channel {name}: {exc} (cursor kept; the next run resumes here)")
                break
            pages += 1
            log.info("channel %s: pulled page %d (%d orders%s)", name, pages, len(page.payloads),
                     ", more to come" if page.has_more else "")
            more = page.has_more and (max_pages is None or pages < max_pages)
            ahead = fetcher.submit(_fetch_and_map, channel, page.next_cursor) if more else None
            if page.payloads or page.next_cursor != cursor:  # an empty page that moves nothing writes nothing
                _store_page(rt, name, page, mapped, bad, known_skus, report, save_cursor=page.next_cursor != cursor)
            cursor = page.next_cursor
            if progress:
                progress(name, len(page.payloads))
    return report


_Mapped = tuple[OrderPage, list[tuple[Any, Order]], list[tuple[Any, str]]]


def _fetch_and_map(channel: Any, cursor: str | None) -> _Mapped:
    """Fetch the page after ``cursor`` and map each record: ``(page, [(payload, order)], [(payload, error)])``."""
    page = channel.fetch_orders(cursor)
    mapped: list[tuple[Any, Order]] = []
    bad: list[tuple[Any, str]] = []
    for payload in page.payloads:
        try:
            mapped.append((payload, channel.parse_order(payload)))
        except Exception as exc:  # a mapping bug must not lose the payload either
            bad.append((payload, describe_error(exc)))
    return page, mapped, bad


def _store_page(rt: Runtime, name: str, page: OrderPage, mapped: list[tuple[Any, Order]], bad: list[tuple[Any, str]],
                known_skus: set[str], report: JobReport, *, save_cursor: bool = True) -> None:
    """Store what mapped, quarantine what did not, and save the page's cursor: one transaction.

    A record that maps but that the store refuses (a value the database cannot hold)
    must not jam the channel: the page is then stored again record by record, each in a
    savepoint, and the record that fails is quarantined alone with its reason.
    """
    now = rt.clock.now()
    source = f"channel:{name}"
    promises = rt.promise_engine() if mapped else None
    try:
        with rt.store.transaction() as tx:
            tx.gather_appends()  # the page's order events: one insert at commit
            result = intake.ingest(tx, rt.hooks, [order for _, order in mapped], at=now, known_skus=known_skus,
                                   intake=rt.config.intake, source=source, promises=promises)
            fresh = [(p, err) for p, err in bad if quarantine_store.keep(tx, name, "order", p, err, now)]
            if save_cursor:
                cursors.save(tx, name, page.next_cursor, now)
    except Exception as exc:
        log.warning("channel %s: the store refused a page (%s); storing it record by record", name, describe_error(exc))
        result = intake.IngestResult()
        with rt.store.transaction() as tx:
            for payload, order in mapped:
                hooks_before = len(tx.after_commit)
                try:
                    with tx.conn.begin_nested():
                        result.add(intake.ingest(tx, rt.hooks, [order], at=now, known_skus=known_skus,
                                                 intake=rt.config.intake, source=source, promises=promises))
                except Exception as refused:  # this record alone: rolled back to its savepoint
                    del tx.after_commit[hooks_before:]
                    bad.append((payload, f"the store refused the mapped order {order.id}: {describe_error(refused)}"))
            fresh = [(p, err) for p, err in bad if quarantine_store.keep(tx, name, "order", p, err, now)]
            if save_cursor:
                cursors.save(tx, name, page.next_cursor, now)
    for field in attrs.fields(intake.IngestResult):
        report.counts[f"orders_{field.name}"] += getattr(result, field.name)
    report.counts["quarantined"] += len(fresh)
    report.counts["pages"] += 1
    for payload, err in fresh:
        log.warning("channel %s: quarantined a payload (id %s): %s", name, _payload_id(payload), err)


def _payload_id(payload: Any) -> str:
    return str(payload.get("id", "?")) if isinstance(payload, dict) else "?"
