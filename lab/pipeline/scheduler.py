"""The scheduler (APScheduler 3.x): cron entries from lab.toml run notebooks through the runner;
one instance per job, misfires coalesced, a failing job never stops the others, clean SIGTERM."""

from __future__ import annotations

import logging
import re
import signal
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_SCHEDULER_STARTED
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger

from lab.core.config import LabConfig, ScheduleJob
from lab.core.errors import ConfigError, NotebookError
from lab.pipeline.runner import RunOutcome, run_notebook

log = logging.getLogger("lab.scheduler")


_CRON_DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def standard_crontab(expr: str) -> str:
    """APScheduler 3 reads weekday numbers with 0 = Monday; standard cron means 0 (and 7) = Sunday.
    Numbers in the weekday field are rewritten as names so that cron lines mean what cron means."""
    fields = expr.split()
    if len(fields) == 5:
        fields[4] = re.sub(r"(?<![/\d])([0-7])(?!\d)", lambda m: _CRON_DAYS[int(m.group(1))], fields[4])
    return " ".join(fields)


def trigger_for(name: str, job: ScheduleJob) -> CronTrigger:
    try:
        return CronTrigger.from_crontab(standard_crontab(job.cron), timezone="UTC")
    except ValueError as exc:
        raise ConfigError(
            f"schedule.{name}.cron = {job.cron!r}: {exc} (five fields: minute hour day month weekday)"
        ) from None


# The lab's tasks by name (`task = "promote"` in a [schedule.*] entry). The pipeline layer does not
# reach the promoter itself: the command line registers the callables (lab.cli.notebook_cmds).
Task = Callable[[LabConfig], str]


@dataclass(frozen=True)
class TaskOutcome:
    status: str  # succeeded, failed
    duration_s: float
    output_html: str  # what it said (a task leaves no report)
    error: str | None = None


def run_job(config: LabConfig, name: str, tasks: dict[str, Task] | None = None) -> RunOutcome | TaskOutcome:
    """Run one scheduled job now."""
    if name not in config.schedule:
        raise NotebookError(
            f"no scheduled job {name!r}; jobs: {', '.join(sorted(config.schedule)) or 'none'}"
        )
    job = config.schedule[name]
    if job.task is not None:
        import time

        task = (tasks or {}).get(job.task)
        if task is None:
            raise NotebookError(f"schedule.{name}: task {job.task!r} is not available to this scheduler")
        began = time.monotonic()
        try:
            said = task(config)
        except Exception as exc:  # recorded in the log; the scheduler goes on
            return TaskOutcome("failed", time.monotonic() - began, "", f"{type(exc).__name__}: {exc}")
        return TaskOutcome("succeeded", time.monotonic() - began, said)
    assert job.notebook is not None
    return run_notebook(config, job.notebook, dict(job.parameters), trigger=f"schedule:{name}")


def _safe_run(config: LabConfig, name: str, tasks: dict[str, Task] | None = None) -> None:
    # A failing or crashing job is logged and recorded; it must never take the scheduler down.
    try:
        outcome = run_job(config, name, tasks)
        log.info("job %s: %s in %.1f s (%s)", name, outcome.status, outcome.duration_s, outcome.output_html)
    except Exception:
        log.exception("job %s crashed", name)


@dataclass(frozen=True)
class PlannedJob:
    name: str
    notebook: str
    cron: str
    next_run: datetime | None
    enabled: bool


def planned(config: LabConfig, now: datetime | None = None) -> list[PlannedJob]:
    """Every configured job with its next run time (UTC)."""
    from datetime import UTC

    now = now or datetime.now(UTC)
    out = []
    for name, job in sorted(config.schedule.items()):
        trigger = trigger_for(name, job)
        out.append(
            PlannedJob(
                name,
                job.what,
                job.cron,
                trigger.get_next_fire_time(None, now) if job.enabled else None,
                job.enabled,
            )
        )
    return out


def record_plan(config: LabConfig, scheduler: Any) -> None:
    """Write every job's next run to the DB, where the dashboard reads it."""
    from lab.store.db import session_scope
    from lab.store.models import ScheduledJob

    with session_scope(config) as session:
        session.query(ScheduledJob).delete()
        for job in scheduler.get_jobs():
            spec = config.schedule[job.id]
            session.add(
                ScheduledJob(
                    name=job.id,
                    notebook=spec.what,
                    cron=spec.cron,
                    next_run=getattr(job, "next_run_time", None),
                )
            )


def build_scheduler(
    config: LabConfig, scheduler: Any | None = None, tasks: dict[str, Task] | None = None
) -> Any:
    """A scheduler with every enabled job added (not started); `tasks` runs the task entries."""
    scheduler = scheduler or BlockingScheduler(timezone="UTC")
    for name, job in config.schedule.items():
        if job.enabled:
            scheduler.add_job(
                _safe_run,
                trigger_for(name, job),
                args=(config, name, tasks),
                id=name,
                name=name,
                max_instances=1,
                coalesce=True,
                misfire_grace_time=3600,
                replace_existing=True,
            )
    return scheduler


def serve(config: LabConfig, tasks: dict[str, Task] | None = None) -> None:
    """Run the scheduler in the foreground until SIGTERM/SIGINT; a running job finishes first."""
    scheduler = build_scheduler(config, tasks=tasks)

    def stop(signum: int, _frame: object) -> None:
        log.info("signal %s: shutting down after running jobs finish", signum)
        scheduler.shutdown(wait=True)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    scheduler.add_listener(
        lambda _event: record_plan(config, scheduler), EVENT_JOB_EXECUTED | EVENT_JOB_ERROR
    )
    scheduler.add_listener(lambda _event: record_plan(config, scheduler), EVENT_SCHEDULER_STARTED)
    scheduler.start()
