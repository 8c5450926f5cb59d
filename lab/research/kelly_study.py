"""The Kelly validation study of one strategy: its trade distribution against Kelly theory, and the
verdict on how the lab sizes it. What notebooks/kelly_validation.ipynb and `lab kelly` show.

Input: the strategy's signal record (per-trade returns per unit allocated, net of both fees, in the
order they closed) and the sizing decisions the Kelly sizer took on the same run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from lab.core import formatting as fmt
from lab.core.kelly import KellyRule
from lab.research import kelly as k

THEORY_GRID = 200
# With no edge there is nothing of the strategy's to simulate; the theory check then runs on this
# growth per trade, and every table and figure says it is an illustration.
ILLUSTRATIVE_G = 0.001
HORIZON = 3000.0  # trades ahead in the Monte Carlo, at least


def horizon_for(c: float, g: float) -> float:
    """Long enough that nearly every path has halved or doubled (six times the expected time to double)."""
    return max(HORIZON, 6 * math.log(2) / (c * (2 - c) * g))


@dataclass
class KellyStudy:
    returns: np.ndarray
    fractions: tuple[float, ...]  # multiples of f* compared
    f_star: float  # empirical argmax of g
    f_star_formula: float  # p/a − q/b
    g_star: float  # growth per trade at f*
    band: dict[str, float]
    curve: pd.DataFrame  # f, g(f)
    fraction_table: pd.DataFrame  # per multiple: theory vs the trades' own growth
    monte_carlo: list[k.MonteCarlo]
    monte_carlo_table: pd.DataFrame
    trade_paths: list[dict]
    estimation_error: pd.DataFrame
    sizing: pd.DataFrame
    verdict: str
    simulated_g: float = 0.0  # the growth per trade the Monte Carlo ran on
    illustrative: bool = False  # True when the strategy has no edge and simulated_g is ILLUSTRATIVE_G
    summary: dict[str, float] = field(default_factory=dict)

    def summary_table(self) -> pd.DataFrame:
        """The trade distribution and f*, formatted (lab.core.formatting)."""
        s = self.summary
        return pd.DataFrame(
            [
                {
                    "trades": fmt.count(s["trades"]),
                    "win rate": fmt.pct(s["win rate"]),
                    "mean win": fmt.pct(s["mean win"], 2),
                    "mean loss": fmt.pct(s["mean loss"], 2),
                    "mean return": fmt.pct(s["mean return"], 3, signed=True),
                    "worst trade": fmt.pct(s["worst trade"], 2),
                    "f* (argmax g)": f"{self.f_star:.3f}",
                    "f* (p/a − q/b)": f"{self.f_star_formula:.3f}",
                    f"{self.band['level']:.0%} band": f"{self.band['low']:.3f} to {self.band['high']:.3f}",
                }
            ]
        )

    def headline(self) -> dict[str, Any]:
        """What the report index shows for this run."""
        sz = sizing_summary(self.sizing)
        facts = {
            "f*": f"{self.f_star:.3f}",
            "band": f"{self.band['low']:.3f}…{self.band['high']:.3f}",
            "trades": f"{len(self.returns):,}",
            "skipped": f"{sz.get('skipped', 0.0):.0%}" if sz.get("decisions") else "n/a",
        }
        return {"kind": "kelly", "facts": facts, "verdict": self.verdict}

    def simulation_basis(self) -> str:
        if self.illustrative:
            return (
                f"The strategy has no edge, so there is nothing of its own to simulate: the theory check below "
                f"runs on an illustrative edge of g* = {self.simulated_g} log growth per trade."
            )
        return f"Simulated on the strategy's own optimum growth g* = {self.simulated_g:.5f} per trade."

    def sizing_table(self) -> pd.DataFrame:
        sz = sizing_summary(self.sizing)
        return pd.DataFrame(
            [
                {
                    k: fmt.count(v) if k == "decisions" else (f"{v:.3f}" if "median" in k else fmt.pct(v))
                    for k, v in sz.items()
                }
            ]
        )


def distribution_summary(r: np.ndarray) -> dict[str, float]:
    wins, losses = r[r > 0], r[r <= 0]
    return {
        "trades": float(len(r)),
        "win rate": float(len(wins) / len(r)) if len(r) else math.nan,
        "mean win": float(wins.mean()) if len(wins) else math.nan,
        "mean loss": float(-losses.mean()) if len(losses) else math.nan,
        "mean return": float(r.mean()) if len(r) else math.nan,
        "worst trade": float(r.min()) if len(r) else math.nan,
    }


def study(
    returns: np.ndarray | pd.Series,
    sizing: pd.DataFrame,
    *,
    fractions: tuple[float, ...] = (0.25, 0.5, 1.0),
    n_sims: int = 2000,
    seed: int = 0,
    rule: KellyRule | None = None,
) -> KellyStudy:
    """`rule`: the sizer's settings (config.sizing.rule()), for the verdict on how it sizes."""
    r = np.asarray(returns, dtype=float)
    if len(r) < 10:
        raise ValueError(
            f"the Kelly study needs at least 10 closed trades in the signal record, got {len(r)}"
        )
    f_star = k.empirical_kelly(r)
    g_star = float(k.growth(f_star, r)[0]) if f_star > 0 else 0.0
    band = k.bootstrap_kelly(r, max(200, n_sims // 4), seed)
    top = max(f_star * 2.2, 0.05) if f_star > 0 else 1.0
    f_grid = np.linspace(0, min(top, k.max_fraction(r) * 0.999), THEORY_GRID)
    curve = pd.DataFrame({"f": f_grid, "g": k.growth(f_grid, r)})
    rows, mcs, paths = [], [], []
    g_sim = g_star if g_star > 0 else ILLUSTRATIVE_G
    for i, c in enumerate(fractions):
        f = c * f_star
        g = float(k.growth(f, r)[0]) if f_star > 0 else 0.0
        rows.append(
            {
                "multiple of f*": c,
                "fraction allocated": f,
                "growth per trade": g,
                "share of optimum (trades)": g / g_star if g_star > 0 else math.nan,
                "share of optimum (theory)": k.growth_share(c),
                "P(ever at 1/2), theory": k.prob_ever_below(0.5, c),
                "P(halve before double), theory": k.prob_down_before_up(0.5, 2.0, c),
            }
        )
        # time in trades: one unit of time is one trade
        mcs.append(
            k.simulate_fraction(
                c, g_sim, horizon=horizon_for(c, g_sim), steps=1500, n_paths=n_sims, seed=seed + i
            )
        )
        if g_star > 0:
            paths.append(k.trade_paths(r, f, min(n_sims, 2000), seed=seed + 100 + i))
    mc_table = pd.DataFrame(
        [
            {
                "multiple of f*": m.c,
                "growth, theory": k.growth_share(m.c) * g_sim,
                "growth, simulated": m.growth,
                "± s.e.": m.growth_se,
                "horizon (trades)": horizon_for(m.c, g_sim),
                "P(at 1/2 by horizon), theory": k.prob_below_by(0.5, m.c, g_sim, horizon_for(m.c, g_sim)),
                "P(at 1/2), simulated": m.p_below,
                "P(halve before double), theory": k.prob_down_before_up(0.5, 2.0, m.c),
                "P(halve before double), simulated": m.p_down_first,
                "unresolved paths": m.unresolved,
            }
            for m in mcs
        ]
    )
    error = (
        pd.DataFrame(k.estimation_error_table(r, (0.25, 0.5, 1.0, 1.5, 2.0), max(50, n_sims // 20), seed))
        if f_star > 0
        else pd.DataFrame()
    )
    out = KellyStudy(
        returns=r,
        fractions=tuple(fractions),
        f_star=f_star,
        f_star_formula=band["f_star"],
        g_star=g_star,
        band=band,
        curve=curve,
        fraction_table=pd.DataFrame(rows),
        monte_carlo=mcs,
        monte_carlo_table=mc_table,
        trade_paths=paths,
        estimation_error=error,
        sizing=sizing,
        verdict="",
        simulated_g=g_sim,
        illustrative=g_star <= 0,
        summary=distribution_summary(r),
    )
    out.verdict = verdict(out, rule or KellyRule())
    return out


def sizing_summary(sizing: pd.DataFrame) -> dict[str, float]:
    """How the sizer treated the run's entries: Kelly-sized, fallback, skipped, and the cap binding."""
    n = len(sizing)
    if n == 0:
        return {"decisions": 0}
    kelly = sizing[sizing["reason"] == ""]
    return {
        "decisions": n,
        "kelly-sized": len(kelly) / n,
        "fallback": float(sizing["reason"].str.startswith("fallback").mean()),
        "skipped": float(sizing["skipped"].mean()),
        "cap binds (of Kelly-sized)": float(kelly["cap_bound"].mean()) if len(kelly) else math.nan,
        "median fraction (Kelly-sized)": float(kelly["fraction"].median()) if len(kelly) else math.nan,
    }


def verdict(s: KellyStudy, rule: KellyRule) -> str:
    """A plain paragraph, never more confident than the bootstrap band."""
    kelly_fraction, max_fraction, min_fraction = rule.kelly_fraction, rule.max_fraction, rule.min_fraction
    sz = sizing_summary(s.sizing)
    parts = []
    if s.f_star <= 0:
        parts.append(
            f"The signal record's {len(s.returns)} trades show no edge after costs (mean return "
            f"{s.summary['mean return']:+.3%} per trade): Kelly allocates nothing, and the sizer skips once it has enough trades."
        )
    else:
        sure = (
            "the band excludes zero"
            if s.band["low"] > 0
            else "the band includes zero: the edge is not established"
        )
        parts.append(
            f"Over {len(s.returns)} trades, f* = {s.f_star:.3f} of capital per trade (formula p/a − q/b: "
            f"{s.f_star_formula:.3f}; {s.band['level']:.0%} bootstrap band {s.band['low']:.3f} to "
            f"{s.band['high']:.3f}, {sure})."
        )
        used = kelly_fraction * s.f_star
        clamp = (
            f"above the {max_fraction:.0%} cap, which binds"
            if used > max_fraction
            else (
                f"below the {min_fraction:.0%} minimum, so trades are skipped"
                if used < min_fraction
                else "inside the clamp"
            )
        )
        parts.append(f"{kelly_fraction:.0%} Kelly on the full record allocates {used:.3f}: {clamp}.")
    if sz.get("decisions"):
        parts.append(
            f"On this run the sizer took {int(sz['decisions'])} decisions: {sz['kelly-sized']:.0%} Kelly-sized, "
            f"{sz['fallback']:.0%} on the fixed fallback (too few trades yet), {sz['skipped']:.0%} skipped"
            + (
                f"; the cap bound on {sz['cap binds (of Kelly-sized)']:.0%} of the Kelly-sized."
                if sz["kelly-sized"]
                else "."
            )
        )
    return " ".join(parts)
