from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner

from lab.cli.main import app
from lab.cli.notebook_cmds import collect_parameters
from lab.core.config import ScheduleJob
from lab.core.errors import ConfigError, NotebookError
from lab.pipeline import scheduler


def _with_jobs(cfg, **jobs):
    return cfg.model_copy(update={"schedule": {k: ScheduleJob(**v) for k, v in jobs.items()}})


def test_cron_weekdays_mean_what_cron_means():
    assert scheduler.standard_crontab("0 3 * * 0") == "0 3 * * sun"
    assert scheduler.standard_crontab("0 3 * * 1-5") == "0 3 * * mon-fri"
    assert scheduler.standard_crontab("*/15 2 * * 7") == "*/15 2 * * sun"


def test_planned_next_runs(cfg):
    cfg = _with_jobs(
        cfg,
        nightly={"notebook": "backtest", "cron": "30 2 * * *"},
        weekly={"notebook": "backtest", "cron": "0 3 * * 0"},
        off={"notebook": "backtest", "cron": "0 1 * * *", "enabled": False},
    )
    now = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)  # a Wednesday
    jobs = {j.name: j for j in scheduler.planned(cfg, now)}
    assert jobs["nightly"].next_run == datetime(2026, 11, 19, 2, 30, tzinfo=UTC)
    assert jobs["weekly"].next_run == datetime(2026, 11, 22, 3, 0, tzinfo=UTC)  # Sunday
    assert jobs["off"].next_run is None


def test_scheduler_jobs_are_single_instance_and_coalesced(cfg):
    from apscheduler.schedulers.background import BackgroundScheduler

    cfg = _with_jobs(
        cfg,
        a={"notebook": "backtest", "cron": "0 * * * *"},
        b={"notebook": "backtest", "cron": "0 1 * * *", "enabled": False},
    )
    sched = scheduler.build_scheduler(cfg, BackgroundScheduler(timezone="UTC"))
    jobs = sched.get_jobs()
    assert [j.id for j in jobs] == ["a"]
    assert jobs[0].max_instances == 1 and jobs[0].coalesce is True


def test_bad_cron_is_a_config_error(cfg):
    with pytest.raises(ConfigError, match=r"schedule\.x\.cron"):
        scheduler.planned(_with_jobs(cfg, x={"notebook": "backtest", "cron": "61 * * * *"}))


def test_a_failing_job_is_logged_not_raised(cfg, caplog):
    cfg = _with_jobs(cfg, broken={"notebook": "no_such_notebook", "cron": "0 * * * *"})
    scheduler._safe_run(cfg, "broken")
    assert "job broken crashed" in caplog.text
    with pytest.raises(NotebookError, match="no scheduled job 'nope'"):
        scheduler.run_job(cfg, "nope")


def test_parameter_parsing_from_the_command_line(tmp_path):
    f = tmp_path / "p.yaml"
    f.write_text("sweep: false\nsymbols: [BTC/USD]\n")
    params = collect_parameters(
        ["sweep_limit", "10", "start", "2025-01-01", "symbols", '["ETH/USD"]'], ["id", "001"], f
    )
    assert params == {
        "sweep": False,
        "symbols": ["ETH/USD"],
        "sweep_limit": 10,
        "start": "2025-01-01",
        "id": "001",
    }
    with pytest.raises(NotebookError, match="pairs"):
        collect_parameters(["lonely"], [], None)


def test_schedule_list_cli(cfg):
    result = CliRunner().invoke(app, ["schedule", "--list"])
    assert result.exit_code == 0


def test_running_scheduler_records_its_plan_for_the_dashboard(cfg):
    from apscheduler.schedulers.background import BackgroundScheduler

    from lab.dashboard.queries import notebook_jobs
    from lab.store.db import readonly_engine

    cfg = _with_jobs(cfg, nightly={"notebook": "backtest", "cron": "30 2 * * *"})
    sched = scheduler.build_scheduler(cfg, BackgroundScheduler(timezone="UTC"))
    sched.start(paused=True)
    try:
        scheduler.record_plan(cfg, sched)
    finally:
        sched.shutdown(wait=False)
    jobs = notebook_jobs(readonly_engine(cfg.db_url), cfg)
    row = jobs.set_index("job").loc["nightly"]
    assert row["cron"] == "30 2 * * *" and row["next_run"].hour == 2 and row["next_run"].minute == 30


def test_notebook_run_takes_name_value_pairs_as_the_readme_shows():
    from lab.cli.notebook_cmds import split_pairs

    assert split_pairs(["-p", "n_sims", "300", "-r", "strategy", "x", "-p", "seed", "2"]) == (
        ["n_sims", "300", "seed", "2"],
        ["strategy", "x"],
    )
    with pytest.raises(NotebookError, match="-p needs a NAME and a VALUE"):
        split_pairs(["-p", "n_sims"])
    with pytest.raises(NotebookError, match="unexpected argument 'oops'"):
        split_pairs(["oops"])


def test_a_task_entry_runs_the_registered_task_and_a_failure_is_an_outcome(cfg):
    cfg = _with_jobs(cfg, daily={"task": "promote", "cron": "30 0 * * *"})
    said = []
    out = scheduler.run_job(cfg, "daily", {"promote": lambda c: said.append(c) or "2 shadows evaluated"})
    assert out.status == "succeeded" and out.output_html == "2 shadows evaluated" and said == [cfg]

    def boom(_c):
        raise RuntimeError("no paper book")

    failed = scheduler.run_job(cfg, "daily", {"promote": boom})
    assert failed.status == "failed" and "no paper book" in failed.error
    with pytest.raises(NotebookError, match="task 'promote' is not available"):
        scheduler.run_job(cfg, "daily", {})
    assert scheduler.planned(cfg)[0].notebook == "task promote"


def test_a_job_names_exactly_one_of_notebook_or_task():
    with pytest.raises(ValueError, match="exactly one of notebook or task"):
        ScheduleJob(cron="0 1 * * *")
    with pytest.raises(ValueError, match="exactly one of notebook or task"):
        ScheduleJob(notebook="backtest", task="promote", cron="0 1 * * *")
    with pytest.raises(ValueError):
        ScheduleJob(task="astrology", cron="0 1 * * *")


def test_the_daily_promoter_task_evaluates_the_shadows(lab_root):
    from lab.cli.shadow_cmds import promote_task
    from lab.trading.setup import replay_engine
    from lab.trading.shadows import add_shadow
    from tests.trading.helpers import SYMBOLS, make_project

    cfg = make_project(lab_root, days=2)
    add_shadow(cfg, "bollinger", "bollinger_rsi_reversion")
    replay_engine(cfg, "ema_rsi_volume", SYMBOLS, exchange="synthetic", shadows=True).run()
    assert promote_task(cfg) == "1 shadow(s) evaluated, none promoted"


def test_the_daily_agent_snapshot_task_judges_the_engine_record(lab_root):
    from sqlalchemy import func, select

    from lab.cli.agents_cmds import snapshot_task
    from lab.store.db import session_scope
    from lab.store.models import AgentPerformance
    from lab.trading.setup import replay_engine
    from lab.trading.shadows import add_shadow
    from tests.trading.helpers import SYMBOLS, agent_project

    cfg = agent_project(lab_root, days=2)
    add_shadow(cfg, "ensemble", "ensemble", {"entry_threshold": 0.2, "exit_threshold": 0.2})
    replay_engine(cfg, "ema_rsi_volume", SYMBOLS, exchange="synthetic", shadows=True).run()
    said = snapshot_task(cfg)
    assert said.startswith("10 agent_performance rows for engine book shadow:ensemble")
    with session_scope(cfg) as s:
        assert s.scalar(select(func.count()).select_from(AgentPerformance)) == 10
