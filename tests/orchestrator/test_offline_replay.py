"""The offline policy (deterministic rules on the same inputs, provider=offline), its honesty on noise,
the replay client (a past night re-run from its recorded responses) and the generated shadow trading
through its sandboxed worker."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from sqlalchemy import select

from lab.backtest.run import run_backtest
from lab.orchestrator.nightly import run_nightly
from lab.orchestrator.offline import OfflinePolicy
from lab.store import spool
from lab.store.models import Book
from lab.trading.setup import replay_engine
from tests.orchestrator.helpers import db_of, night_project
from tests.trading.helpers import engine_trades
from tests.trading.test_parity import assert_same_trades


def _items(returns: list[float]) -> list[dict]:
    p = float(stats.ttest_1samp(returns, 0.0, alternative="less").pvalue)
    catalogue = [
        {
            "name": "s",
            "voting": False,
            "params": {"volume_min": {"default": 1.2, "low": 0.8, "high": 2.0, "step": 0.2}},
        }
    ]
    return [
        {
            "kind": "truth_benchmark",
            "name": "expectancy_test",
            "value": [
                {
                    "book": "paper",
                    "strategy": "s",
                    "trades": len(returns),
                    "mean_return": float(np.mean(returns)),
                    "p_loss": p,
                }
            ],
        },
        {"kind": "constraint", "name": "strategies", "value": catalogue},
    ]


def test_the_offline_policy_acts_on_a_real_loss_and_not_on_noise():
    policy = OfflinePolicy()
    rng = np.random.default_rng(11)
    noise = sum(
        policy._decide({"items": _items(list(rng.normal(0, 0.004, 40)))})["decision"] != "NO_CHANGE"
        for _ in range(200)
    )
    losing = sum(
        policy._decide({"items": _items(list(rng.normal(-0.003, 0.004, 40)))})["decision"] != "NO_CHANGE"
        for _ in range(200)
    )
    assert noise <= 16  # alpha = 0.05 of 200: ~10 expected
    assert losing >= 190
    thin = policy._decide({"items": _items(list(rng.normal(-0.003, 0.004, 20)))})
    assert thin["decision"] == "NO_CHANGE" and "no book loses with significance" in thin["rationale"]


def test_an_offline_night_lands_a_generated_shadow_that_trades_only_through_its_sandbox(lab_root):
    cfg = night_project(lab_root)
    first = run_nightly(cfg, client=OfflinePolicy(), tools=False)
    assert first.decision == "STRATEGY_UPDATE", first.reason
    (cand,) = spool.candidates(db_of(cfg), first.cycle_id).to_dict("records")
    assert (
        cand["status"] == "shadow"
        and "p = " in spool.thoughts(db_of(cfg), first.cycle_id)["raw_text"].iloc[1]
    )
    name = cand["name"]
    # the shadow replays in the engine: its signals come from the sandboxed worker, its trades equal the
    # backtest of the same code run in-process (a copy without the generated marker)
    path = cfg.strategies_dir / "candidates" / "generated" / f"{name}.py"
    trusted = cfg.strategies_dir / "candidates" / "trusted_copy.py"
    trusted.write_text(path.read_text().split("\n", 1)[1].replace(f"'{name}'", "'trusted_copy'"))
    symbols = ["BTC/USD", "ETH/USD"]
    replay_engine(cfg, "ema_rsi_volume", symbols, exchange="synthetic", shadows=True).run()
    expected = run_backtest(cfg, "trusted_copy", symbols, exchange="synthetic", record=False)
    got = engine_trades(cfg, f"shadow:{name}")
    assert len(expected.trades) > 0
    assert_same_trades(expected.trades, got)
    import sys

    assert not any("generated" in m and name in m for m in sys.modules)  # never imported here
    second = run_nightly(cfg, client=OfflinePolicy(), tools=False)
    assert second.decision == "NO_CHANGE" and "tried already" in second.reason


def test_a_past_night_replays_from_the_spool(lab_root):
    cfg = night_project(lab_root)
    first = run_nightly(cfg, client=OfflinePolicy(), tools=False)
    before = sorted(p.name for p in (cfg.strategies_dir / "candidates" / "generated").glob("*"))
    again = run_nightly(cfg, replay=first.cycle_id, dry_run=True, tools=False)
    assert (again.decision, again.status) == (first.decision, "completed")
    row = spool.cycle(db_of(cfg), again.cycle_id)
    assert row["provider"] == "replay" and row["replay_of"] == first.cycle_id and row["dry_run"]
    old, new = spool.thoughts(db_of(cfg), first.cycle_id), spool.thoughts(db_of(cfg), again.cycle_id)
    assert new["raw_text"].tolist() == old["raw_text"].tolist()
    (cand,) = spool.candidates(db_of(cfg), again.cycle_id).to_dict("records")
    assert cand["status"] == "dry_run" and cand["shadow_key"] is None
    assert sorted(p.name for p in (cfg.strategies_dir / "candidates" / "generated").glob("*")) == before
    with db_of(cfg).connect() as c:
        assert len(c.execute(select(Book.key).where(Book.mode == "shadow")).all()) == 1
    with pytest.raises(Exception, match="no recorded responses"):
        run_nightly(cfg, replay=999, tools=False)
