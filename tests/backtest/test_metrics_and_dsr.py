import math

import numpy as np
import pandas as pd
import pytest

from lab.core import metrics as m
from lab.core.sharpe import deflated_sharpe, expected_max_sharpe, probabilistic_sharpe


def equity(values, freq="1D"):
    return pd.Series(
        values, index=pd.date_range("2024-01-01", periods=len(values), freq=freq, tz="UTC"), dtype=float
    )


def test_return_drawdown_and_duration_by_hand():
    eq = equity([100, 110, 99, 104.5, 121, 115])
    assert m.total_return(eq) == pytest.approx(0.15)
    assert m.max_drawdown(eq) == pytest.approx(99 / 110 - 1)
    assert m.max_drawdown_duration(eq) == pd.Timedelta(days=3)  # below 110 from day 2 until day 4
    assert m.annualized_return(eq, 365) == pytest.approx(1.15 ** (365 / 5) - 1)


def test_sharpe_and_sortino_on_daily_returns():
    eq = equity([100, 101, 100, 102, 101], freq="12h")  # intraday points: only day closes count
    daily = m.daily_returns(eq)
    # day closes are 101 (Jan 1), 102 (Jan 2), 101 (Jan 3); the first return is measured from the start, 100
    assert daily.tolist() == pytest.approx([101 / 100 - 1, 102 / 101 - 1, 101 / 102 - 1])
    r = pd.Series([0.01, -0.02, 0.03, 0.0])
    assert m.sharpe_ratio(r, 365) == pytest.approx(r.mean() / r.std(ddof=1) * math.sqrt(365))
    assert m.sortino_ratio(r, 365) == pytest.approx(r.mean() / math.sqrt(0.02**2 / 4) * math.sqrt(365))


def test_trade_statistics_by_hand():
    trades = pd.DataFrame(
        {
            "status": ["closed", "closed", "closed", "open"],
            "pnl": [30.0, -10.0, -20.0, 5.0],
            "entry_fees": [1.0, 1.0, 1.0, 1.0],
            "exit_fees": [1.0, 1.0, 1.0, 0.0],
        }
    )
    assert m.win_rate(trades) == pytest.approx(1 / 3)
    assert m.profit_factor(trades) == pytest.approx(30 / 30)
    assert m.expectancy(trades) == pytest.approx(0.0)
    assert m.average_win(trades) == 30 and m.average_loss(trades) == -15
    assert m.fees_paid(trades) == 7
    assert m.fee_share_of_gross_profit(trades) == pytest.approx(6 / 32)  # gross of fees: 32 (winner only)


def test_break_even_move_for_kraken_taker():
    assert m.break_even_move(0.004, 0.0) == pytest.approx(1.004 / 0.996 - 1)  # ~0.80% round trip


def test_psr_and_expected_max_sharpe_formulas():
    assert probabilistic_sharpe(0.0, 100, 0.0, 3.0) == pytest.approx(0.5)
    from statistics import NormalDist

    nd = NormalDist()
    # z = 0.1·√100 / √(1 − 0 + (3 − 1)/4 · 0.1²) = 1 / √1.005
    assert probabilistic_sharpe(0.1, 101, 0.0, 3.0) == pytest.approx(nd.cdf(1 / math.sqrt(1.005)))
    g = 0.5772156649015329
    expected = (1 - g) * nd.inv_cdf(1 - 1 / 50) + g * nd.inv_cdf(1 - 1 / (50 * math.e))
    assert expected_max_sharpe(50, 1.0) == pytest.approx(expected)


def test_dsr_rejects_the_best_of_many_zero_skill_strategies():
    rng = np.random.default_rng(0)
    passes_naive = passes_dsr = 0
    for _ in range(40):
        trials = rng.normal(0, 0.01, (250, 50))
        sharpes = trials.mean(0) / trials.std(0, ddof=1)
        best = trials[:, int(np.argmax(sharpes))]
        sr = best.mean() / best.std(ddof=1)
        passes_naive += probabilistic_sharpe(sr, 250, 0.0, 3.0) > 0.95
        passes_dsr += deflated_sharpe(best, 50, sharpes) > 0.95
    assert passes_naive >= 30  # FIELD_NOTES: ~92% of the time
    assert passes_dsr <= 2  # ~0.1%


def test_daily_returns_skip_missing_days_and_match_a_daily_resample():
    idx = pd.date_range("2024-03-01", periods=6 * 288, freq="5min", tz="UTC")
    eq = pd.Series(100 + np.cumsum(np.random.default_rng(1).normal(0, 0.1, len(idx))), index=idx)
    eq = eq.drop(eq.index[(eq.index >= "2024-03-03") & (eq.index < "2024-03-04")])  # a whole day missing
    daily = m.daily_returns(eq)
    closes = eq.resample("1D").last().dropna()
    expected = pd.concat([pd.Series([eq.iloc[0]]), pd.Series(closes.to_numpy())]).pct_change().dropna()
    assert list(daily.index) == list(closes.index)
    assert pd.Timestamp("2024-03-03", tz="UTC") not in daily.index
    np.testing.assert_allclose(daily.to_numpy(), expected.to_numpy(), rtol=1e-12)
