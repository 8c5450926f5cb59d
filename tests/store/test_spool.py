"""The thought spool's store: observations unique per cycle and pruned by age, full-text search (FTS5,
phrase-safe), secrets scrubbed before anything is written."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from lab.store import spool
from lab.store.db import ensure_schema, get_engine


def _db(cfg):
    ensure_schema(cfg.db_url)
    return get_engine(cfg.db_url)


def test_observations_are_unique_per_cycle_and_pruned_by_age(cfg):
    db = _db(cfg)
    a = spool.start_cycle(db, "offline", False, {})
    b = spool.start_cycle(db, "offline", False, {})
    assert spool.add_observations(db, a, ["win rate 40%", "win rate  40%", "drawdown 2%"]) == 2
    assert spool.add_observations(db, a, ["drawdown 2%"]) == 0
    assert spool.add_observations(db, b, ["drawdown 2%"]) == 1  # another cycle may learn it again
    assert spool.recent_observations(db) == ["drawdown 2%", "win rate 40%"]
    assert spool.prune_observations(db, keep_days=30, now=datetime.now(UTC) + timedelta(days=31)) == 3
    assert spool.observations(db, a) == []


def test_search_finds_phrases_and_tolerates_quotes(cfg):
    db = _db(cfg)
    c = spool.start_cycle(db, "offline", False, {})
    spool.add_thought(
        db, c, stage="analyze", provider="offline", raw_text="the paper book loses 0.4% per trade"
    )
    spool.add_thought(
        db, c, stage="decide", provider="offline", raw_text='{"decision": "NO_CHANGE"}', error=""
    )
    hits = spool.search(db, "loses 0.4%")
    assert hits["stage"].tolist() == ["analyze"] and "«loses" in hits["snippet"].iloc[0]
    assert spool.search(db, '"decision": "NO_CHANGE"')["stage"].tolist() == ["decide"]
    assert spool.search(db, "nothing like this").empty


def test_secrets_never_reach_the_spool(cfg, monkeypatch):
    key = "-".join(("sk", "ant", "secret", "abcdef0123456789"))  # a fake, built here
    monkeypatch.setenv("ANTHROPIC_API_KEY", key)
    db = _db(cfg)
    c = spool.start_cycle(db, "anthropic", False, {"items": [{"value": f"x {key}"}]})
    spool.add_thought(
        db, c, stage="analyze", provider="anthropic", raw_text=f"key={key}", parsed={"k": key}, error=key
    )
    spool.add_observations(db, c, [f"saw {key}"])
    spool.finish_cycle(db, c, "failed", "NO_CHANGE", f"because {key}", 1.0)
    dump = "\n".join(get_engine(cfg.db_url).raw_connection().driver_connection.iterdump())
    assert key not in dump and dump.count("[redacted]") >= 5
