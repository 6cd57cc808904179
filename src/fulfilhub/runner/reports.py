"""What a job run did, and the bookkeeping of runs: :class:`JobReport`, one line per
error, ``job_runs`` records, and threads per adapter instance.

Every job module imports this one and nothing imports a job module but the registry
(:mod:`.jobs`), so the runner has no import circle.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any, TypeVar

import attrs

from ..errors import FulfilhubError, Unreachable
from ..store import job_runs
from .runtime import Runtime

log = logging.getLogger("fulfilhub.runner")

T = TypeVar("T")
R = TypeVar("R")
Progress = Callable[[str, int], None]  # (what, how many more) for progress bars


@attrs.define
class JobReport:
    """What one job run did: counters and the errors it met (and carried on past)."""

    job: str
    counts: Counter = attrs.Factory(Counter)
    errors: list[str] = attrs.Factory(list)
    #: The lines of instances given up for this pass (each shown once, see :meth:`unreachable`).
    gone: set[str] = attrs.Factory(set)

    def merge(self, other: JobReport) -> None:
        self.counts.update(other.counts)
        self.errors.extend(e for e in other.errors if not (e in other.gone and e in self.gone))
        self.gone |= other.gone

    def unreachable(self, exc: Unreachable) -> None:
        """An instance given up for this pass: one line for it, however many items it held up."""
        line = str(exc)
        if line not in self.gone:
            self.gone.add(line)
            self.errors.append(line)
        self.counts["unreachable"] += 1

    @property
    def ok(self) -> bool:
        return not self.errors


def describe_error(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, FulfilhubError) else f"{type(exc).__name__}: {exc}"


def summarize(reports: Iterable[JobReport]) -> JobReport:
    total = JobReport("sync")
    for report in reports:
        total.merge(report)
    return total


def in_threads(work: Callable[[T], R], items: Iterable[T]) -> list[R]:
    """``work`` over ``items``, in threads when there is more than one (results in order)."""
    items = list(items)
    if len(items) <= 1:
        return [work(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(8, len(items)), thread_name_prefix="fulfilhub") as pool:
        return list(pool.map(work, items))


def grouped(items: Iterable[T], key: Callable[[T], str]) -> dict[str, list[T]]:
    """Items by the adapter instance that serves them: one thread per instance, in order within it."""
    out: dict[str, list[T]] = defaultdict(list)
    for item in items:
        out[key(item)].append(item)
    return out


def concurrently(groups: Iterable[T], work: Callable[[T], JobReport], job: str) -> JobReport:
    """``work`` over ``groups`` in threads, their reports merged into one for ``job``."""
    report = JobReport(job)
    for result in in_threads(work, groups):
        report.merge(result)
    return report


def recorded(rt: Runtime, job: Callable[..., JobReport], *, trigger: str, **kwargs: Any) -> JobReport:
    """Run ``job`` and keep its run (start, duration, outcome, counts) in ``job_runs``.

    A job that raises is recorded as ``crashed`` and the exception goes on.
    """
    started, began = rt.clock.now(), time.monotonic()
    try:
        report = job(rt, **kwargs)
    except Exception as exc:
        record_run(rt, JobReport(job.__name__, errors=[describe_error(exc)]), started, time.monotonic() - began,
                   trigger=trigger, outcome="crashed")
        raise
    record_run(rt, report, started, time.monotonic() - began, trigger=trigger)
    return report


def record_run(rt: Runtime, report: JobReport, started: datetime, seconds: float, *, trigger: str,
               outcome: str | None = None) -> None:
    """Keep one job run in ``job_runs``: it started at ``started`` on the runtime's clock and
    took ``seconds`` of real time. A failure to record it is logged, never raised."""
    record_runs(rt, [run_of(report, started, seconds, trigger=trigger, outcome=outcome)])


def run_of(report: JobReport, started: datetime, seconds: float, *, trigger: str,
           outcome: str | None = None) -> job_runs.Run:
    """The record of one job run (kept by :func:`record_runs`)."""
    return job_runs.Run(job=report.job, trigger=trigger, started_at=started,
                        finished_at=started + timedelta(seconds=seconds),
                        outcome=outcome or ("ok" if report.ok else "errors"), counts=dict(report.counts),
                        errors=list(report.errors))


def record_runs(rt: Runtime, runs: list[job_runs.Run]) -> None:
    """Keep several job runs (a whole pass or scheduler tick) and the circuit breakers that
    changed, in one transaction. A failure to record them is logged, never raised."""
    try:
        with rt.store.transaction() as tx:
            rt.save_breakers(tx)
            job_runs.record_many(tx, runs)
    except Exception as exc:  # bookkeeping must not stop the work
        log.warning("could not record the runs of %s: %s", ", ".join(sorted({r.job for r in runs})),
                    describe_error(exc))
