"""``fulfilhub run``: the in-process schedule, until SIGINT/SIGTERM.

Each job runs at its configured interval, measured on the runtime's clock, so the same
scheduler drives the real world (wall clock, :meth:`Scheduler.run`) and a simulation
(scenario clock moved by the caller, :meth:`Scheduler.tick`). A signal sets a stop flag
and the loop exits cleanly: the job in progress runs to its end (each page and effect
it handles is its own transaction) and no further job starts. Every job is idempotent
and resumable, so even a hard kill loses nothing.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from ..store import job_runs
from .jobs import JOBS, Gate
from .reports import JobReport, record_runs, run_of
from .runtime import Runtime

log = logging.getLogger("fulfilhub.scheduler")


class Scheduler:
    def __init__(self, rt: Runtime, schedule: Mapping[str, timedelta], *, on_report: Callable[[JobReport], None] | None = None):
        unknown = set(schedule) - set(JOBS)
        if unknown:
            raise ValueError(f"unknown jobs in schedule: {', '.join(sorted(unknown))}")
        self.rt = rt
        self.schedule = dict(schedule)
        rt.schedule.update(self.schedule)  # jobs plan their next looks by it
        self.stop_event = threading.Event()
        self.on_report = on_report
        self.runs = 0
        self._next_due: dict[str, datetime | None] = {job: None for job in self.schedule}  # None: at once

    def install_signal_handlers(self) -> None:
        def stop(signum: int, _frame: object) -> None:
            log.info("received %s; stopping after the current job", signal.Signals(signum).name)  # `run` says it stopped
            self.stop_event.set()

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)

    def tick(self) -> list[JobReport]:
        """Run every job that is due now on the runtime's clock (in schedule order), but
        those with nothing waiting (:class:`~.jobs.Gate`); keep the tick's runs in one
        transaction at its end."""
        reports: list[JobReport] = []
        runs: list[job_runs.Run] = []
        gate = Gate(self.rt)
        try:
            for job, interval in self.schedule.items():
                if self.stop_event.is_set():
                    break
                due = self._next_due[job]
                if due is None or due <= self.rt.clock.now():
                    reports.append(self._run_job(job, gate, runs))
                    self._next_due[job] = self.rt.clock.now() + interval
        finally:
            if runs:
                record_runs(self.rt, runs)
        return reports

    def run(self, *, max_ticks: int | None = None) -> None:
        """Tick until stopped (or ``max_ticks``), waiting in real time between ticks."""
        ticks = 0
        while not self.stop_event.is_set():
            self.tick()
            ticks += 1
            if max_ticks is not None and ticks >= max_ticks:
                break
            now = self.rt.clock.now()
            wait = min(((d - now).total_seconds() for d in self._next_due.values() if d is not None), default=1.0)
            self.stop_event.wait(min(max(wait, 0.05), 60.0))

    def _run_job(self, job: str, gate: Gate, runs: list[job_runs.Run]) -> JobReport:
        started, began = self.rt.clock.now(), time.monotonic()
        try:
            report = gate.run(JOBS[job], job)
        except Exception as exc:  # one failing job must not stop the schedule
            log.exception("job %s crashed", job)
            report = JobReport(job, errors=[f"{type(exc).__name__}: {exc}"])
            runs.append(run_of(report, started, time.monotonic() - began, trigger="run", outcome="crashed"))
        else:
            runs.append(run_of(report, started, time.monotonic() - began, trigger="run"))
        self.runs += 1
        for error in report.errors:
            log.warning("%s: %s", job, error)
        if self.on_report:
            self.on_report(report)
        return report
