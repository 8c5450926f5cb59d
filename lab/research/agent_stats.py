"""Which agents earn their place: per-agent statistics of the votes on a voting strategy's decisions,
and flags that need evidence.

For each agent, over the decisions in scope (votes_frame rows joined with each decision's forward
return over `horizon_bars`):
- hit rate of its directional votes (vote != 0: right when the forward return has the vote's sign),
  with a Wilson interval (scipy);
- information coefficient: Spearman rank correlation of vote and forward return (scipy), with a
  Fisher-z interval using the Fieller-Hartley-Pearson variance 1.06 / (n - 3) for Spearman's rho;
- the trades it voted for and against (the entry decision's trade and its net return);
- vote count and abstention rate (with the reasons).

Flag (an underperformer): the one-sided test of H0: IC >= min_ic against H1: IC < min_ic, its p-values
adjusted over every agent tested (Holm by default, statsmodels), flagged when the adjusted p-value is
below alpha and the agent has at least min_votes votes. A random agent's IC is 0: with enough votes
its interval falls below min_ic and it is flagged; with few votes nothing is flagged (not enough
evidence). Hysteresis: a flag lifts only after reenable_after consecutive snapshots in which the
agent is clear (not significant, and IC at least min_ic).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.multitest import multipletests

from lab.core.config import AgentsConfig

FLAG_TEST = (
    "one-sided Fisher-z test of H0: Spearman IC >= min_ic (variance 1.06/(n-3)), "
    "p-values adjusted over the agents tested"
)


def wilson(hits: int, n: int, level: float = 0.95) -> tuple[float, float]:
    if n == 0:
        return (math.nan, math.nan)
    ci = stats.binomtest(hits, n).proportion_ci(confidence_level=level, method="wilson")
    return float(ci.low), float(ci.high)


def spearman_ic(vote: np.ndarray, fwd: np.ndarray, min_ic: float, level: float = 0.95) -> dict[str, float]:
    """IC, its interval, and the one-sided p-value of H0: IC >= min_ic."""
    n = len(vote)
    nan = {"ic": math.nan, "ic_low": math.nan, "ic_high": math.nan, "p_value": math.nan, "z": math.nan}
    if n < 5 or np.ptp(vote) == 0 or np.ptp(fwd) == 0:
        return nan
    rho = float(stats.spearmanr(vote, fwd).statistic)
    se = math.sqrt(1.06 / (n - 3))
    z_rho = math.atanh(max(-0.999999, min(0.999999, rho)))
    q = stats.norm.ppf(0.5 + level / 2)
    z = (z_rho - math.atanh(min_ic)) / se
    return {
        "ic": rho,
        "ic_low": math.tanh(z_rho - q * se),
        "ic_high": math.tanh(z_rho + q * se),
        "p_value": float(stats.norm.cdf(z)),
        "z": z,
    }


def forward_returns(
    decisions: pd.DataFrame, closes: dict[str, pd.Series], horizon: int, step: pd.Timedelta | None = None
) -> pd.Series:
    """Per decision row (symbol, bar_time): the close `horizon` bars later over the decision bar's
    close, minus 1. With `step` (the bar length) "later" is in time and a missing bar counts at the last
    close before it (as a gap-filled grid has it), so raw and gap-filled candles give the same values;
    NaN where the data ends before that."""
    out = pd.Series(np.nan, index=decisions.index)
    for symbol, rows in decisions.groupby("symbol"):
        close = closes.get(symbol)
        if close is None or close.empty:
            continue
        close = close.dropna().sort_index()
        at = pd.DatetimeIndex(rows["bar_time"])
        if step is None:
            pos = close.index.get_indexer(at)
            ok = (pos >= 0) & (pos + horizon < len(close))
            later = np.where(ok, pos + horizon, 0)
        else:
            target = at + horizon * step
            pos = close.index.get_indexer(at)
            later = close.index.searchsorted(target, side="right") - 1  # the last close at or before it
            ok = (pos >= 0) & (target <= close.index[-1])
        values = close.to_numpy(dtype=float)
        r = np.full(len(rows), np.nan)
        r[ok] = values[later[ok]] / values[pos[ok]] - 1
        out.loc[rows.index] = r
    return out


@dataclass(frozen=True)
class Flag:
    flagged: bool
    evidence: dict[str, Any]


def agent_table(
    votes: pd.DataFrame, cfg: AgentsConfig, previous: dict[str, dict[str, Any]] | None = None
) -> pd.DataFrame:
    """One row per agent from vote rows with a `fwd_return` column (and optionally `trade_return`, the
    net return of the trade an entry decision led to). `previous`: each agent's last snapshot
    ({"flagged", "evidence"}) for the hysteresis."""
    rows = []
    for agent, g in votes.groupby("agent", sort=True):
        voted = g["vote"].notna()
        usable = voted & g["fwd_return"].notna()
        v, r = g.loc[usable, "vote"].to_numpy(float), g.loc[usable, "fwd_return"].to_numpy(float)
        directional = (v != 0) & (r != 0)
        hits = int((np.sign(v[directional]) == np.sign(r[directional])).sum())
        n_dir = int(directional.sum())
        lo, hi = wilson(hits, n_dir)
        ic = spearman_ic(v, r, cfg.min_ic)
        reasons = g.loc[~voted, "abstain"].fillna("").value_counts()
        row: dict[str, Any] = {
            "agent": agent,
            "decisions": len(g),
            "votes": int(voted.sum()),
            "abstention_rate": float(1 - voted.mean()) if len(g) else math.nan,
            "abstentions": {str(k): int(c) for k, c in reasons.items()},
            "directional": n_dir,
            "hit_rate": hits / n_dir if n_dir else math.nan,
            "hit_low": lo,
            "hit_high": hi,
            "n_ic": len(v),
            **ic,
        }
        if "trade_return" in g:
            traded = usable & g["trade_return"].notna()
            tr = g.loc[traded, "trade_return"]
            vv = g.loc[traded, "vote"]
            row["trades_for"] = int((vv > 0).sum())
            row["trades_against"] = int((vv <= 0).sum())
            row["mean_trade_for"] = float(tr[vv > 0].mean()) if (vv > 0).any() else math.nan
            row["mean_trade_against"] = float(tr[vv <= 0].mean()) if (vv <= 0).any() else math.nan
        rows.append(row)
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    return apply_flags(table, cfg, previous or {})


def apply_flags(table: pd.DataFrame, cfg: AgentsConfig, previous: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """p-values adjusted over the agents tested (those with an IC), flags with hysteresis."""
    table = table.copy()
    tested = table["p_value"].notna()
    k = int(tested.sum())
    adjusted = np.full(len(table), np.nan)
    if k:
        adjusted[tested.to_numpy()] = multipletests(
            table.loc[tested, "p_value"].to_numpy(), alpha=cfg.alpha, method=cfg.correction
        )[1]
    table["p_adjusted"] = adjusted
    flags = [decide_flag(row, cfg, k, previous.get(row["agent"])) for row in table.to_dict("records")]
    table["flagged"] = [f.flagged for f in flags]
    table["evidence"] = [f.evidence for f in flags]
    return table


def decide_flag(row: dict[str, Any], cfg: AgentsConfig, tested: int, before: dict[str, Any] | None) -> Flag:
    p_adj = row["p_adjusted"]
    enough = row["n_ic"] >= cfg.min_votes
    evidence_now = bool(enough and p_adj == p_adj and p_adj < cfg.alpha)
    clear = bool(p_adj == p_adj and p_adj >= cfg.alpha and row["ic"] == row["ic"] and row["ic"] >= cfg.min_ic)
    was = bool(before and before.get("flagged"))
    streak = int((before or {}).get("evidence", {}).get("clear_streak", 0)) + 1 if clear else 0
    if evidence_now:
        flagged, why = (
            True,
            (
                f"IC {row['ic']:+.3f} (95% CI {row['ic_low']:+.3f} to {row['ic_high']:+.3f}) is below the "
                f"minimum {cfg.min_ic:.3f}: adjusted p = {p_adj:.2g} < {cfg.alpha} over {tested} agents tested"
            ),
        )
    elif was and streak < cfg.reenable_after:
        flagged, why = (
            True,
            (
                f"stays flagged: clear in {streak} of the {cfg.reenable_after} consecutive snapshots a flag "
                "needs before it lifts"
            ),
        )
    elif not enough:
        flagged, why = (
            False,
            f"not enough evidence: {row['n_ic']} votes with an outcome, {cfg.min_votes} needed",
        )
    else:
        flagged, why = (
            False,
            (
                f"not flagged: IC {row['ic']:+.3f}, adjusted p = {p_adj:.2g} (flagged below {cfg.alpha})"
                + (" — the earlier flag lifted" if was else "")
            ),
        )
    evidence = {
        "test": FLAG_TEST,
        "correction": cfg.correction,
        "agents_tested": tested,
        "min_ic": cfg.min_ic,
        "alpha": cfg.alpha,
        "min_votes": cfg.min_votes,
        "n": int(row["n_ic"]),
        "ic": _num(row["ic"]),
        "z": _num(row.get("z")),
        "p_value": _num(row["p_value"]),
        "p_adjusted": _num(p_adj),
        "previously_flagged": was,
        "clear_streak": streak,
        "reenable_after": cfg.reenable_after,
        "reason": why,
    }
    return Flag(flagged, evidence)


def _num(x: Any) -> float | None:
    return None if x is None or x != x else float(x)


def vote_matrix(votes: pd.DataFrame) -> pd.DataFrame:
    """Decisions x agents of votes (NaN: abstained), for correlations between agents."""
    return votes.pivot_table(index="decision_id", columns="agent", values="vote", aggfunc="first")


def ic_over_time(votes: pd.DataFrame, freq: str = "1D", min_obs: int = 10) -> pd.DataFrame:
    """Per agent, the Spearman IC of the decisions within each `freq` period (NaN with fewer than
    min_obs votes in it): how an agent's information holds up over time."""
    usable = votes.dropna(subset=["vote", "fwd_return"])
    if usable.empty:
        return pd.DataFrame()
    period = pd.DatetimeIndex(usable["bar_time"]).floor(freq)

    def ic(g: pd.DataFrame) -> float:
        if len(g) < min_obs or g["vote"].nunique() < 2 or g["fwd_return"].nunique() < 2:
            return math.nan
        return float(stats.spearmanr(g["vote"], g["fwd_return"]).statistic)

    out = usable.assign(period=period).groupby(["period", "agent"])[["vote", "fwd_return"]].apply(ic)
    return out.unstack("agent").sort_index()
