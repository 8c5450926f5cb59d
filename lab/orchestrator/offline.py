"""The offline policy: deterministic rules on the same inputs as the model, answering in the same JSON.

It is the default without ANTHROPIC_API_KEY (so the whole cycle runs with no key) and the reference a
model's decisions can be compared with. Its rules act only on evidence with a named test:
- agents flagged by the agents' leaderboard (one-sided IC test, Holm-adjusted, lab.research.agent_stats)
  -> ADAPTATION: the ensemble with those agents at weight 0;
- a strategy whose closed trades lose money on average with a one-sided t-test p below `alpha`
  (at least `min_trades` trades) -> STRATEGY_UPDATE: its entry filter tightened by one parameter step;
- otherwise NO_CHANGE, saying which evidence is missing.
The same proposal is never made twice (the cycle tells it what was tried)."""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from typing import Any

from lab.orchestrator.context import by_name
from lab.orchestrator.llm import LLMError, LLMRequest, LLMResponse
from lab.research.agent_stats import wilson


@dataclass(frozen=True)
class OfflineRules:
    min_trades: int = 30  # closed trades before a loss is judged (the t-test needs a sample)
    alpha: float = 0.05  # one-sided significance of "loses on average"


def tighten_step(params: dict[str, dict[str, Any]]) -> tuple[str, float] | None:
    """The entry filter to tighten by one step: a *_min parameter up, else a *_max down (within range)."""
    for suffix, sign in (("_min", 1), ("_max", -1)):
        for name, p in params.items():
            if (
                name.endswith(suffix)
                and all(k in p for k in ("low", "high", "step"))
                and isinstance(p["default"], int | float)
            ):
                new = round(float(p["default"]) + sign * float(p["step"]), 10)
                if p["low"] <= new <= p["high"]:
                    return name, int(new) if isinstance(p["default"], int) else new
    return None


class OfflinePolicy:
    provider = "offline"

    def __init__(self, rules: OfflineRules | None = None) -> None:
        self.rules = rules or OfflineRules()

    def complete(self, request: LLMRequest) -> LLMResponse:
        handler = getattr(self, f"_{request.stage}", None)
        if handler is None:
            raise LLMError("bad_request", f"the offline policy has no rule for stage {request.stage!r}")
        body = handler(request.inputs)
        return LLMResponse(
            text=json.dumps(body, indent=1),
            model="offline-rules-1",
            provider=self.provider,
            stop_reason="end_turn",
        )

    # --- analyze ----------------------------------------------------------------------------------------

    def _analyze(self, inputs: dict[str, Any]) -> dict[str, Any]:
        items = inputs["items"]
        lines, observations = [], []
        for book in by_name(items, "truth_benchmark", "per_book") or []:
            n, wins = int(book.get("trades") or 0), int(book.get("wins") or 0)
            lo, hi = wilson(wins, n) if n else (0.0, 1.0)
            line = (
                f"{book.get('book')} ({book.get('strategy')}): {n} closed trades, win rate "
                f"{(wins / n if n else 0):.0%} [95% {lo:.0%}-{hi:.0%}], net P&L {float(book.get('net_pnl') or 0):+,.2f}, "
                f"max drawdown {float(book.get('max_drawdown') or 0):.1%}"
            )
            lines.append(line)
            if n:
                observations.append(line)
        act = by_name(items, "truth_benchmark", "activity") or {}
        hours = act.get("hours_since_last_signal")
        if hours is not None:
            lines.append(f"last entry signal {hours:.1f} h before the newest scan")
        for ev in by_name(items, "truth_benchmark", "promoter") or []:
            observations.append(
                f"promoter on {ev['shadow']}: {ev['decision']} after {ev['days']} days ({ev['reason']})"
            )
        flagged = sorted(
            {
                r["agent"]
                for r in by_name(items, "truth_benchmark", "agent_leaderboard") or []
                if r.get("flagged")
            }
        )
        if flagged:
            observations.append(f"agents flagged for an IC below the minimum: {', '.join(flagged)}")
        return {
            "thought": "offline rules read the benchmarks directly; no tool is needed",
            "action": "finish",
            "analysis": "\n".join(lines) or "no trading record yet",
            "observations": observations[:20],
        }

    # --- decide -----------------------------------------------------------------------------------------

    def _decide(self, inputs: dict[str, Any]) -> dict[str, Any]:
        items, tried = inputs["items"], inputs.get("tried", [])
        catalogue = {s["name"]: s for s in by_name(items, "constraint", "strategies") or []}
        board = by_name(items, "truth_benchmark", "agent_leaderboard") or []
        flagged = sorted({r["agent"] for r in board if r.get("flagged")})
        voting = next((s for s in catalogue.values() if s.get("voting")), None)
        if flagged and voting:
            weights = {a: 0.0 for a in flagged}
            key = _key("ADAPTATION", voting["name"], weights)
            if key not in tried:
                return {
                    "decision": "ADAPTATION",
                    "rationale": f"the agents' leaderboard flags {', '.join(flagged)} (one-sided IC test, adjusted for "
                    f"{len(board)} agents): {voting['name']} without them as a shadow",
                    "confidence": 0.6,
                    "target": voting["name"],
                    "weights": weights,
                }
        losing = self._losing(items)
        for book, strategy, p, n, mean in losing:
            entry = catalogue.get(strategy)
            step = tighten_step(entry["params"]) if entry else None
            if entry is None or step is None:
                continue
            key = _key("STRATEGY_UPDATE", strategy, {step[0]: step[1]})
            if key in tried:
                continue
            return {
                "decision": "STRATEGY_UPDATE",
                "rationale": f"{book} loses {mean:+.3%} per trade over {n} closed trades (one-sided t-test p = {p:.3g} "
                f"< {self.rules.alpha}); tighten its entry filter {step[0]} to {step[1]}",
                "confidence": round(1 - p, 3),
                "target": strategy,
                "parameters": {step[0]: step[1]},
                "change_request": f"set the default of parameter {step[0]} to {step[1]}",
            }
        why = "no book loses with significance and no agent is flagged"
        if losing or flagged:
            why = "the rules' proposals for this evidence were tried already"
        return {"decision": "NO_CHANGE", "rationale": why, "confidence": 0.7}

    def _losing(self, items: list[dict[str, Any]]) -> list[tuple[str, str, float, int, float]]:
        """Books whose trades lose on average: the context's one-sided t-test of trade returns."""
        out = []
        for row in by_name(items, "truth_benchmark", "expectancy_test") or []:
            n, p = int(row["trades"]), row.get("p_loss")
            if n >= self.rules.min_trades and p is not None and p < self.rules.alpha:
                out.append((str(row["book"]), str(row["strategy"]), float(p), n, float(row["mean_return"])))
        return sorted(out, key=lambda r: r[2])

    # --- generate ---------------------------------------------------------------------------------------

    def _generate(self, inputs: dict[str, Any]) -> dict[str, Any]:
        source, decision = inputs["parent_source"], inputs["decision"]
        edits = []
        for name, value in decision.get("parameters", {}).items():
            m = re.search(rf"^(\s*{re.escape(name)}\s*:\s*\w+\s*=\s*param\()\s*([^,]+),", source, re.M)
            if m is None:
                raise LLMError("bad_request", f"the parent declares no param() named {name!r}")
            edits.append({"find": m.group(0), "replace": f"{m.group(1)}{value!r},"})
        major, minor, _patch = (int(x) for x in inputs["parent_version"].split("."))
        return {
            "summary": decision.get("change_request", ""),
            "version": f"{major}.{minor + 1}.0",
            "edits": edits,
        }

    # --- review -----------------------------------------------------------------------------------------

    def _review(self, inputs: dict[str, Any]) -> dict[str, Any]:
        parent, candidate = inputs["parent_source"], inputs["candidate_source"]
        issues = []
        try:
            tree = ast.parse(candidate)
        except SyntaxError as exc:
            return {"approved": False, "issues": [f"syntax error: {exc.msg} (line {exc.lineno})"]}
        new_imports = _imports(tree) - _imports(ast.parse(parent))
        if new_imports:
            issues.append(f"new imports: {', '.join(sorted(new_imports))}")
        for call in (
            n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "param"
        ):
            try:
                default, low, high = (ast.literal_eval(a) for a in call.args[:3])
            except (ValueError, TypeError):
                issues.append(f"line {call.lineno}: param() with non-literal bounds")
                continue
            if not low <= default <= high:
                issues.append(f"line {call.lineno}: default {default} outside its range [{low}, {high}]")
        if re.search(r"\bshort\b|leverage|margin", inputs.get("diff", ""), re.I):
            issues.append("the diff mentions shorting, leverage or margin: long-only spot")
        return {
            "approved": not issues,
            "issues": issues,
            "math": "parameter defaults within their declared ranges" if not issues else "see issues",
            "long_only": "entries and exits only; nothing shorts",
            "contract": "same class, signals() unchanged" if not new_imports else "new imports",
        }


def _imports(tree: ast.AST) -> set[str]:
    return {ast.unparse(n) for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)}


def _key(kind: str, target: str, change: dict[str, Any]) -> str:
    return json.dumps([kind, target, sorted(change.items())], default=str)
